// Package export writes the manifests that run a plan over an inventory on
// a platform team's own engine: Argo Workflows (a WorkflowTemplate whose
// DAG has a task per target, and a CronWorkflow) or plain Kubernetes (an
// Indexed Job or CronJob, one index per target). Each target runs as one
// `sluice run` in one pod, so a target's streams never leave its process;
// sluice schedules nothing across machines itself.
//
// No secret value is ever written: environment variables come from a
// Secret the team creates (<name>-env), key stores from Secrets mounted
// read-only (only their public part where the plan only encrypts), and
// the plan and the inventory, which hold no secret in clear, go into a
// ConfigMap.
package export

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/runner/inventory"
)

// Engines are the values of Options.To.
const (
	Argo       = "argo"
	Kubernetes = "kubernetes"
)

// DefaultShardSize is how many targets one Argo workflow runs at most; a
// larger inventory is split into several workflows that share one
// concurrency limit (see docs/fleet.md for the arithmetic: a workflow's
// node status must stay well below etcd's 1.5 MiB object limit and Argo's
// 1 MB default, retries included).
const DefaultShardSize = 200

// Where things live in the pod.
const (
	configDir  = "/etc/sluice"
	workDir    = "/work"
	stateDir   = "/var/lib/sluice"
	secretsDir = "/var/run/secrets/sluice"
	runAsID    = 65532 // the image's non-root user
)

// Options say what to write.
type Options struct {
	To           string // Argo or Kubernetes
	Image        string // the sluice image
	Schedule     string // cron schedule; empty: a one-off Job / just the WorkflowTemplate
	TimeZone     string // the schedule's time zone (IANA name); empty: the controller's
	Parallel     int    // targets at once
	Name         string // object name prefix; default "sluice-" + plan name
	ReportsClaim string // a PersistentVolumeClaim for run reports; empty: an emptyDir
	ShardSize    int    // Argo: targets per workflow; default DefaultShardSize
	// PlanFile and InventoryFile are the files' names; their contents go
	// into the ConfigMap as they are.
	PlanFile, InventoryFile     string
	PlanSource, InventorySource []byte
}

// fleet is what the writers of both engines share.
type fleet struct {
	plan     *runner.Plan
	inv      *inventory.Inventory // nil: the plan runs once
	opts     Options
	labels   map[string]string
	stores   []keyStore
	deadline int64 // a pod's active deadline in seconds; 0: none
}

