package steps

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// ageMagic starts every age file.
const ageMagic = "age-encryption.org/v1\n"

// requireAge returns the stream r after checking that it starts with an age
// header: the run-time backstop of the fail-closed rule, for an upload
// without allow_plaintext whatever the plan's shape (a step that claims to
// protect a stream but does not, bytes a download fetched).
func requireAge(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(len(ageMagic))
	if string(head) == ageMagic {
		return br, nil
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading the stream (the upstream step failed): %w", err)
	}
	return nil, errors.New(`refusing to store a stream that is not age-encrypted (it does not start with "age-encryption.org/v1"): add an encrypt step before the upload, or set allow_plaintext: true`)
}
