package tlsaudit

import (
	"strings"
	"testing"
)

// TestOutputsDeclared checks that Outputs returns exactly what OutputSpecs
// declares, and that the Doc of each map output names every key the map
// holds in a report with every part present.
func TestOutputsDeclared(t *testing.T) {
	r := &Report{
		Target:    &Target{Kind: "postgres", Host: "db", Port: 5432},
		Cert:      &CertFacts{},
		Server:    &ServerView{Session: &SessionSSL{}},
		Direct:    &DirectFacts{},
		Findings:  []Finding{{ID: "tls11-accepted", Severity: High}},
		Accepts:   map[string]bool{},
		Plaintext: PlaintextFacts{},
	}
	out := r.Outputs()
	declared := map[string]string{}
	for _, s := range OutputSpecs() {
		declared[s.Name] = s.Doc
		if _, ok := out[s.Name]; !ok {
			t.Errorf("declared output %s is not returned", s.Name)
		}
	}
	for name, v := range out {
		doc, ok := declared[name]
		if !ok {
			t.Errorf("output %s is not declared", name)
			continue
		}
		m, isMap := v.(map[string]any)
		if !isMap {
			continue
		}
		for key := range m {
			if !strings.Contains(doc, key) {
				t.Errorf("output %s: key %s is not in its doc: %s", name, key, doc)
			}
		}
	}
}
