package blob

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/minio/minio-go/v7"
)

// s3Reader streams an object and, when the connection breaks or the service
// fails mid-stream with an error a later attempt may get past, asks again
// for the rest of the object from the offset reached (a byte Range),
// conditional on the ETag of the first response (If-Match): the bytes
// delivered are the object's, each once and in order, or the read fails.
// Consecutive failures that deliver nothing are bounded by the backend's
// retry budget, with the same backoff as every other request.
type s3Reader struct {
	s    *S3
	ctx  context.Context
	key  string
	etag string
	size int64

	body  io.ReadCloser
	off   int64 // bytes delivered
	fails int   // consecutive failures without progress
	err   error // sticky
}

// open sends the first GET.
func (r *s3Reader) open() error {
	return r.s.retry(r.ctx, func(ctx context.Context) error {
		body, oi, _, err := r.s.core.GetObject(ctx, r.s.bucket, r.key, minio.GetObjectOptions{})
		if err != nil {
			return err
		}
		r.body, r.etag, r.size = body, oi.ETag, oi.Size
		return nil
	})
}

// Read implements io.Reader.
func (r *s3Reader) Read(p []byte) (int, error) {
	for r.err == nil {
		if r.body == nil {
			if err := r.resume(); err != nil {
				r.err = err
				break
			}
		}
		n, err := r.body.Read(p)
		r.off += int64(n)
		if n > 0 {
			r.fails = 0
		}
		switch {
		case err == nil:
			return n, nil
		case errors.Is(err, io.EOF) && r.off >= r.size:
			r.err = io.EOF
		case errors.Is(err, io.EOF) || retryable(err):
			// Cut short (a reset, a timeout, a body that ended early):
			// get the rest.
			r.body.Close()
			r.body = nil
			r.fails++
			if r.fails >= r.s.cfg.Retries || r.ctx.Err() != nil {
				r.err = fmt.Errorf("reading object %s: failed at byte %d of %d after %d attempts: %w", r.s.urlOfKey(r.key), r.off, r.size, r.fails, err)
			}
		default:
			r.err = r.s.describe("reading object", r.key, err)
		}
		if n > 0 {
			return n, nil
		}
	}
	return 0, r.err
}

// resume waits out the backoff, then asks for the bytes from r.off on of
// the same version of the object.
func (r *s3Reader) resume() error {
	if err := r.s.backoff(r.ctx, r.fails); err != nil {
		return fmt.Errorf("reading object %s: %w", r.s.urlOfKey(r.key), err)
	}
	var changed string
	err := r.s.retry(r.ctx, func(ctx context.Context) error {
		var opts minio.GetObjectOptions
		if err := opts.SetRange(r.off, 0); err != nil {
			return err
		}
		if err := opts.SetMatchETag(r.etag); err != nil {
			return err
		}
		body, oi, _, err := r.s.core.GetObject(ctx, r.s.bucket, r.key, opts)
		if err != nil {
			return err
		}
		if oi.ETag != r.etag { // a service that ignores If-Match
			body.Close()
			changed = oi.ETag
			return nil
		}
		r.body = body
		return nil
	})
	if changed != "" || (err != nil && minio.ToErrorResponse(err).Code == "PreconditionFailed") {
		return fmt.Errorf("reading object %s: it changed while it was read (ETag %s when the read began; after %d of %d bytes it no longer matches): read it again", r.s.urlOfKey(r.key), r.etag, r.off, r.size)
	}
	if err != nil {
		return fmt.Errorf("resuming at byte %d of %d: %w", r.off, r.size, r.s.describe("reading object", r.key, err))
	}
	return nil
}

// Close implements io.Closer.
func (r *s3Reader) Close() error {
	if r.err == nil {
		r.err = errors.New("read after Close")
	}
	if r.body == nil {
		return nil
	}
	err := r.body.Close()
	r.body = nil
	return err
}
