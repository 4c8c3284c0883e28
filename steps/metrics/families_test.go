package metrics

import (
	"os"
	"regexp"
	"testing"
)

// Every metric the shipped alert rules read is one sluice writes, and every
// family sluice writes is documented.
func TestFamiliesMatchRulesAndDocs(t *testing.T) {
	rules, err := os.ReadFile("../../docs/monitoring/sluice-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range regexp.MustCompile(`\bsluice_[a-z_]+`).FindAllString(string(rules), -1) {
		if byName[name] == nil {
			t.Errorf("docs/monitoring/sluice-alerts.yml reads %s, which sluice does not write", name)
		}
	}
	doc, err := os.ReadFile("../../docs/monitoring/README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range Families {
		if !regexp.MustCompile("`" + f.Name + "`").Match(doc) {
			t.Errorf("docs/monitoring/README.md does not document %s", f.Name)
		}
	}
}
