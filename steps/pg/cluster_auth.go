package pg

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// randomPassword returns a password for a throwaway cluster's superuser:
// 192 random bits in characters that need no quoting in a URL, a key=value
// DSN or a .pgpass line.
func randomPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating the superuser password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// writePassfile writes the cluster's .pgpass file (mode 0600, owned by this
// process's user) into its private folder, where other local users cannot
// reach it: the folder is 0700 and belongs to this user or the server's.
func (c *Cluster) writePassfile() error {
	c.Passfile = filepath.Join(c.base, "pgpass")
	line := "*:*:*:" + pgpassEscape(c.User) + ":" + pgpassEscape(c.Password) + "\n"
	f, err := os.OpenFile(c.Passfile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("writing the password file: %w", err)
	}
	_, err = f.WriteString(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the password file: %w", err)
	}
	return nil
}

// pgpassEscape escapes the separators of a .pgpass field.
func pgpassEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(s)
}
