package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
)

// backupsCommand reads and maintains the backups under a destination:
// list, verify, prune, sign, metrics.
func backupsCommand(a *app) *cobra.Command {
	return group("backups", "list, verify, prune and sign the backups under a destination, or print their metrics",
		backupsListCommand(a), backupsVerifyCommand(a), backupsPruneCommand(a), backupsSignCommand(a), backupsMetricsCommand(a))
}

// openDest parses the one positional argument, a destination folder URL.
func openDest(cmd string, pos []string) (blob.Backend, error) {
	if len(pos) != 1 {
		return nil, usagef("backups %s takes one destination folder (file://..., a path or s3://BUCKET/PREFIX)", cmd)
	}
	return blob.OpenRoot(pos[0])
}

// openTrusted opens the destination folder of `backups cmd` and returns it
// with the trust its manifests are checked against (see trustFlags).
func (f *trustFlags) openTrusted(a *app, cmd string, pos []string) (blob.Backend, catalog.Trust, error) {
	b, err := openDest(cmd, pos)
	if err != nil {
		return nil, catalog.Trust{}, err
	}
	trust, err := f.trust(a)
	return b, trust, err
}

// readCatalog reads the catalogue of the destination folder of `backups
// cmd`, its manifests checked against the trust the flags give, and the
// destination's unfinished uploads.
func (f *trustFlags) readCatalog(ctx context.Context, a *app, cmd string, pos []string) (*catalog.Catalog, []blob.Upload, error) {
	b, trust, err := f.openTrusted(a, cmd, pos)
	if err != nil {
		return nil, nil, err
	}
	c, err := catalog.Read(ctx, b, trust)
	if err != nil {
		return nil, nil, err
	}
	ups, err := catalog.Unfinished(ctx, b)
	return c, ups, err
}

// signalContext is cancelled by SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// backupJSON is one backup in `backups list --json`.
type backupJSON struct {
	Name           string    `json:"name"`
	URL            string    `json:"url"`
	Created        time.Time `json:"created"`
	Plan           string    `json:"plan"`
	RunID          string    `json:"run_id"`
	Database       string    `json:"database,omitempty"`
	PlaintextBytes int64     `json:"plaintext_bytes"`
	StoredBytes    int64     `json:"stored_bytes"`
	KeyIDs         []string  `json:"key_ids"`
	Digest         string    `json:"digest,omitempty"`
	Verified       string    `json:"verified,omitempty"` // level of a current verify record
	// Signature is how the manifest passed the signature gate.
	Signature catalog.Signature `json:"signature"`
	Files     []string          `json:"files"` // sidecars, signature, verify record
	// Parts are the objects of a backup in parts, in restore order (its
	// name is then the manifest's, no object's).
	Parts []string `json:"parts,omitempty"`

	// ManifestBytes is the size the manifest records; SizeMismatch says
	// the object's differs (see sizeProblem).
	ManifestBytes int64 `json:"manifest_stored_bytes"`
	SizeMismatch  bool  `json:"size_mismatch,omitempty"`
}

type incompleteJSON struct {
	Name          string    `json:"name"`
	URL           string    `json:"url"`
	Size          int64     `json:"size"`
	Modified      time.Time `json:"modified"`
	Files         []string  `json:"files"`
	ObjectMissing bool      `json:"object_missing,omitempty"`
}

