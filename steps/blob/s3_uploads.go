package blob

import (
	"context"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// Upload is an unfinished write that a backend keeps apart from its
// objects, such as an S3 multipart upload that was neither completed nor
// aborted (its process was killed, or could not reach the service to abort),
// or a File backend's pending file left by a killed process.
type Upload struct {
	Name string // the object it would have become, relative to the root
	ID   string // S3: the upload id; File: the pending file's name
	// Started is when the upload began (S3) or was last written to (File).
	Started time.Time
	// Marked says the upload's own name marks it as sluice's (a File
	// pending file); an S3 multipart upload may be any tool's.
	Marked bool
}

// UploadLister is implemented by backends whose unfinished uploads outlive
// the process that started them and take space until aborted (S3, File).
type UploadLister interface {
	// ListUploads returns the unfinished uploads of objects whose name
	// starts with prefix.
	ListUploads(ctx context.Context, prefix string) ([]Upload, error)
	// AbortUpload discards an unfinished upload; one already gone is not an
	// error.
	AbortUpload(ctx context.Context, u Upload) error
}

var _ UploadLister = (*S3)(nil)

// ListUploads implements UploadLister with the service's list of multipart
// uploads.
func (s *S3) ListUploads(ctx context.Context, prefix string) ([]Upload, error) {
	var out []Upload
	err := s.retry(ctx, func(ctx context.Context) error {
		out = out[:0]
		for mu := range s.core.Client.ListIncompleteUploads(ctx, s.bucket, s.prefix+prefix, true) {
			if mu.Err != nil {
				return mu.Err
			}
			if !strings.HasPrefix(mu.Key, s.prefix) {
				continue
			}
			out = append(out, Upload{Name: strings.TrimPrefix(mu.Key, s.prefix), ID: mu.UploadID, Started: mu.Initiated})
		}
		return nil
	})
	if err != nil {
		return nil, s.describe("listing unfinished uploads", s.prefix+prefix, err)
	}
	return out, nil
}

// AbortUpload implements UploadLister.
func (s *S3) AbortUpload(ctx context.Context, u Upload) error {
	key := s.prefix + u.Name
	err := s.retry(ctx, func(ctx context.Context) error {
		return s.core.AbortMultipartUpload(ctx, s.bucket, key, u.ID)
	})
	if err != nil && minio.ToErrorResponse(err).Code == "NoSuchUpload" {
		return nil
	}
	return s.describe("aborting upload id "+u.ID+" of", key, err)
}