// keyStore is one key store folder the pods need, and the Secret it comes
// from.
type keyStore struct {
	Path    string // relative to the working directory, cleaned
	Secret  string
	Private bool
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// Write writes the manifests for plan p (and inventory inv, which may be
// nil) to w as one multi-document YAML stream, with a comment saying what
// to create before applying it.
func Write(w io.Writer, p *runner.Plan, inv *inventory.Inventory, opts Options) error {
	f, err := newFleet(p, inv, opts)
	if err != nil {
		return err
	}
	var objs []object
	switch opts.To {
	case Argo:
		objs = f.argo()
	case Kubernetes:
		objs = f.kubernetes()
	default:
		return fmt.Errorf("unknown engine %q: use argo or kubernetes", opts.To)
	}
	if _, err := io.WriteString(w, f.header()); err != nil {
		return err
	}
	for _, o := range objs {
		var b bytes.Buffer
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(o); err != nil {
			return fmt.Errorf("writing %s %s: %w", o.Kind, o.Metadata.Name, err)
		}
		if _, err := fmt.Fprintf(w, "---\n%s", b.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

func newFleet(p *runner.Plan, inv *inventory.Inventory, opts Options) (*fleet, error) {
	if opts.Name == "" {
		opts.Name = "sluice-" + strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(p.Name), "-"), "-")
	}
	if !nameRE.MatchString(opts.Name) || len(opts.Name) > 40 {
		return nil, fmt.Errorf("name %q: use lower-case letters, digits and '-', at most 40 characters (it prefixes Kubernetes object names)", opts.Name)
	}
	if opts.Parallel < 1 {
		return nil, fmt.Errorf("parallel must be at least 1, not %d", opts.Parallel)
	}
	if opts.ShardSize < 1 {
		opts.ShardSize = DefaultShardSize
	}
	if opts.Image == "" {
		return nil, fmt.Errorf("no image: give the sluice image built from the Containerfile")
	}
	if err := checkSchedule(opts.Schedule); err != nil {
		return nil, err
	}
	if err := checkNoSecrets(p, inv, opts); err != nil {
		return nil, err
	}
	for _, s := range p.Steps {
		if s.Calls != nil {
			// The pods get this plan's file and its key stores alone.
			return nil, fmt.Errorf("step %q runs the plan %s: a plan that calls plans cannot be exported yet; export the plan it calls, or run it with sluice run --inventory", s.ID, s.Calls.File)
		}
	}
	f := &fleet{plan: p, inv: inv, opts: opts, labels: map[string]string{
		"app.kubernetes.io/name": "sluice", "app.kubernetes.io/instance": opts.Name, "sluice.dev/plan": labelValue(p.Name),
	}}
	if d := p.Settings.Timeout; d > 0 {
		// The plan stops itself at its timeout; the pod's deadline leaves
		// time for starting and cleaning up.
		f.deadline = int64((d + 10*time.Minute).Seconds())
	}
	stores, err := keyStores(p, inv, opts.Name)
	if err != nil {
		return nil, err
	}
	f.stores = stores
	return f, nil
}

// checkSchedule accepts the five fields of cron and the @ shorthands both
// engines know.
func checkSchedule(s string) error {
	if s == "" {
		return nil
	}
	switch s {
	case "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly":
		return nil
	}
	if len(strings.Fields(s)) != 5 {
		return fmt.Errorf("schedule %q: want five cron fields (minute hour day-of-month month day-of-week), e.g. \"0 2 * * *\"", s)
	}
	return nil
}

// checkNoSecrets refuses to copy a plan or an inventory that holds a
// secret in clear into a ConfigMap: a secret param with a default or with
// a value in the inventory (other than ${{ env.NAME }}, or a connection
// string without a password), or a password in a URL or connection string.
func checkNoSecrets(p *runner.Plan, inv *inventory.Inventory, opts Options) error {
	secret := map[string]bool{}
	for _, ps := range p.Params {
		if ps.Secret && ps.Default != nil {
			return fmt.Errorf("%s: secret param %q has a default: the plan would carry a secret into a ConfigMap; remove the default and give the value through the environment", ps.Pos, ps.Name)
		}
		secret[ps.Name] = ps.Secret
	}
	if inv != nil {
		for _, t := range inv.Targets {
			for _, name := range slices.Sorted(maps.Keys(t.Params)) {
				if v := t.Params[name]; secret[name] && !clearOfSecrets(v.Node) {
					return fmt.Errorf("%s: target %q gives the secret param %q in clear: it would go into a ConfigMap; give it through ${{ env.NAME }} and the %s-env Secret", v.Pos, t.Name, name, opts.Name)
				}
			}
		}
	}
	for file, src := range map[string][]byte{opts.PlanFile: opts.PlanSource, opts.InventoryFile: opts.InventorySource} {
		for _, pw := range runner.Passwords(string(src)) {
			if !strings.Contains(pw, "${{") {
				return fmt.Errorf("%s holds a password in clear: it would go into a ConfigMap; give it through ${{ env.NAME }} and the %s-env Secret", file, opts.Name)
			}
		}
	}
	return nil
}

// keywordDSN is libpq's key=value form, by its first keyword (not any
// text with '=': a base64 token ends with one).
var keywordDSN = regexp.MustCompile(`^\s*(host|hostaddr|port|dbname|user|service|sslmode|application_name|connect_timeout|options)\s*=`)

// clearOfSecrets tells whether every value in n is ${{ }} (the
// environment's, at run time) or a connection string without a password.
func clearOfSecrets(n *yaml.Node) bool {
	if n == nil {
		return true
	}
	if n.Kind != yaml.ScalarNode {
		for i, c := range n.Content {
			if n.Kind == yaml.MappingNode && i%2 == 0 {
				continue // a key: a name
			}
			if !clearOfSecrets(c) {
				return false
			}
		}
		return true
	}
	s := n.Value
	dsn := strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") || keywordDSN.MatchString(s)
	return strings.Contains(s, "${{") || dsn && len(runner.Passwords(s)) == 0
}

// safePathRE is what a key store path may hold: it is written into the
// init container's shell script.
var safePathRE = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)

// keyParamRE is a key store path that is one param.
var keyParamRE = regexp.MustCompile(`^\$\{\{\s*params\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}$`)

// keyStores lists the key store folders the targets use: a plan's keys:
// path, or the value its param takes per target (the inventory's, else the
// plan's default). Each must be relative to the working directory, where
// an init container copies it from its Secret.
func keyStores(p *runner.Plan, inv *inventory.Inventory, name string) ([]keyStore, error) {
	private := p.PrivateKeys()
	byPath := map[string]*keyStore{}
	add := func(entry, dir string) error {
		clean := path.Clean(dir)
		if !safePathRE.MatchString(clean) {
			return fmt.Errorf("key store %q: path %q: use letters, digits, '.', '_', '-' and '/' only", entry, dir)
		}
		if path.IsAbs(clean) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
			return fmt.Errorf("key store %q: path %q must be a folder relative to the working directory (e.g. keys/%s), where the pod puts the store it copies from a Secret", entry, dir, entry)
		}
		ks := byPath[clean]
		if ks == nil {
			ks = &keyStore{Path: clean, Secret: dnsLabel(name + "-key-" + strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(clean), "-"), "-"))}
			byPath[clean] = ks
		}
		ks.Private = ks.Private || private[entry]
		return nil
	}
	for _, entry := range slices.Sorted(maps.Keys(p.Keys)) {
		kc := p.Keys[entry]
		if kc.Store != "dir" {
			return nil, fmt.Errorf("key store %q: store %q cannot be exported (only dir stores are mounted from Secrets)", entry, kc.Store)
		}
		m := keyParamRE.FindStringSubmatch(kc.Path)
		switch {
		case !strings.Contains(kc.Path, "${{"):
			if err := add(entry, kc.Path); err != nil {
				return nil, err
			}
		case m != nil:
			for _, dir := range paramValues(p, inv, m[1]) {
				if err := add(entry, dir); err != nil {
					return nil, err
				}
			}
		default:
			return nil, fmt.Errorf("key store %q: path %q: write it as a folder or as one ${{ params.NAME }} so that the export knows which Secret to mount", entry, kc.Path)
		}
	}
	out := make([]keyStore, 0, len(byPath))
	for _, dir := range slices.Sorted(maps.Keys(byPath)) {
		out = append(out, *byPath[dir])
	}
	return out, nil
}

