package steps

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"filippo.io/age"
	"github.com/sluice-dev/sluice/steps/agehdr"
	"github.com/sluice-dev/sluice/steps/blob"
	"github.com/sluice-dev/sluice/steps/catalog"
	"github.com/sluice-dev/sluice/steps/keys"
)

// Ways a backup is moved to the new key.
const (
	applyInPlace   = "in-place"  // file://, same-size header rewritten in place
	applyCopy      = "copy"      // new header, payload copied unchanged
	applyReencrypt = "reencrypt" // decrypted and encrypted with a new file key
)

// journalSuffix names a backup's rewrap journal, next to its object.
const journalSuffix = ".rewrap-journal.json"

// rewrapJournal is written (atomically) before a backup's object changes and
// removed after its manifest agrees again. A rerun that finds it finishes the
// switch: every step below is idempotent and rolls forward.
type rewrapJournal struct {
	Object       string   `json:"object"`
	Apply        string   `json:"apply"`
	OldHeaderLen int64    `json:"old_header_len"`
	NewHeader    []byte   `json:"new_header,omitempty"` // public: wrapped file keys only
	KeyIDs       []string `json:"key_ids"`
	Recipients   []string `json:"recipients"`
}

// rewrapper moves the backups under one destination to a store's active key.
type rewrapper struct {
	b       blob.Backend
	mode    string // "rewrap" or "reencrypt"
	verify  string // "first-chunk", "full" or "none"
	all     []age.Identity
	retired []age.Identity
	current []age.Identity
	rs      []age.Recipient
	active  keys.KeyInfo
	// retiredIDs are the key ids whose backups must move.
	retiredIDs map[string]bool
	// hook, set by tests, is called after each durable step; an error stops
	// the backup there as a crash would (nothing is cleaned up).
	hook func(point string) error
}

// rewrapResult counts what a rewrap did.
type rewrapResult struct {
	Rewrapped, Skipped []string
	Failed             []string // "url: error"
	InPlace, Copied    int
	StillOnRetired     []string
}

func newRewrapper(b blob.Backend, store keys.Store, mode, verify string) (*rewrapper, error) {
	ids, infos, err := store.Identities()
	if err != nil {
		return nil, err
	}
	rs, act, err := store.Recipients()
	if err != nil {
		return nil, err
	}
	r := &rewrapper{b: b, mode: mode, verify: verify, all: ids, rs: rs, active: act[0], retiredIDs: map[string]bool{}}
	for i, k := range infos {
		if k.ID == r.active.ID {
			r.current = append(r.current, ids[i])
			continue
		}
		r.retired = append(r.retired, ids[i])
		r.retiredIDs[k.ID] = true
	}
	return r, nil
}

func (r *rewrapper) point(p string) error {
	if r.hook == nil {
		return nil
	}
	return r.hook(p)
}

// needsMove reports whether a backup is encrypted to a retired key of ours.
func (r *rewrapper) needsMove(bk storedBackup) bool {
	return slices.ContainsFunc(bk.KeyIDs, func(id string) bool { return r.retiredIDs[id] })
}

// run moves every backup that needs it, finishing interrupted ones first.
func (r *rewrapper) run(ctx context.Context) (rewrapResult, error) {
	var res rewrapResult
	backups, err := listBackups(ctx, r.b)
	if err != nil {
		return res, err
	}
	for _, bk := range backups {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		url := r.b.URL(bk.Object)
		j, err := r.readJournal(ctx, bk.Object)
		switch {
		case err != nil:
		case j != nil:
			err = r.resume(ctx, bk, j)
		case !r.needsMove(bk):
			res.Skipped = append(res.Skipped, url)
			continue
		default:
			j, err = r.move(ctx, bk)
		}
		if err == nil && r.verify != "none" {
			err = r.check(ctx, bk.Object)
		}
		if err != nil {
			res.Failed = append(res.Failed, url+": "+err.Error())
			continue
		}
		res.Rewrapped = append(res.Rewrapped, url)
		if j.Apply == applyInPlace {
			res.InPlace++
		} else {
			res.Copied++
		}
	}
	after, err := listBackups(ctx, r.b)
	if err != nil {
		return res, err
	}
	for _, bk := range after {
		if r.needsMove(bk) {
			res.StillOnRetired = append(res.StillOnRetired, r.b.URL(bk.Object))
		}
	}
	return res, nil
}

// move plans the switch of one backup, journals it and carries it out.
func (r *rewrapper) move(ctx context.Context, bk storedBackup) (*rewrapJournal, error) {
	j := &rewrapJournal{Object: bk.Object, KeyIDs: []string{r.active.ID}, Recipients: []string{r.active.Recipient}}
	rc, err := r.b.Open(ctx, bk.Object)
	if err != nil {
		return nil, err
	}
	h, n, err := agehdr.Parse(rc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the age header: %w", err)
	}
	j.OldHeaderLen = n
	fk, err := agehdr.Unwrap(h, r.all...)
	if err != nil {
		return nil, fmt.Errorf("opening the header with the store's keys: %w", err)
	}
	defer clear(fk)
	if r.mode == "reencrypt" {
		j.Apply = applyReencrypt
	} else {
		nh, err := agehdr.Wrap(fk, r.rs...)
		if err != nil {
			return nil, err
		}
		_, local := localFile(r.b, bk.Object)
		if local && agehdr.Pad(nh, fk, int(n)) == nil {
			j.Apply = applyInPlace
		} else {
			j.Apply = applyCopy
		}
		if j.NewHeader, err = nh.Marshal(); err != nil {
			return nil, err
		}
	}
	data, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := r.b.Put(ctx, bk.Object+journalSuffix, data, blob.CreateOptions{Overwrite: true}); err != nil {
		return nil, fmt.Errorf("writing the rewrap journal: %w", err)
	}
	if err := r.point("journaled"); err != nil {
		return nil, err
	}
	return j, r.resume(ctx, bk, j)
}

// readJournal returns the journal of object, or nil when there is none.
func (r *rewrapper) readJournal(ctx context.Context, object string) (*rewrapJournal, error) {
	data, err := catalog.ReadSmall(ctx, r.b, object+journalSuffix)
	if errors.Is(err, blob.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var j rewrapJournal
	if err := json.Unmarshal(data, &j); err != nil || j.Object != object {
		return nil, fmt.Errorf("rewrap journal %s is unreadable (%v): inspect it and the object by hand", r.b.URL(object+journalSuffix), err)
	}
	return &j, nil
}

// localFile returns the file-system path of a file:// object.
func localFile(b blob.Backend, name string) (string, bool) {
	if _, ok := b.(*blob.File); !ok {
		return "", false
	}
	return strings.CutPrefix(b.URL(name), "file://")
}

// hasPrefix reports whether the object starts with prefix.
func hasPrefix(ctx context.Context, b blob.Backend, name string, prefix []byte) (bool, error) {
	rc, err := b.Open(ctx, name)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	got := make([]byte, len(prefix))
	if _, err := io.ReadFull(rc, got); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return false, err
	}
	return bytes.Equal(got, prefix), nil
}
