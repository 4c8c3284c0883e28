package keys

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"
)

// maxKeyFile bounds what we read from a key file: an age identity file is a
// few lines, an ssh private key a few KiB.
const maxKeyFile = 1 << 20

// OpenPrivateFile opens a private key file (an identity or a signing key)
// for reading, refusing one that others could read or swap: the path's last
// element must not be a symbolic link (it is opened with O_NOFOLLOW, and a
// FIFO cannot block the open), and the opened file itself, not the path, is
// checked: a regular file that group and others cannot access (mode 0600
// or narrower).
func OpenPrivateFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("key file %s is a symbolic link: sluice reads key files only directly; put the file itself there, with mode 0600", path)
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
	case !fi.Mode().IsRegular():
		err = fmt.Errorf("key file %s is not a regular file", path)
	case fi.Mode().Perm()&0o077 != 0:
		err = fmt.Errorf("key file %s has mode %04o; it must be 0600: run chmod 600 %s", path, fi.Mode().Perm(), path)
	default:
		err = checkOwner("key file", path, fi)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// checkPrivateDir refuses a key folder that group or others may access.
func checkPrivateDir(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("key folder %s is not a directory", path)
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return fmt.Errorf("key folder %s has mode %04o; it must be 0700: run chmod 700 %s", path, m, path)
	}
	return checkOwner("key folder", path, fi)
}

// checkOwner refuses a key folder or file another user owns: its owner
// may change it whatever its mode (put their own recipient and ledger in,
// and the backups are encrypted to them).
func checkOwner(what, path string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) == os.Geteuid() {
		return nil
	}
	return fmt.Errorf("%s %s is owned by uid %d, not by the user sluice runs as (uid %d): its owner can change the keys; use one of your own, or chown it", what, path, st.Uid, os.Geteuid())
}

// ReadPrivateFile reads a private key file opened and checked by
// OpenPrivateFile, up to 1 MiB (no key file is larger).
func ReadPrivateFile(path string) ([]byte, error) {
	f, err := OpenPrivateFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, maxKeyFile+1)); err != nil {
		return nil, fmt.Errorf("reading key file %s: %w", path, err)
	}
	if buf.Len() > maxKeyFile {
		return nil, fmt.Errorf("key file %s is larger than %d bytes: it is not a key file", path, maxKeyFile)
	}
	return buf.Bytes(), nil
}

// ReadIdentityFile reads the identities of a key file: an age identity file
// (AGE-SECRET-KEY-... lines, as written by age-keygen or a dir store) or an
// unencrypted ssh private key (ed25519 or rsa). The file must not be
// accessible to group or others (mode 0600 or narrower). Each identity comes
// with a KeyInfo (ID, Type and Recipient set) at the same index.
func ReadIdentityFile(path string) ([]age.Identity, []KeyInfo, error) {
	data, err := ReadPrivateFile(path)
	if err != nil {
		return nil, nil, err
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN")) {
		id, info, err := parseSSHIdentity(data)
		if err != nil {
			return nil, nil, fmt.Errorf("key file %s: %w", path, err)
		}
		return []age.Identity{id}, []KeyInfo{info}, nil
	}
	ids, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		// age's parse errors never quote key material.
		return nil, nil, fmt.Errorf("key file %s: %w", path, err)
	}
	infos := make([]KeyInfo, len(ids))
	for i, id := range ids {
		infos[i], err = identityInfo(id)
		if err != nil {
			return nil, nil, fmt.Errorf("key file %s: %w", path, err)
		}
	}
	return ids, infos, nil
}

// identityInfo describes an age identity by its public side.
func identityInfo(id age.Identity) (KeyInfo, error) {
	switch id := id.(type) {
	case *age.HybridIdentity:
		r := id.Recipient().String()
		return KeyInfo{ID: KeyID(r), Type: TypeHybrid, Recipient: r}, nil
	case *age.X25519Identity:
		r := id.Recipient().String()
		return KeyInfo{ID: KeyID(r), Type: TypeX25519, Recipient: r}, nil
	default:
		return KeyInfo{}, fmt.Errorf("unsupported identity type %T", id)
	}
}

// parseSSHIdentity parses an unencrypted ssh private key.
func parseSSHIdentity(pemBytes []byte) (age.Identity, KeyInfo, error) {
	signer, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, KeyInfo{}, errors.New("ssh key is passphrase-protected and sluice cannot prompt: use an age identity or an unencrypted copy kept with mode 0600")
		}
		return nil, KeyInfo{}, fmt.Errorf("parsing ssh private key: %w", err)
	}
	id, err := agessh.ParseIdentity(pemBytes)
	if err != nil {
		return nil, KeyInfo{}, fmt.Errorf("parsing ssh private key: %w", err)
	}
	canonical := canonicalSSH(signer.PublicKey())
	return id, KeyInfo{ID: KeyID(canonical), Type: signer.PublicKey().Type(), Recipient: canonical}, nil
}

// parseSSHRecipient parses an ssh public key line.
func parseSSHRecipient(s string) (age.Recipient, string, error) {
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s))
	if err != nil {
		return nil, "", fmt.Errorf("parsing ssh recipient %q: %w", short(s), err)
	}
	r, err := agessh.ParseRecipient(s)
	if err != nil {
		return nil, "", fmt.Errorf("parsing ssh recipient %q: only ssh-ed25519 and ssh-rsa keys are supported", short(s))
	}
	return r, canonicalSSH(pub), nil
}

// canonicalSSH is an ssh public key as "type base64", without comment.
func canonicalSSH(pub ssh.PublicKey) string {
	return pub.Type() + " " + base64.StdEncoding.EncodeToString(pub.Marshal())
}

// writeFileAtomic writes data to path through a temporary file in the same
// folder, synced before it is renamed over path, and syncs the folder.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
