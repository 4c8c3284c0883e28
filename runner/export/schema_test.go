package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/sluice-dev/sluice/runner/testenv"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// The manifests are checked against the engines' own definitions, offline
// (no cluster): Kubernetes objects are decoded strictly into the k8s.io/api
// types (an unknown or misspelt field is an error, as the API server's
// strict field validation makes it), Argo's against the JSON Schema Argo
// publishes in its Go module, made strict the same way.

// Argo's schema comes from the argo-workflows Go module, fetched by `go
// mod download` and checked against the hash below (the module proxy
// serves only v4.0.5 of it here; v3 is refused). Only the JSON file is
// read: none of the module's code is built or run, so the security flaws
// reported for v4.0.5's server and controller do not reach this test. Its
// v1alpha1 WorkflowTemplate and CronWorkflow are the ones Argo 3.6 reads.
const (
	argoModule  = "github.com/argoproj/argo-workflows/v4"
	argoVersion = "v4.0.5"
	argoSum     = "h1:/1lru5oXUd+k6KEDUps6rLX5OKfi1jTfabgXTly/VFU="
)

var argoOnce struct {
	sync.Once
	schema *jsonschema.Schema
	err    error
}

// argoSchema returns Argo's published schema with every object definition
// closed (additionalProperties: false): the published file leaves them
// open, which would accept any misspelt field.
func argoSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	argoOnce.Do(func() { argoOnce.schema, argoOnce.err = loadArgoSchema() })
	if argoOnce.err != nil {
		testenv.SkipUnlessCI(t, "cannot get Argo's schema: %v", argoOnce.err)
	}
	return argoOnce.schema
}