// paramValues returns the distinct values param takes over the targets.
func paramValues(p *runner.Plan, inv *inventory.Inventory, param string) []string {
	def := ""
	for _, ps := range p.Params {
		if ps.Name == param && ps.Default != nil {
			def = fmt.Sprint(ps.Default)
		}
	}
	seen := map[string]bool{}
	var out []string
	addVal := func(v string) {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	if inv == nil {
		addVal(def)
		return out
	}
	for _, t := range inv.Targets {
		if v := t.Params[param]; v != nil && v.Node.Kind == yaml.ScalarNode {
			addVal(v.Node.Value)
		} else {
			addVal(def)
		}
	}
	return out
}

// envVars lists the environment variables the inventory reads.
func (f *fleet) envVars() []string {
	if f.inv == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, t := range f.inv.Targets {
		for _, e := range t.Env() {
			if !seen[e] {
				seen[e] = true
				out = append(out, e)
			}
		}
	}
	sort.Strings(out)
	return out
}

func (f *fleet) envSecret() string { return f.opts.Name + "-env" }

// header is the comment before the manifests: what they need that they
// cannot hold, and how to apply them.
func (f *fleet) header() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Generated by `sluice export %s --to %s`: %s", f.opts.PlanFile, f.opts.To, f.plan.Name)
	if f.inv != nil {
		fmt.Fprintf(&b, " over %d targets of %s", len(f.inv.Targets), f.opts.InventoryFile)
	}
	fmt.Fprintf(&b, ", %d at once.\n#\n# Create first (these manifests hold no secret value):\n", f.opts.Parallel)
	if env := f.envVars(); len(env) > 0 {
		fmt.Fprintf(&b, "#   kubectl create secret generic %s %s\n", f.envSecret(), envLiterals(env))
	} else {
		fmt.Fprintf(&b, "#   (optional) kubectl create secret generic %s --from-literal=NAME=VALUE ... (PGPASSWORD, AWS_ACCESS_KEY_ID, ...)\n", f.envSecret())
	}
	fmt.Fprintf(&b, "#   every key of Secret %s becomes an environment variable of each run (optional: true).\n", f.envSecret())
	for _, ks := range f.stores {
		if ks.Private {
			fmt.Fprintf(&b, "#   kubectl create secret generic %s --from-file=%s/   # the whole store, identities included: this plan decrypts or rotates\n", ks.Secret, ks.Path)
			continue
		}
		// No identity: the public files and the private signing key that
		// signs each manifest, as `keys export --role backup` copies them.
		fmt.Fprintf(&b, "#   sluice keys export %s %s.backup --role backup && kubectl create secret generic %s --from-file=%s.backup/   # no identity: this plan only encrypts and signs\n", ks.Path, ks.Secret, ks.Secret, ks.Secret)
	}
	if f.opts.ReportsClaim != "" {
		fmt.Fprintf(&b, "#   a PersistentVolumeClaim %s for the run reports (ReadWriteMany when pods may land on several nodes)\n", f.opts.ReportsClaim)
	}
	b.WriteString("# Then: kubectl apply -f THIS_FILE")
	if f.opts.To == Argo && f.opts.Schedule == "" {
		fmt.Fprintf(&b, " && argo submit --from workflowtemplate/%s", f.opts.Name)
	}
	b.WriteString("\n")
	return b.String()
}

func envLiterals(names []string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = "--from-literal=" + n + "=..."
	}
	return strings.Join(parts, " ")
}

// dnsLabel keeps a name within the 63 characters of a volume name: a
// longer one is cut and made unique again by a hash of the whole.
func dnsLabel(s string) string {
	if len(s) <= 63 {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return strings.TrimRight(s[:54], "-") + "-" + hex.EncodeToString(sum[:4])
}

// labelValue makes s a valid label value.
func labelValue(s string) string {
	v := strings.Trim(regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(s, "-"), "-_.")
	if len(v) > 63 {
		v = strings.TrimRight(v[:63], "-_.")
	}
	return v
}
