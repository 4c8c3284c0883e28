package inventory

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner"
)

type noop struct{}

func (noop) Run(context.Context, *runner.StepContext) (runner.Outputs, error) { return nil, nil }

// testPlan has the params of plans/backup.yaml, with one of each kind
// Check distinguishes.
func testPlan(t *testing.T) *runner.Plan {
	t.Helper()
	reg := runner.NewRegistry(runner.Definition{Type: "noop", Kind: runner.KindAction, New: func() any { return &noop{} }})
	p, err := runner.Load("backup.yaml", []byte(`version: 1
params:
  db: {type: string, required: true, secret: true}
  dest: {type: string, default: "file://./backups"}
  name: {type: string, default: app}
  level: {type: int, default: 1}
  hosts: {type: list}
steps:
  a: {type: noop}
`), reg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const goodInventory = `version: 1
description: production databases
x-common: &common {level: 3}
defaults:
  params: {dest: "s3://backups/prod", <<: *common}
  labels: {env: prod, tier: silver}
targets:
  shop:
    params: {db: "postgres://backup@shop-db/shop", name: shop}
    labels: {tier: gold}
  crm:
    description: the CRM, password from a Kubernetes Secret
    params:
      db: "${{ env.CRM_DSN }}"
      dest: "s3://backups/crm"
      hosts: [a, b]
  wiki:
`

func TestLoadMergesDefaults(t *testing.T) {
	inv, err := Load("inv.yaml", []byte(goodInventory))
	if err != nil {
		t.Fatal(err)
	}
	if got := inv.Names(); !reflect.DeepEqual(got, []string{"shop", "crm", "wiki"}) {
		t.Fatalf("targets %v, want shop, crm, wiki in file order", got)
	}
	shop, crm, wiki := inv.Targets[0], inv.Targets[1], inv.Targets[2]
	if crm.Index != 1 || crm.Pos.Line != 11 {
		t.Errorf("crm index %d line %d, want 1 and 11", crm.Index, crm.Pos.Line)
	}
	if want := map[string]string{"env": "prod", "tier": "gold"}; !reflect.DeepEqual(shop.Labels, want) {
		t.Errorf("shop labels %v, want %v (its own over the defaults')", shop.Labels, want)
	}
	if v := shop.Params["dest"].Node.Value; v != "s3://backups/prod" {
		t.Errorf("shop dest %q, want the default", v)
	}
	if v := crm.Params["dest"].Node.Value; v != "s3://backups/crm" {
		t.Errorf("crm dest %q, want its own", v)
	}
	if v := wiki.Params["level"]; v == nil || v.Node.Value != "3" {
		t.Errorf("wiki level %v, want 3 through the merge key", v)
	}
	if got := crm.Env(); !reflect.DeepEqual(got, []string{"CRM_DSN"}) {
		t.Errorf("crm env %v, want [CRM_DSN]", got)
	}
	if err := inv.Check(testPlan(t), nil); err == nil || !strings.Contains(err.Error(), `inv.yaml:17:3: target "wiki": param "db" is required`) {
		t.Errorf("check: %v, want wiki's missing db", err)
	}
	if err := inv.Check(testPlan(t), func(n string) bool { return n == "db" }); err != nil {
		t.Errorf("check with db given elsewhere: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"empty", ``, []string{`inv.yaml:1:1: inventory is empty`}},
		{"structure", `version: 2
tragets: {}
defaults: {params: [], lables: {}}
`, []string{
			`inv.yaml:1:10: version must be 1, not "2"`,
			`inv.yaml:1:1: targets is missing`,
			`inv.yaml:2:1: field "tragets" not recognised (did you mean "targets"?)`,
			`inv.yaml:3:20: defaults: params must be a mapping, not a list`,
			`inv.yaml:3:24: defaults: field "lables" not recognised (did you mean "labels"?)`,
		}},
		{"targets", `version: 1
targets:
  Shop_DB: {}
  crm: {parms: {}, labels: {"bad key": x, tier: "not a value"}}
`, []string{
			`inv.yaml:3:3: target "Shop_DB": a target name must be lower-case letters`,
			`inv.yaml:4:9: target "crm": field "parms" not recognised (did you mean "params"?)`,
			`inv.yaml:4:29: target "crm": label "bad key": a label name is`,
			`inv.yaml:4:49: target "crm": label "tier": value "not a value" is not a label value`,
		}},
		{"duplicate", `version: 1
targets:
  dup: {}
  dup: {}
`, []string{`inv.yaml:4:3: duplicate key "dup" (first defined at line 3)`}},
		{"values", `version: 1
defaults:
  params:
    dest: "${{ params.other }}/x"
targets:
  shop:
    params:
      db: "postgres://backup:hunter2-secret@shop-db/shop"
      other: "host=db user=backup password=hunter2-secret"
      list: ["ok", "${{ env.A }}${{ 1 + 1 }}"]
      fine: "postgres://backup:${{ env.SHOP_PW }}@shop-db/shop"
`, []string{
			`inv.yaml:4:11: defaults: param "dest": ${{ params.other }} is not allowed in an inventory`,
			`inv.yaml:8:11: target "shop": param "db": holds a password in clear`,
			`inv.yaml:9:14: target "shop": param "other": holds a password in clear`,
			`inv.yaml:10:20: target "shop": param "list": ${{ 1 + 1 }} is not allowed`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("inv.yaml", []byte(tc.src))
			if err == nil {
				t.Fatal("want errors")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Errorf("%d errors, want %d:\n%v", len(lines), len(tc.want), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("errors lack %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("an error quotes the password:\n%v", err)
			}
		})
	}
}

func TestCheckAgainstPlan(t *testing.T) {
	inv, err := Load("inv.yaml", []byte(`version: 1
defaults:
  params: {dset: x, level: fast}
targets:
  shop:
    params: {db: "postgres://backup@shop/shop", levle: 2, hosts: single}
  crm:
    params: {db: "postgres://backup@crm/crm", level: "${{ env.CRM_LEVEL }}"}
`))
	if err != nil {
		t.Fatal(err)
	}
	err = inv.Check(testPlan(t), nil)
	want := []string{
		`inv.yaml:3:12: defaults: plan "backup" has no param "dset" (did you mean "dest"?)`,
		`inv.yaml:3:28: defaults: param "level": not an int`,
		`inv.yaml:6:49: target "shop": plan "backup" has no param "levle" (did you mean "level"?)`,
		`inv.yaml:6:66: target "shop": param "hosts": not a list`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("check:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

func TestResolveEnv(t *testing.T) {
	inv, err := Load("inv.yaml", []byte(`version: 1
targets:
  crm:
    params:
      db: "postgres://backup:${{ env.CRM_PW }}@crm-db/crm"
      level: "${{env.CRM_LEVEL}}"
      hosts: ["${{ env.CRM_HOST }}", b]
`))
	if err != nil {
		t.Fatal(err)
	}
	crm := inv.Targets[0]
	env := map[string]string{"CRM_PW": "s3cret-pw", "CRM_LEVEL": "7", "CRM_HOST": "h1"}
	vals, err := crm.Resolve(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	p := testPlan(t)
	got, err := runner.ResolveParams(p, runner.ParamSources{Target: vals, TargetFile: inv.File})
	if err != nil {
		t.Fatal(err)
	}
	if got["db"] != "postgres://backup:s3cret-pw@crm-db/crm" || got["level"] != 7 || !reflect.DeepEqual(got["hosts"], []any{"h1", "b"}) {
		t.Errorf("resolved %v", got)
	}
	if crm.Params["db"].Node.Value != "postgres://backup:${{ env.CRM_PW }}@crm-db/crm" {
		t.Errorf("Resolve changed the inventory: %q", crm.Params["db"].Node.Value)
	}
	delete(env, "CRM_LEVEL")
	env["CRM_PW"] = ""
	_, err = crm.Resolve(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	want := "inv.yaml:5:11: target \"crm\": param \"db\": environment variable CRM_PW is not set or empty (the inventory reads it with ${{ env.CRM_PW }})\n" +
		"inv.yaml:6:14: target \"crm\": param \"level\": environment variable CRM_LEVEL is not set or empty (the inventory reads it with ${{ env.CRM_LEVEL }})"
	if err == nil || err.Error() != want {
		t.Errorf("resolve with CRM_PW empty and CRM_LEVEL unset:\n%v\nwant:\n%s", err, want)
	}
}

func TestSelect(t *testing.T) {
	inv, err := Load("inv.yaml", []byte(goodInventory))
	if err != nil {
		t.Fatal(err)
	}
	names := func(ts []*Target) (out []string) {
		for _, t := range ts {
			out = append(out, t.Name)
		}
		return out
	}
	sel, err := ParseSelector("env=prod, tier=silver")
	if err != nil {
		t.Fatal(err)
	}
	got, err := inv.Select(nil, sel)
	if err != nil || !reflect.DeepEqual(names(got), []string{"crm", "wiki"}) {
		t.Errorf("select tier=silver: %v %v", names(got), err)
	}
	got, err = inv.Select([]string{"wiki", "shop"}, nil)
	if err != nil || !reflect.DeepEqual(names(got), []string{"shop", "wiki"}) {
		t.Errorf("select wiki, shop: %v %v, want file order", names(got), err)
	}
	if _, err := inv.Select([]string{"shopp"}, nil); err == nil || !strings.Contains(err.Error(), `no target "shopp" (did you mean "shop"?)`) {
		t.Errorf("unknown target: %v", err)
	}
	if _, err := inv.Select([]string{"shop"}, Selector{"tier": "silver"}); err == nil {
		t.Error("an empty selection is not an error")
	}
	if _, err := ParseSelector("tier"); err == nil {
		t.Error("selector without = accepted")
	}
	if tg, err := inv.ByIndex(2); err != nil || tg.Name != "wiki" {
		t.Errorf("index 2: %v %v", tg, err)
	}
	if _, err := inv.ByIndex(3); err == nil || !strings.Contains(err.Error(), "has 3 targets (0 to 2)") {
		t.Errorf("index 3: %v", err)
	}
}
