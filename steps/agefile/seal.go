package agefile

import (
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
	"github.com/sluice-dev/sluice/runner"
	"github.com/sluice-dev/sluice/steps/keys"
)

// Recipients are the public keys a file is sealed to, with their canonical
// strings and key ids (the same index in each slice).
type Recipients struct {
	List   []age.Recipient
	Public []string
	KeyIDs []string
}

// ParseRecipients parses public recipients: X25519 (age1...), post-quantum
// hybrid (age1pq1...) or ssh (ssh-ed25519 / ssh-rsa). Post-quantum and
// classic recipients cannot be mixed: age refuses, because the file would
// be open to quantum attacks.
func ParseRecipients(list []string) (*Recipients, error) {
	rs := &Recipients{}
	pq := 0
	for i, s := range list {
		r, c, id, err := keys.ParseRecipient(s)
		if err != nil {
			return nil, fmt.Errorf("recipients[%d]: %w", i, err)
		}
		if keys.IsPostQuantum(c) {
			pq++
		}
		rs.List, rs.Public, rs.KeyIDs = append(rs.List, r), append(rs.Public, c), append(rs.KeyIDs, id)
	}
	if pq > 0 && pq < len(list) {
		return nil, errors.New("recipients mix post-quantum (age1pq1...) and classic keys; age refuses because the file would be open to quantum attacks: use only one kind")
	}
	return rs, nil
}

// StoreRecipients returns the recipients of the active key of the key
// store cfg (a plan's keys: entry).
func StoreRecipients(cfg runner.KeyConfig) (*Recipients, error) {
	store, err := keys.Open(cfg)
	if err != nil {
		return nil, err
	}
	list, infos, err := store.Recipients()
	if err != nil {
		return nil, fmt.Errorf("key store %q: %w", cfg.Name, err)
	}
	rs := &Recipients{List: list}
	for _, k := range infos {
		rs.Public, rs.KeyIDs = append(rs.Public, k.Recipient), append(rs.KeyIDs, k.ID)
	}
	return rs, nil
}

// Seal returns a writer that encrypts what is written to it to rs and
// writes the age file to w. Close flushes the last chunk; it does not close
// w.
func Seal(w io.Writer, rs *Recipients) (io.WriteCloser, error) {
	aw, err := age.Encrypt(w, rs.List...)
	if err != nil {
		return nil, fmt.Errorf("starting encryption: %w", err)
	}
	return aw, nil
}
