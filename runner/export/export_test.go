package export

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/runner/inventory"
	"github.com/sluice-dev/sluice/steps"
)

// The secret values the tests put in the environment: none may reach a
// manifest, whatever the inventory reads.
const (
	crmDSN     = "postgres://backup:crm-Secret-pw-1@crm-db/crm"
	pgPassword = "pg-Secret-pw-2"
)

const testInventory = `version: 1
defaults:
  params: {dest: "s3://backups/prod?endpoint=https://minio.internal:9000"}
  labels: {env: prod}
targets:
  shop: {params: {db: "postgres://backup@shop-db/shop", name: shop}, labels: {tier: gold}}
  crm:  {params: {db: "${{ env.CRM_DSN }}", name: crm, keys: keys/crm}}
  wiki: {params: {db: "postgres://backup@wiki-db/wiki?passfile=/run/pgpass", name: wiki}}
`

// exportPlan exports the committed plan rel (under plans/) with an
// inventory (may be "") and returns the manifests as text.
func exportPlan(t *testing.T, rel, inv string, opts Options) string {
	t.Helper()
	return exportFile(t, filepath.Join("..", "..", "plans", rel), inv, opts)
}

// exportFile exports the plan file with an inventory (may be "").
func exportFile(t *testing.T, file, inv string, opts Options) string {
	t.Helper()
	t.Setenv("CRM_DSN", crmDSN)
	t.Setenv("PGPASSWORD", pgPassword)
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := runner.Load(file, src, steps.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	opts.PlanFile, opts.PlanSource = file, src
	if opts.Image == "" {
		opts.Image = "registry.example/sluice:1.2.3"
	}
	if opts.Parallel == 0 {
		opts.Parallel = 2
	}
	var in *inventory.Inventory
	if inv != "" {
		if in, err = inventory.Load("fleet.yaml", []byte(inv)); err != nil {
			t.Fatal(err)
		}
		if err := in.Check(p, nil); err != nil {
			t.Fatal(err)
		}
		opts.InventoryFile, opts.InventorySource = "fleet.yaml", []byte(inv)
	}
	var b bytes.Buffer
	if err := Write(&b, p, in, opts); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, secret := range []string{crmDSN, "crm-Secret-pw-1", pgPassword} {
		if strings.Contains(out, secret) {
			t.Fatalf("the manifests hold a secret value %q", secret)
		}
	}
	return out
}

// docs splits a YAML stream into its documents, each as written (the
// comment header before the first is not one).
func docs(s string) []string {
	var out []string
	for _, d := range strings.Split("\n"+s, "\n---\n")[1:] {
		out = append(out, d+"\n")
	}
	if len(out) > 0 {
		last := out[len(out)-1]
		out[len(out)-1] = last[:len(last)-1]
	}
	return out
}

func TestExportRefusesSecrets(t *testing.T) {
	reg := steps.Builtin()
	withDefault := `version: 1
params:
  token: {type: string, secret: true, default: "a-default-secret"}
steps:
  a: {type: assert, assert: ["true"]}
`
	p, err := runner.Load("p.yaml", []byte(withDefault), reg)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{To: Kubernetes, Image: "i", Parallel: 1, PlanFile: "p.yaml", PlanSource: []byte(withDefault)}
	if err := Write(&bytes.Buffer{}, p, nil, opts); err == nil || !strings.Contains(err.Error(), `secret param "token" has a default`) {
		t.Errorf("a plan with a secret default: %v", err)
	}
	inClear := `version: 1
params:
  db: {type: string, default: "postgres://u:in-clear-pw@db/x"}
steps:
  a: {type: assert, assert: ["true"]}
`
	p, err = runner.Load("p.yaml", []byte(inClear), reg)
	if err != nil {
		t.Fatal(err)
	}
	opts.PlanSource = []byte(inClear)
	if err := Write(&bytes.Buffer{}, p, nil, opts); err == nil || !strings.Contains(err.Error(), "holds a password in clear") {
		t.Errorf("a plan with a password in clear: %v", err)
	}

	// A secret param given in clear by the inventory would reach the
	// ConfigMap (readable with the view role, shown by Argo's UI); through
	// the environment, or a connection string without its password, it
	// does not.
	secretParam := `version: 1
params:
  token: {type: string, secret: true, required: true}
  db: {type: string, secret: true, required: true}
steps:
  a: {type: assert, assert: ["true"]}
`
	p, err = runner.Load("p.yaml", []byte(secretParam), reg)
	if err != nil {
		t.Fatal(err)
	}
	opts.PlanSource = []byte(secretParam)
	for inv, want := range map[string]string{
		"version: 1\ntargets:\n  a: {params: {token: tok-SUPER-SECRET-123, db: \"postgres://backup@shop-db/shop\"}}\n": `target "a" gives the secret param "token" in clear`,
		"version: 1\ntargets:\n  a: {params: {token: \"${{ env.TOKEN }}\", db: \"postgres://backup@shop-db/shop\"}}\n": "",
		"version: 1\ntargets:\n  a: {params: {token: \"${{ env.TOKEN }}\", db: \"service=shop\"}}\n":                   "",
		"version: 1\ntargets:\n  a: {params: {token: \"dG9rLVNVUEVSLVNFQ1JFVA==\", db: \"service=shop\"}}\n":           `gives the secret param "token" in clear`,
	} {
		in, err := inventory.Load("fleet.yaml", []byte(inv))
		if err != nil {
			t.Fatal(err)
		}
		opts.InventoryFile, opts.InventorySource = "fleet.yaml", []byte(inv)
		var out bytes.Buffer
		err = Write(&out, p, in, opts)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("inventory %q: %v; want %q", inv, err, want)
		}
		if strings.Contains(out.String(), "SUPER-SECRET") {
			t.Errorf("inventory %q: the secret reached the manifests", inv)
		}
	}
}