// otherJSON is a file sluice did not write: listed, never pruned.
type otherJSON struct {
	Name     string    `json:"name"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
}

// uploadJSON is an unfinished upload: a pending file a killed run left on
// file://, a multipart upload on s3://.
type uploadJSON struct {
	Name    string    `json:"name"`
	ID      string    `json:"id"`
	Started time.Time `json:"started"`
}

type listJSON struct {
	Root       string            `json:"root"`
	Backups    []backupJSON      `json:"backups"`
	Incomplete []incompleteJSON  `json:"incomplete"`
	Uploads    []uploadJSON      `json:"uploads"`
	Problems   []catalog.Problem `json:"problems"`
	Other      []otherJSON       `json:"other"`
}

func backupsListCommand(a *app) *cobra.Command {
	c := withJSON(&cobra.Command{Use: "list DEST", Short: "list the backups under a destination: signatures, sizes, problems"})
	fs := c.Flags()
	keyDir := fs.String("key-dir", "", "key store whose verification keys check each manifest's signature (public parts suffice)")
	tf := addTrustFlags(fs, keyDir)
	c.RunE = func(_ *cobra.Command, pos []string) error {
		ctx, stop := signalContext()
		defer stop()
		c, ups, err := tf.readCatalog(ctx, a, "list", pos)
		if err != nil {
			return err
		}
		out := listJSON{Root: c.Root, Backups: []backupJSON{}, Incomplete: []incompleteJSON{}, Uploads: []uploadJSON{}, Problems: c.Problems, Other: []otherJSON{}}
		if out.Problems == nil {
			out.Problems = []catalog.Problem{}
		}
		for _, bk := range c.Backups {
			m := bk.Summary
			j := backupJSON{Name: bk.Name, URL: bk.URL, Created: m.Created, Plan: m.Plan, RunID: m.RunID, Database: m.Database,
				PlaintextBytes: m.PlaintextBytes, StoredBytes: bk.Object.Size, KeyIDs: bk.KeyIDs, Files: nonNil(bk.Related), Signature: bk.Signature}
			if m.Digest != nil {
				j.Digest = m.Digest.String()
			}
			if bk.Record != nil {
				j.Verified = bk.Record.Level
			}
			if bk.Parts != nil {
				j.Parts = bk.PartNames()
			}
			j.ManifestBytes = m.StoredBytes
			if p := sizeProblem(bk); p != nil {
				j.SizeMismatch = true
				out.Problems = append(out.Problems, *p)
			}
			out.Backups = append(out.Backups, j)
		}
		for _, in := range c.Incomplete {
			out.Incomplete = append(out.Incomplete, incompleteJSON{Name: in.Name, URL: in.URL, Size: in.Size, Modified: in.ModTime.UTC(),
				Files: nonNil(in.Related), ObjectMissing: in.ObjectMissing})
		}
		for _, o := range c.Other {
			out.Other = append(out.Other, otherJSON{Name: o.Name, Size: o.Size, Modified: o.ModTime.UTC()})
		}
		for _, u := range ups {
			out.Uploads = append(out.Uploads, uploadJSON{Name: u.Name, ID: u.ID, Started: u.Started.UTC()})
		}
		if a.globals.json {
			return writeJSON(a, out)
		}
		printList(a.stdout, out)
		return nil
	}
	return c
}

func printList(w io.Writer, l listJSON) {
	if len(l.Backups) == 0 {
		fmt.Fprintf(w, "no complete backup under %s\n", l.Root)
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CREATED\tNAME\tPLAN\tDATABASE\tPLAINTEXT\tSTORED\tKEYS\tDIGEST\tSIGNATURE\tVERIFIED")
		for _, b := range l.Backups {
			plain := "-"
			if b.PlaintextBytes > 0 {
				plain = runner.FormatBytes(b.PlaintextBytes)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.Created.UTC().Format("2006-01-02 15:04:05Z"), b.Name, b.Plan,
				dash(b.Database), plain, storedColumn(b), dash(strings.Join(b.KeyIDs, ",")), dash(shortDigest(b.Digest)), sigColumn(b.Signature), dash(b.Verified))
		}
		tw.Flush()
	}
	if len(l.Incomplete) > 0 {
		fmt.Fprintf(w, "\nincomplete (sluice's files without a manifest: an interrupted upload or prune):\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, in := range l.Incomplete {
			note := ""
			if in.ObjectMissing {
				note = "object gone; " + strings.Join(in.Files, ", ")
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", in.Name, runner.FormatBytes(in.Size), in.Modified.Format("2006-01-02 15:04:05Z"), note)
		}
		tw.Flush()
	}
	if len(l.Uploads) > 0 {
		fmt.Fprintf(w, "\nunfinished uploads (a killed run, or one writing now; prune --incomplete removes them once old enough):\n")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, u := range l.Uploads {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", u.Name, u.ID, u.Started.Format("2006-01-02 15:04:05Z"))
		}
		tw.Flush()
	}
	if len(l.Problems) > 0 {
		fmt.Fprintf(w, "\nproblems:\n")
		for _, p := range l.Problems {
			fmt.Fprintf(w, "  %s: %s\n", p.Manifest, p.Detail)
		}
	}
	if len(l.Other) > 0 {
		fmt.Fprintf(w, "\n%d other files, not named as sluice names its files (never pruned): %s\n", len(l.Other), otherNames(l.Other, 5))
	}
}

// otherNames joins the first n names, saying how many more --json lists.
func otherNames(others []otherJSON, n int) string {
	var names []string
	for i, o := range others {
		if i == n {
			names = append(names, fmt.Sprintf("and %d more (--json lists them)", len(others)-n))
			break
		}
		names = append(names, o.Name)
	}
	return strings.Join(names, ", ")
}

// storedColumn is the object's size, flagged when its manifest records
// another.
func storedColumn(b backupJSON) string {
	col := runner.FormatBytes(b.StoredBytes)
	if len(b.Parts) > 0 {
		col += fmt.Sprintf(" in %d parts", len(b.Parts))
	}
	if b.SizeMismatch {
		col += " (MISMATCH)"
	}
	return col
}

// sigColumn renders how a manifest passed the signature gate.
func sigColumn(s catalog.Signature) string {
	switch s.State {
	case catalog.SignatureValid:
		return s.KeyID
	case catalog.SignatureUnchecked:
		return "UNCHECKED"
	}
	return "UNSIGNED"
}

// shortDigest keeps the algorithm and 16 hex digits, for the table.
func shortDigest(d string) string {
	if alg, hx, ok := strings.Cut(d, ":"); ok && len(hx) > 16 {
		return alg + ":" + hx[:16]
	}
	return d
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// countWhere counts the elements of xs that match.
func countWhere[T any](xs []T, match func(T) bool) int {
	n := 0
	for _, x := range xs {
		if match(x) {
			n++
		}
	}
	return n
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
