package metrics

import (
	"os"
	"regexp"
	"testing"

	"gopkg.in/yaml.v3"
)

// Every metric the shipped alert rules read is one sluice writes, and every
// family sluice writes is documented.
func TestFamiliesMatchRulesAndDocs(t *testing.T) {
	b, err := os.ReadFile("../../docs/monitoring/sluice-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			for _, name := range regexp.MustCompile(`\bsluice_[a-z_]+`).FindAllString(r.Expr, -1) {
				n++
				if byName[name] == nil {
					t.Errorf("rule %s reads %s, which sluice does not write", r.Alert, name)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no metric found in the rules' expressions")
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