// TestExportRefusesCalls: the pods would get the calling plan's file and
// key stores, not those of the plans it calls.
func TestExportRefusesCalls(t *testing.T) {
	file := filepath.Join("..", "..", "plans", "backup-many.yaml")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := runner.LoadFile(file, steps.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{To: Argo, Image: "i", Parallel: 1, PlanFile: file, PlanSource: src}
	if err := Write(&bytes.Buffer{}, p, nil, opts); err == nil || !strings.Contains(err.Error(), `step "backup" runs the plan ../../plans/backup.yaml: a plan that calls plans cannot be exported yet`) {
		t.Errorf("exporting a composed plan: %v", err)
	}
}

func TestExportKeyStores(t *testing.T) {
	// backup.yaml only encrypts: the public part of each store the targets
	// use (the plan's default and crm's own), never an identity.
	out := exportPlan(t, "backup.yaml", testInventory, Options{To: Kubernetes})
	for _, want := range []string{
		"sluice keys export keys/backup sluice-backup-key-keys-backup.backup --role backup && kubectl create secret generic sluice-backup-key-keys-backup --from-file=sluice-backup-key-keys-backup.backup/",
		"sluice keys export keys/crm sluice-backup-key-keys-crm.backup --role backup && kubectl create secret generic sluice-backup-key-keys-crm --from-file=sluice-backup-key-keys-crm.backup/",
		"kubectl create secret generic sluice-backup-env --from-literal=CRM_DSN=...",
		// The signing key goes with the public files: the upload signs.
		"cp '/var/run/secrets/sluice/sluice-backup-key-keys-crm'/ledger.json '/var/run/secrets/sluice/sluice-backup-key-keys-crm'/*.pub '/work/keys/crm'/ && find '/var/run/secrets/sluice/sluice-backup-key-keys-crm'/ -maxdepth 1 -name 's-*.key' -exec cp {} '/work/keys/crm'/ ';'",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("manifests lack %q", want)
		}
	}
	if strings.Contains(out, "sluice-backup-key-keys-backup'/* ") || strings.Contains(out, "/*.key") || strings.Contains(out, "k-*.key") {
		t.Error("an encrypt-only plan copies identities")
	}
	// restore-drill.yaml decrypts: the whole store.
	out = exportPlan(t, "restore-drill.yaml", "", Options{To: Argo})
	if !strings.Contains(out, "--from-file=keys/backup/   # the whole store") || !strings.Contains(out, "cp '/var/run/secrets/sluice/sluice-restore-drill-key-keys-backup'/* '/work/keys/backup'/") {
		t.Errorf("a decrypting plan does not get its identities:\n%s", out)
	}
}

func TestExportNames(t *testing.T) {
	if got := dnsLabel(strings.Repeat("a", 40) + "-key-" + strings.Repeat("b", 40)); len(got) != 63 {
		t.Errorf("long name cut to %d characters: %s", len(got), got)
	}
	p := &runner.Plan{Name: "x", Keys: map[string]runner.KeyConfig{"k": {Name: "k", Store: "dir", Path: "/etc/keys"}}}
	if _, err := keyStores(p, nil, "sluice-x"); err == nil || !strings.Contains(err.Error(), "must be a folder relative to the working directory") {
		t.Errorf("an absolute key store path: %v", err)
	}
	p.Keys["k"] = runner.KeyConfig{Name: "k", Store: "dir", Path: "keys/$(reboot)"}
	if _, err := keyStores(p, nil, "sluice-x"); err == nil {
		t.Error("a key store path with shell syntax is accepted")
	}
	for _, bad := range []string{"0 2 * *", "daily"} {
		if err := checkSchedule(bad); err == nil {
			t.Errorf("schedule %q accepted", bad)
		}
	}
}
