package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/runner/testenv"
)

// chromiumArgs are the flags that work on the project's machines: no
// sandbox (root), no GPU, and no background network traffic.
func chromiumArgs(t *testing.T, extra ...string) []string {
	return append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}, extra...)
}

// TestIntegrationQuickstartHTMLInChromium runs the quickstart plan (a real
// throwaway PostgreSQL, backup and restore drill), renders its HTML report
// with `run --report`, and loads it in headless Chromium: the page must
// render without console errors, show the verdict, the DAG with every step
// and the timeline, and give a screenshot. SLUICE_UPDATE_SCREENSHOT=1 copies
// the screenshot to docs/quickstart-report.png.
func TestIntegrationQuickstartHTMLInChromium(t *testing.T) {
	chromium := testenv.LookPath(t, "chromium", "headless Chromium renders the HTML report")
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(m) == 0 {
		testenv.LookPath(t, "initdb", "the quickstart starts a throwaway PostgreSQL")
	}
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	code := sluiceMain([]string{"run", filepath.Join(repo, "plans", "quickstart.yaml"), "--log-level", "warn",
		"--param", "dest=" + filepath.Join(dir, "backups"), "--report", "html=report.html,junit=junit.xml"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("quickstart exited %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	page := filepath.Join(dir, "report.html")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dom, errs, err := runChromium(ctx, chromium, chromiumArgs(t, "--dump-dom", "file://"+page))
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v\n%s", err, errs)
	}
	checkConsole(t, errs)
	for _, want := range []string{`<span class="verdict">PASS</span>`, `id="dag"`, `id="timeline"`, `id="streams"`, `Stream 1:`} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered page lacks %q", want)
		}
	}
	if n := strings.Count(dom, `<g class="node st-succeeded"`); n != 10 {
		t.Errorf("DAG shows %d succeeded steps, want the quickstart's 10", n)
	}

	shot := filepath.Join(dir, "report.png")
	_, errs, err = runChromium(ctx, chromium, chromiumArgs(t, "--hide-scrollbars", "--window-size=1100,1500", "--screenshot="+shot, "file://"+page))
	if err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, errs)
	}
	checkConsole(t, errs)
	png, err := os.ReadFile(shot)
	if err != nil || len(png) < 20_000 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("screenshot missing or empty (%d bytes): %v", len(png), err)
	}
	if os.Getenv("SLUICE_UPDATE_SCREENSHOT") == "1" {
		if err := os.WriteFile(filepath.Join(repo, "docs", "quickstart-report.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func runChromium(ctx context.Context, bin string, args []string) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// consoleError matches what Chromium logs for a page's console errors and
// uncaught exceptions; its own D-Bus and sandbox noise does not match.
var consoleError = regexp.MustCompile(`(?m)(:CONSOLE\(|Uncaught|ERR_FILE_NOT_FOUND|ERR_BLOCKED|Failed to load resource)`)

func checkConsole(t *testing.T, stderr string) {
	t.Helper()
	for _, line := range strings.Split(stderr, "\n") {
		if consoleError.MatchString(line) {
			t.Errorf("chromium console: %s", line)
		}
	}
}
