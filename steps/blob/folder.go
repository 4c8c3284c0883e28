package blob

import (
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"strings"
)

// FolderURL returns the canonical form of a URL that names a folder (or a
// bucket prefix), so that two spellings of one place compare equal:
// file:///abs/path for file://, file://./rel and plain paths (relative to
// the working directory), s3://BUCKET/PREFIX for s3:// (query settings
// dropped). No trailing slash; nothing is opened or contacted.
func FolderURL(rawURL string) (string, error) {
	if isS3(rawURL) {
		u, err := url.Parse(rawURL)
		if err == nil && u.User != nil {
			return "", fmt.Errorf("storage URL s3://%s@%s%s carries credentials: remove them and set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead", u.User.Username(), u.Host, u.EscapedPath())
		}
		if err != nil || u.Host == "" || u.Fragment != "" {
			return "", fmt.Errorf("storage URL %q is not of the form s3://BUCKET/PREFIX", rawURL)
		}
		prefix := strings.Trim(path.Clean("/"+u.Path), "/")
		if prefix == "" {
			return "s3://" + u.Host, nil
		}
		return "s3://" + u.Host + "/" + prefix, nil
	}
	p, err := localPath(rawURL)
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("storage URL %q: %w", rawURL, err)
	}
	return "file://" + filepath.ToSlash(abs), nil
}

// Within reports whether the folder URL inner is the folder URL outer or
// lies under it; both in the canonical form of FolderURL. A listing of
// outer (which descends into sub-folders) sees inner's objects.
func Within(inner, outer string) bool {
	if inner == outer {
		return true
	}
	return strings.HasPrefix(inner, strings.TrimSuffix(outer, "/")+"/")
}
