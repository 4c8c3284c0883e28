package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/runner/testenv"
)

// instruction is one Containerfile instruction, continuation lines joined.
type instruction struct {
	op, args string
	stage    int // 0: the build stage, 1: the image
}

func readContainerfile(t *testing.T) ([]instruction, map[string]string) {
	t.Helper()
	f, err := os.Open(repoFile(t, "Containerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out  []instruction
		args = map[string]string{}
		cur  string
	)
	stage := -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur == "" && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur += strings.TrimSuffix(line, `\`) + " "
			continue
		}
		cur += line
		op, rest, _ := strings.Cut(cur, " ")
		cur = ""
		op = strings.ToUpper(op)
		if op == "FROM" {
			stage++
		}
		if op == "ARG" {
			k, v, _ := strings.Cut(rest, "=")
			args[k] = strings.Trim(v, `"`)
		}
		out = append(out, instruction{op: op, args: strings.TrimSpace(rest), stage: stage})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out, args
}

// TestContainerfile checks the image's recipe without building it (CI has
// no container engine): the files it copies exist, its Go matches go.mod,
// every Debian package it installs by name is in Debian's index for its
// release (this machine's), the commands it runs come with the image's
// required packages or the ones it installs, and it runs as the user the
// exported manifests expect. The PostgreSQL clients of other majors come
// from the PostgreSQL project's repository, which cannot be read offline:
// the test checks the set-up script Debian ships for it instead.
func TestContainerfile(t *testing.T) {
	ins, args := readContainerfile(t)
	testenv.LookPath(t, "apt-cache", "the packages are looked up in Debian's index")

	gomod, err := os.ReadFile(repoFile(t, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod); m == nil || string(m[1]) != args["GO_VERSION"] {
		t.Errorf("GO_VERSION %s does not match go.mod's go %s", args["GO_VERSION"], m)
	}
	osRelease, _ := os.ReadFile("/etc/os-release")
	if !strings.Contains(string(osRelease), "VERSION_CODENAME="+args["DEBIAN"]+"\n") {
		t.Errorf("the image is Debian %s but this machine is not: its package index cannot vouch for the packages", args["DEBIAN"])
	}

	var installed []string
	for _, in := range ins {
		switch in.op {
		case "COPY":
			if strings.HasPrefix(in.args, "--from=") {
				continue
			}
			f := strings.Fields(in.args)
			for _, src := range f[:len(f)-1] {
				if _, err := os.Stat(repoFile(t, src)); err != nil {
					t.Errorf("COPY %s: %v", src, err)
				}
			}
		case "RUN":
			if m := regexp.MustCompile(`go build .* (\./\S+)`).FindStringSubmatch(in.args); m != nil {
				if _, err := os.Stat(repoFile(t, m[1])); err != nil {
					t.Errorf("go build %s: %v", m[1], err)
				}
			}
			for _, m := range regexp.MustCompile(`apt-get install -y --no-install-recommends ([^;]+);`).FindAllStringSubmatch(in.args, -1) {
				for _, pkg := range strings.Fields(m[1]) {
					if !strings.Contains(pkg, "$") {
						installed = append(installed, pkg)
					}
				}
			}
		}
	}
	// The clients: Debian's own major must be among them; the others come
	// from PGDG (the loop in the RUN line).
	majors := strings.Fields(args["PG_MAJORS"])
	debianClient := false
	for _, v := range majors {
		if exec.Command("apt-cache", "show", "postgresql-client-"+v).Run() == nil {
			debianClient = true
		}
	}
	if len(majors) < 3 || !debianClient {
		t.Errorf("PG_MAJORS %q: want the supported majors, Debian's own among them", args["PG_MAJORS"])
	}
	if strings.Join(installed, " ") != "ca-certificates age zstd postgresql-common" {
		t.Errorf("packages installed by name: %v", installed)
	}
	for _, pkg := range installed {
		if out, err := exec.Command("apt-cache", "show", pkg).CombinedOutput(); err != nil || !strings.Contains(string(out), "Package: "+pkg) {
			t.Errorf("package %s is not in Debian's index (apt-get update?): %v %s", pkg, err, out)
		}
	}

	// Commands of the image's RUN: from packages every Debian image has
	// (priority required) or one it installs.
	for cmd, pkg := range map[string]string{"apt-get": "apt", "rm": "coreutils", "useradd": "passwd", "sh": "dash"} {
		out, err := exec.Command("apt-cache", "show", pkg).Output()
		if err != nil || !strings.Contains(string(out), "Priority: required") {
			t.Errorf("%s: package %s is not of priority required: %v", cmd, pkg, err)
		}
	}
	const pgdgScript = "/usr/share/postgresql-common/pgdg/apt.postgresql.org.sh"
	if !strings.Contains(readAll(ins), pgdgScript+" -y") {
		t.Errorf("the image does not set up PGDG with %s", pgdgScript)
	}
	if out, err := exec.Command("dpkg", "-L", "postgresql-common").Output(); err == nil {
		if !strings.Contains(string(out), pgdgScript+"\n") || !strings.Contains(string(out), "apt.postgresql.org.gpg\n") {
			t.Errorf("postgresql-common does not ship %s and its key", pgdgScript)
		}
	} else {
		testenv.LookPath(t, "pg_ctlcluster", "postgresql-common's file list is read from the installed package")
	}

	// The binary it copies is what it runs, as the user the manifests use.
	all := readAll(ins)
	if !strings.Contains(all, "COPY --from=build /out/sluice /usr/local/bin/sluice") || !strings.Contains(all, `ENTRYPOINT ["/usr/local/bin/sluice"]`) {
		t.Error("the image's entrypoint is not the binary it builds")
	}
	if !strings.Contains(all, "USER 65532:65532") || !strings.Contains(all, "--uid 65532") {
		t.Error("the image does not run as uid 65532")
	}
	dir := t.TempDir()
	inv := filepath.Join(dir, "inv.yaml")
	os.WriteFile(inv, []byte("version: 1\ntargets:\n  a: {params: {db: \"postgres://x@a/a\"}}\n"), 0o600)
	r := mustSluice(t, "export", repoFile(t, "plans/backup.yaml"), "--to", "kubernetes", "--inventory", inv, "--image", "x")
	if !strings.Contains(r.stdout, "runAsUser: 65532") || !strings.Contains(r.stdout, "workingDir: /work") {
		t.Error("the exported manifests do not run as the image's user in its working directory")
	}
}

func readAll(ins []instruction) string {
	var b strings.Builder
	for _, in := range ins {
		b.WriteString(in.op + " " + in.args + "\n")
	}
	return b.String()
}
