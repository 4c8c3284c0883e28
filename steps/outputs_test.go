package steps

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/runner/testenv"
	"github.com/sluice-dev/sluice/steps/keys"
	"github.com/sluice-dev/sluice/steps/pg"
)

// everyTypePlan runs every step type at least once, each kind of target or
// mode that changes which outputs a type returns once more: a throwaway
// PostgreSQL with TLS, a backup to file:// and its way back, the catalogue
// steps, a key rotation with a rewrap, a TLS audit, an overhead gate, exec,
// assert and a called plan. Every step must succeed.
const everyTypePlan = `version: 1
params:
  dest: {type: string}
keys:
  store: {path: "${{ params.keys }}"}
steps:
  db: {type: postgres, with: {tls: true}}
  dump: {type: dump, with: {url: "${{ steps.db.dsn }}"}}
  compress: {type: compress, input: dump}
  encrypt: {type: encrypt, input: compress, with: {key: store}}
  checksum: {type: checksum, input: encrypt}
  upload: {type: upload, input: checksum, with: {to: "${{ params.dest }}/app.dump.zst.age"}}

  download: {type: download, needs: [upload], with: {from: "${{ steps.upload.url }}"}}
  decrypt: {type: decrypt, input: download, with: {key: store}}
  decompress: {type: decompress, input: decrypt}
  restore:
    type: restore
    input: decompress
    with: {url: "${{ replace(steps.db.dsn_plain, '/app?', '/restored?') }}", create: true, verify: {one: "SELECT 1"}}
  latest: {type: download, needs: [upload], with: {from: "${{ params.dest }}", latest: true}}
  sink: {type: upload, input: latest, with: {to: "${{ params.dest }}-copy/app.dump.zst.age", allow_plaintext: true, unsigned: true}}
  ephemeral:
    type: restore
    needs: [restore]
    input: plain
    with: {target: ephemeral, format: auto}
  plain: {type: dump, needs: [restore], with: {url: "${{ steps.db.dsn }}", format: plain, schemas: [shop], args: [--no-owner, --no-privileges]}}

  # A backup in parts and its way back, in a folder of its own.
  pdump: {type: dump, needs: [restore], with: {url: "${{ steps.db.dsn }}", jobs: 2}}
  pencrypt: {type: encrypt, input: pdump, with: {key: store}}
  pupload: {type: upload, input: pencrypt, with: {to: "${{ params.dest }}-parts/app.dump.age"}}
  pdownload: {type: download, needs: [pupload], with: {from: "${{ steps.pupload.url }}", jobs: 2}}
  pdecrypt: {type: decrypt, input: pdownload, with: {key: store}}
  prestore: {type: restore, input: pdecrypt, with: {target: ephemeral}}

  verify: {type: verify, needs: [restore, sink], with: {from: "${{ params.dest }}", key: store}}
  prune: {type: prune, needs: [verify], with: {from: "${{ params.dest }}", keep_last: 1}}
  leftovers: {type: prune, needs: [verify], with: {from: "${{ params.dest }}", incomplete: true}}
  rotate:
    type: rotate-key
    needs: [prune, leftovers, latest, ephemeral, prestore]
    with: {key: store, type: x25519, rewrap: {dest: "${{ params.dest }}"}}

  tls: {type: check-tls, with: {target: "${{ steps.db.dsn_tls }}", fail_on: none, direct: true}}
  bench:
    type: measure
    with:
      targets: {plain: "${{ steps.db.dsn_plain }}", tls: "${{ steps.db.dsn_tls }}"}
      queries: ["SELECT 1"]
      rounds: 2
      iterations: 20
      warmup: 1
      max_duration: 30s
  overhead:
    type: assert-overhead
    with: {results: "${{ steps.bench.file }}", baseline: plain, candidate: tls, stat: [p50, p90, p95, p99, mean], enforce: false}

  run: {type: exec, with: {command: [echo, hello]}}
  gate: {type: assert, with: {message: the run holds}, assert: ["steps.run.exit_code == 0"]}
  call: {type: plan, with: {file: child.yaml, params: {n: 2}}}
`

const everyTypeChild = `version: 1
params:
  n: {type: int}
outputs:
  n: params.n
steps:
  check: {type: assert, assert: ["params.n > 0"]}
`

// TestIntegrationOutputsMatchDefinitions runs every step type and holds its
// outputs to its definition: a step returns no output it does not declare,
// returns every declared output that is not Conditional, and every
// Conditional output is returned by some step of the plan. A new step type
// fails the test until the plan runs it.
func TestIntegrationOutputsMatchDefinitions(t *testing.T) {
	if len(pg.FindTools("initdb")) == 0 {
		testenv.SkipUnlessCI(t, "PostgreSQL server programs (initdb, postgres) are not installed")
	}
	dir := t.TempDir()
	keyDir := filepath.Join(dir, "keys")
	if _, _, err := keys.InitDir(keyDir, keys.TypeX25519); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "child.yaml"), []byte(everyTypeChild), 0o600); err != nil {
		t.Fatal(err)
	}
	planFile := filepath.Join(dir, "every.yaml")
	src := strings.Replace(everyTypePlan, `"${{ params.keys }}"`, keyDir, 1)
	if err := os.WriteFile(planFile, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := Builtin()
	p, err := runner.LoadFile(planFile, reg)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := runner.Run(context.Background(), p, runner.RunOptions{
		Params:   map[string]any{"dest": "file://" + filepath.Join(dir, "backups")},
		StateDir: filepath.Join(dir, "state"),
	})
	if err != nil {
		for _, s := range rep.Steps {
			if s.Status != runner.StatusSucceeded {
				t.Errorf("step %s: %s: %s", s.ID, s.Status, s.Error)
			}
		}
		t.Fatalf("run: %v", err)
	}

	ran := map[string]bool{}
	returned := map[string]map[string]bool{} // type -> outputs some step returned
	for _, s := range rep.Steps {
		def, _ := reg.Lookup(s.Type)
		ran[s.Type] = true
		if returned[s.Type] == nil {
			returned[s.Type] = map[string]bool{}
		}
		for name := range s.Outputs {
			returned[s.Type][name] = true
		}
		undeclared, missing := def.CheckOutputs(s.Outputs)
		if len(undeclared) > 0 {
			t.Errorf("step %s (%s) returned outputs its definition does not declare: %s", s.ID, s.Type, strings.Join(undeclared, ", "))
		}
		if len(missing) > 0 {
			t.Errorf("step %s (%s) did not return declared outputs: %s (declare them Conditional if they depend on the parameters)", s.ID, s.Type, strings.Join(missing, ", "))
		}
	}
	for _, typ := range reg.Types() {
		if !ran[typ] {
			t.Errorf("step type %s is not in the plan of this test: add a step of it", typ)
			continue
		}
		def, _ := reg.Lookup(typ)
		var never []string
		for _, o := range def.Outputs {
			if o.Conditional && !returned[typ][o.Name] {
				never = append(never, o.Name)
			}
		}
		sort.Strings(never)
		if len(never) > 0 {
			t.Errorf("step type %s: no step of the plan returned its conditional outputs %s: add a step that does", typ, strings.Join(never, ", "))
		}
	}
}