func loadArgoSchema() (*jsonschema.Schema, error) {
	dir, err := os.MkdirTemp("", "argo-schema-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("go", "mod", "download", "-json", argoModule+"@"+argoVersion)
	cmd.Dir = dir // outside this module: go.mod is left alone
	out, err := cmd.Output()
	var mod struct{ Dir, Sum, Error string }
	if jerr := json.Unmarshal(out, &mod); jerr != nil || err != nil || mod.Error != "" {
		return nil, fmt.Errorf("go mod download %s@%s: %v %s %v", argoModule, argoVersion, err, mod.Error, jerr)
	}
	if mod.Sum != argoSum {
		return nil, fmt.Errorf("%s@%s has hash %s, want %s", argoModule, argoVersion, mod.Sum, argoSum)
	}
	f, err := os.Open(filepath.Join(mod.Dir, "api", "jsonschema", "schema.json"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, err
	}
	defs := doc.(map[string]any)["definitions"].(map[string]any)
	closed := 0
	for _, d := range defs {
		def := d.(map[string]any)
		if _, ok := def["properties"]; ok {
			if _, set := def["additionalProperties"]; !set {
				def["additionalProperties"] = false
				closed++
			}
		}
	}
	if closed < 100 {
		return nil, fmt.Errorf("closed only %d definitions: the schema's layout changed", closed)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("argo.schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("argo.schema.json")
}

// checkDoc checks one manifest: Kubernetes kinds by strict decoding, Argo
// kinds against Argo's schema. It returns the kind.
func checkDoc(t *testing.T, doc string) (string, error) {
	t.Helper()
	var head struct{ Kind string }
	if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
		return "", err
	}
	var target any
	switch head.Kind {
	case "ConfigMap":
		target = &corev1.ConfigMap{}
	case "Job":
		target = &batchv1.Job{}
	case "CronJob":
		target = &batchv1.CronJob{}
	case "WorkflowTemplate", "CronWorkflow":
		js, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			return head.Kind, err
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
		if err != nil {
			return head.Kind, err
		}
		return head.Kind, argoSchema(t).Validate(v)
	default:
		return head.Kind, fmt.Errorf("unexpected kind %q", head.Kind)
	}
	js, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		return head.Kind, err
	}
	// sigs.k8s.io/json is what the API server decodes with: field names
	// are case-sensitive (encoding/json would take readonly for readOnly)
	// and unknown or repeated fields are errors.
	strict, err := kjson.UnmarshalStrict(js, target)
	if err != nil {
		return head.Kind, err
	}
	return head.Kind, errors.Join(strict...)
}

func checkAll(t *testing.T, out string) map[string]int {
	t.Helper()
	kinds := map[string]int{}
	for _, d := range docs(out) {
		kind, err := checkDoc(t, d)
		if err != nil {
			t.Errorf("%s does not validate: %v\n%s", kind, err, d)
		}
		kinds[kind]++
	}
	return kinds
}

func TestKubernetesManifestsDecodeStrictly(t *testing.T) {
	retrying := strings.Replace(testInventory, "version: 1", "version: 1", 1)
	for _, schedule := range []string{"", "0 2 * * *"} {
		out := exportPlan(t, "backup.yaml", retrying, Options{To: Kubernetes, Schedule: schedule, TimeZone: "Europe/Berlin", Parallel: 2, ReportsClaim: "sluice-reports"})
		kinds := checkAll(t, out)
		var spec batchv1.JobSpec
		for _, d := range docs(out) {
			switch {
			case strings.Contains(d, "kind: Job\n"):
				var j batchv1.Job
				if err := yaml.UnmarshalStrict([]byte(d), &j); err != nil {
					t.Fatal(err)
				}
				spec = j.Spec
			case strings.Contains(d, "kind: CronJob\n"):
				var c batchv1.CronJob
				if err := yaml.UnmarshalStrict([]byte(d), &c); err != nil {
					t.Fatal(err)
				}
				if c.Spec.Schedule != schedule || c.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent || *c.Spec.TimeZone != "Europe/Berlin" {
					t.Errorf("cronjob: %+v", c.Spec)
				}
				spec = c.Spec.JobTemplate.Spec
			case strings.Contains(d, "kind: ConfigMap\n"):
				var cm corev1.ConfigMap
				if err := yaml.UnmarshalStrict([]byte(d), &cm); err != nil {
					t.Fatal(err)
				}
				plan, _ := os.ReadFile("../../plans/backup.yaml")
				if cm.Data["plan.yaml"] != string(plan) || cm.Data["inventory.yaml"] != retrying {
					t.Error("the ConfigMap does not hold the plan and the inventory as written")
				}
			}
		}
		wantKinds := map[string]int{"ConfigMap": 1, "Job": 1}
		if schedule != "" {
			wantKinds = map[string]int{"ConfigMap": 1, "CronJob": 1}
		}
		if fmt.Sprint(kinds) != fmt.Sprint(wantKinds) {
			t.Errorf("schedule %q: kinds %v, want %v", schedule, kinds, wantKinds)
		}
		if *spec.CompletionMode != batchv1.IndexedCompletion || *spec.Completions != 3 || *spec.Parallelism != 2 || *spec.BackoffLimitPerIndex != 0 {
			t.Errorf("job spec: mode %v completions %v parallelism %v backoffLimitPerIndex %v", *spec.CompletionMode, *spec.Completions, *spec.Parallelism, *spec.BackoffLimitPerIndex)
		}
		pod := spec.Template.Spec
		if pod.RestartPolicy != corev1.RestartPolicyNever || len(pod.Containers) != 1 || len(pod.InitContainers) != 1 {
			t.Fatalf("pod: %+v", pod)
		}
		args := strings.Join(pod.Containers[0].Args, " ")
		if !strings.Contains(args, "run /etc/sluice/plan.yaml --inventory /etc/sluice/inventory.yaml --target-index $(JOB_COMPLETION_INDEX)") {
			t.Errorf("args: %s", args)
		}
		if r := spec.PodFailurePolicy.Rules[0]; r.Action != batchv1.PodFailurePolicyActionFailIndex || fmt.Sprint(r.OnExitCodes.Values) != "[2 3 4]" {
			t.Errorf("pod failure policy: %+v", r)
		}
		for _, m := range pod.InitContainers[0].VolumeMounts {
			if strings.HasPrefix(m.Name, "sluice-backup-key-") && !m.ReadOnly {
				t.Errorf("key store Secret %s is mounted writable", m.Name)
			}
		}
		if v := pod.Volumes[3]; v.Name != "reports" || v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "sluice-reports" {
			t.Errorf("reports volume: %+v", v)
		}
	}
}

func TestArgoManifestsMatchArgoSchema(t *testing.T) {
	argoSchema(t)
	out := exportPlan(t, "backup.yaml", testInventory, Options{To: Argo, Schedule: "0 2 * * *", TimeZone: "UTC", Parallel: 2})
	if kinds := checkAll(t, out); fmt.Sprint(kinds) != "map[ConfigMap:1 CronWorkflow:1 WorkflowTemplate:1]" {
		t.Errorf("kinds %v", kinds)
	}
	for _, want := range []string{"parallelism: 2", "- name: crm\n            template: target", "- '{{inputs.parameters.target}}'", "workflowTemplateRef:\n      name: sluice-backup"} {
		if !strings.Contains(out, want) {
			t.Errorf("argo manifests lack %q", want)
		}
	}

	// settings.retry becomes the target template's retryStrategy.
	plan := "../../plans/backup.yaml"
	src, _ := os.ReadFile(plan)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "retry.yaml"), append(src, []byte("settings: {retry: {attempts: 3, backoff: 30s}, timeout: 2h}\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	out = exportFile(t, filepath.Join(dir, "retry.yaml"), "", Options{To: Argo, Parallel: 4})
	checkAll(t, out)
	for _, want := range []string{"retryStrategy:\n        limit: \"2\"\n        retryPolicy: Always", "asInt(lastRetry.exitCode) == 1", "duration: 30s", "activeDeadlineSeconds: \"7800\""} {
		if !strings.Contains(out, want) {
			t.Errorf("argo manifests lack %q:\n%s", want, out)
		}
	}
	out = exportFile(t, filepath.Join(dir, "retry.yaml"), "", Options{To: Kubernetes, Parallel: 4})
	checkAll(t, out)
	if !strings.Contains(out, "backoffLimitPerIndex: 2") || !strings.Contains(out, "activeDeadlineSeconds: 7800") {
		t.Errorf("kubernetes manifests lack the retries or the deadline:\n%s", out)
	}
}

// TestArgoShards exports an inventory larger than the shard size: several
// WorkflowTemplates and CronWorkflows, every target in exactly one, all
// behind one semaphore.
func TestArgoShards(t *testing.T) {
	argoSchema(t)
	var inv strings.Builder
	inv.WriteString("version: 1\ntargets:\n")
	for i := range 5 {
		fmt.Fprintf(&inv, "  db%d: {params: {db: \"postgres://backup@db%d/app\"}}\n", i, i)
	}
	out := exportPlan(t, "backup.yaml", inv.String(), Options{To: Argo, Schedule: "@daily", Parallel: 3, ShardSize: 2})
	if kinds := checkAll(t, out); fmt.Sprint(kinds) != "map[ConfigMap:2 CronWorkflow:3 WorkflowTemplate:3]" {
		t.Errorf("kinds %v, want 3 shards and the semaphore ConfigMap", kinds)
	}
	for i := range 5 {
		if n := strings.Count(out, fmt.Sprintf("- name: db%d\n", i)); n != 1 {
			t.Errorf("target db%d is in %d workflows", i, n)
		}
	}
	if n := strings.Count(out, "configMapKeyRef:\n              name: sluice-backup-parallelism\n              key: targets"); n != 3 {
		t.Errorf("%d target templates take the semaphore, want 3", n)
	}
	if !strings.Contains(out, "data:\n  targets: \"3\"") {
		t.Error("the semaphore does not allow --parallel targets")
	}
}

// TestSchemaChecksCatchMistakes proves the two checks fail on a misspelt
// or unknown field, so that their passing means something.
func TestSchemaChecksCatchMistakes(t *testing.T) {
	argoSchema(t)
	for _, tc := range []struct{ to, from, into string }{
		{Kubernetes, "backoffLimitPerIndex:", "backoffLimitPerIdx:"},
		{Kubernetes, "completionMode:", "completionMod:"},
		{Kubernetes, "readOnly: true", "readonly: true"},
		{Argo, "parallelism: 2", "paralellism: 2"},
		{Argo, "entrypoint: fleet", "entrypoint: fleet\n  retries: 3"},
		{Argo, "workingDir: /work", "workdir: /work"},
		{Argo, "schedules:", "schedule:"},
	} {
		out := exportPlan(t, "backup.yaml", testInventory, Options{To: tc.to, Schedule: "0 2 * * *"})
		if !strings.Contains(out, tc.from) {
			t.Fatalf("%s manifests lack %q", tc.to, tc.from)
		}
		bad := strings.Replace(out, tc.from, tc.into, 1)
		failed := false
		for _, d := range docs(bad) {
			if _, err := checkDoc(t, d); err != nil {
				failed = true
			}
		}
		if !failed {
			t.Errorf("%s: %q instead of %q passes the check", tc.to, tc.into, tc.from)
		}
	}
}
