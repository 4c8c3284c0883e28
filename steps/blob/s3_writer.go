package blob

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
)

// Create implements Backend. The writer buffers the stream in parts of
// cfg.PartSize and uploads each full part of a multipart upload in the
// background, with at most cfg.PartsInFlight part buffers in memory (the one
// being filled included): Write blocks while they are all uploading. A
// stream shorter than one part is stored with a single PUT on Commit.
//
// Without opts.Overwrite, Create and Commit both check that the object does
// not exist, and the final request carries If-None-Match: * so that a
// service with S3 conditional writes refuses atomically; on a service
// without them, an object written by someone else between that check and
// the completion would be replaced.
func (s *S3) Create(ctx context.Context, name string, opts CreateOptions) (Writer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	key, err := s.key(name)
	if err != nil {
		return nil, err
	}
	if err := s.checkBucket(ctx); err != nil {
		return nil, err
	}
	if !opts.Overwrite {
		if err := s.refuseExisting(ctx, key); err != nil {
			return nil, err
		}
	}
	wctx, cancel := context.WithCancelCause(ctx)
	return &s3Writer{
		s: s, key: key, url: s.urlOfKey(key), overwrite: opts.Overwrite,
		ctx: wctx, cancel: cancel, free: make(chan []byte, s.cfg.PartsInFlight), md5ETags: true,
	}, nil
}

// Writer states.
const (
	wOpen = iota
	wCommitting
	wDone
	wAborted
)

var errAborted = errors.New("upload aborted")

// s3Writer is a pending object of the S3 backend: a multipart upload that
// is started with the first full part.
type s3Writer struct {
	s         *S3
	key, url  string
	overwrite bool

	ctx    context.Context // of the parts' requests; ended by Abort or a failed part
	cancel context.CancelCauseFunc

	buf     []byte      // the part being filled
	free    chan []byte // buffers of uploaded parts, for reuse
	nbuf    int         // buffers allocated, at most cfg.PartsInFlight
	written int64

	uploadID string
	next     int // parts dispatched
	wg       sync.WaitGroup

	mu       sync.Mutex
	parts    []minio.CompletePart // by part number - 1
	sums     [][]byte             // MD5 of each part
	md5ETags bool                 // every part's ETag was its MD5: the service's ETags are checksums
	err      error                // the first failed part

	state   int
	visible bool // a failed Commit made the object visible: Abort removes it
}

func (w *s3Writer) Write(p []byte) (int, error) {
	if w.state != wOpen {
		return 0, fmt.Errorf("writing object %s: already committed or aborted", w.url)
	}
	n := 0
	size := int(w.s.cfg.PartSize)
	for len(p) > 0 {
		if err := w.failed(); err != nil {
			return n, err
		}
		if w.buf == nil {
			b, err := w.acquire()
			if err != nil {
				return n, err
			}
			w.buf = b
		}
		k := min(len(p), size-len(w.buf))
		w.buf = grow(w.buf, k, size)
		w.buf = append(w.buf, p[:k]...)
		p, n, w.written = p[k:], n+k, w.written+int64(k)
		if len(w.buf) == size {
			if err := w.flush(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// grow makes room for k more bytes in b without exceeding size, doubling
// so that a small object does not cost a whole part.
func grow(b []byte, k, size int) []byte {
	if len(b)+k <= cap(b) {
		return b
	}
	nb := make([]byte, len(b), min(max(2*cap(b), len(b)+k, 64<<10), size))
	copy(nb, b)
	return nb
}

// acquire returns an empty part buffer, waiting for an uploaded part's
// buffer when all cfg.PartsInFlight exist.
func (w *s3Writer) acquire() ([]byte, error) {
	select {
	case b := <-w.free:
		return b, nil
	default:
	}
	if w.nbuf < w.s.cfg.PartsInFlight {
		w.nbuf++
		if w.next > 0 {
			return make([]byte, 0, w.s.cfg.PartSize), nil // a long stream: whole parts from now on
		}
		return make([]byte, 0, min(64<<10, int(w.s.cfg.PartSize))), nil // grown on demand
	}
	select {
	case b := <-w.free:
		return b, nil
	case <-w.ctx.Done():
		return nil, w.failed()
	}
}

// failed returns why the upload cannot go on, if it cannot.
func (w *s3Writer) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.ctx.Err() != nil {
		return fmt.Errorf("writing object %s: %w", w.url, context.Cause(w.ctx))
	}
	return nil
}

// flush sends the filled buffer as the next part, starting the multipart
// upload first if needed.
func (w *s3Writer) flush() error {
	if w.next >= maxParts {
		return fmt.Errorf("writing object %s: more than %d parts of %d bytes: raise the part size (SLUICE_S3_PART_SIZE or ?part_size=)", w.url, maxParts, w.s.cfg.PartSize)
	}
	if w.uploadID == "" {
		err := w.s.retry(w.ctx, func(ctx context.Context) (err error) {
			w.uploadID, err = w.s.core.NewMultipartUpload(ctx, w.s.bucket, w.key, minio.PutObjectOptions{})
			return err
		})
		if err != nil {
			return w.s.describe("starting multipart upload of", w.key, err)
		}
	}
	w.next++
	data := w.buf
	w.buf = nil
	w.wg.Add(1)
	go w.uploadPart(w.next, data)
	return nil
}

// uploadPart uploads one part with retries, then frees its buffer. Its
// Content-MD5 makes the service check the bytes it received.
func (w *s3Writer) uploadPart(num int, data []byte) {
	defer w.wg.Done()
	sum := md5.Sum(data)
	var part minio.ObjectPart
	err := w.s.retry(w.ctx, func(ctx context.Context) (err error) {
		part, err = w.s.core.PutObjectPart(ctx, w.s.bucket, w.key, w.uploadID, num, bytes.NewReader(data), int64(len(data)),
			minio.PutObjectPartOptions{Md5Base64: base64.StdEncoding.EncodeToString(sum[:])})
		return err
	})
	w.free <- data[:0]
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if w.err == nil {
			w.err = w.s.describe(fmt.Sprintf("uploading part %d of", num), w.key, err)
			w.cancel(w.err)
		}
		return
	}
	for len(w.parts) < num {
		w.parts = append(w.parts, minio.CompletePart{})
		w.sums = append(w.sums, nil)
	}
	w.parts[num-1] = minio.CompletePart{PartNumber: num, ETag: part.ETag}
	w.sums[num-1] = sum[:]
	w.md5ETags = w.md5ETags && strings.EqualFold(strings.Trim(part.ETag, `"`), hex.EncodeToString(sum[:]))
}

// abortUpload aborts the multipart upload until the service no longer lists
// it. A part request the client gave up on may still be running on the
// server and store its part after the abort, bringing the upload back (the
// S3 documentation warns of this); so the abort is repeated, with short
// pauses, until the listing no longer shows it.
func (w *s3Writer) abortUpload(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := w.s.retry(ctx, func(ctx context.Context) error {
			return w.s.core.AbortMultipartUpload(ctx, w.s.bucket, w.key, w.uploadID)
		})
		if err != nil && minio.ToErrorResponse(err).Code != "NoSuchUpload" {
			return err
		}
		listed, err := w.uploadListed(ctx)
		if err != nil || !listed {
			return err
		}
		if attempt == 4 {
			return fmt.Errorf("the upload is still listed after %d aborts", attempt+1)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(100*(attempt+1)) * time.Millisecond):
		}
	}
}

// uploadListed tells whether the service still lists this writer's upload.
func (w *s3Writer) uploadListed(ctx context.Context) (bool, error) {
	var res minio.ListMultipartUploadsResult
	err := w.s.retry(ctx, func(ctx context.Context) (err error) {
		res, err = w.s.core.ListMultipartUploads(ctx, w.s.bucket, w.key, "", "", "", 1000)
		return err
	})
	if err != nil {
		return false, err
	}
	for _, up := range res.Uploads {
		if up.UploadID == w.uploadID {
			return true, nil
		}
	}
	return false, nil
}

// Commit uploads the last part, waits for every part, completes the upload
// and checks the stored object's size, and its ETag where the service's
// ETags are MD5 checksums, against what was streamed.
func (w *s3Writer) Commit(ctx context.Context) error {
	if w.state != wOpen {
		return fmt.Errorf("committing object %s: already committed or aborted", w.url)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("committing object %s: %w", w.url, err)
	}
	w.state = wCommitting
	var err error
	if w.uploadID == "" {
		err = w.commitSingle(ctx)
	} else {
		err = w.commitMultipart(ctx)
	}
	if err != nil {
		return err
	}
	w.state, w.buf, w.free = wDone, nil, nil
	w.cancel(nil)
	return nil
}

// commitSingle stores a stream shorter than one part with one PUT.
func (w *s3Writer) commitSingle(ctx context.Context) error {
	if !w.overwrite {
		if err := w.s.refuseExisting(ctx, w.key); err != nil {
			return err
		}
	}
	sum := md5.Sum(w.buf)
	etag, err := w.s.putSmall(ctx, w.key, w.buf, sum[:], w.overwrite)
	if err != nil {
		w.maybeStored(err)
		return err
	}
	w.visible = true
	return w.verify(ctx, etag, hex.EncodeToString(sum[:]))
}

// commitMultipart finishes a multipart upload.
func (w *s3Writer) commitMultipart(ctx context.Context) error {
	if err := w.finishParts(ctx); err != nil {
		return err
	}
	if !w.overwrite {
		if err := w.s.refuseExisting(ctx, w.key); err != nil {
			return err
		}
	}
	return w.complete(ctx)
}

// finishParts sends the last part and waits for every part.
func (w *s3Writer) finishParts(ctx context.Context) error {
	if len(w.buf) > 0 {
		if err := w.flush(); err != nil {
			return err
		}
	}
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		w.cancel(context.Cause(ctx))
		<-done
		return fmt.Errorf("committing object %s: %w", w.url, context.Cause(ctx))
	}
	return w.failed()
}

// complete completes the multipart upload, refused by the service when the
// object exists and overwriting is not allowed, and verifies the result.
func (w *s3Writer) complete(ctx context.Context) error {
	var opts minio.PutObjectOptions
	if !w.overwrite {
		opts.SetMatchETagExcept("*")
	}
	var etag string
	attempt := 0
	err := w.s.retry(ctx, func(ctx context.Context) error {
		attempt++
		info, err := w.s.core.CompleteMultipartUpload(ctx, w.s.bucket, w.key, w.uploadID, w.parts, opts)
		if attempt > 1 && minio.ToErrorResponse(err).Code == "NoSuchUpload" {
			// An earlier attempt completed it but its answer was lost:
			// verify below checks the object it made.
			return nil
		}
		etag = info.ETag
		return err
	})
	if err != nil {
		w.maybeStored(err)
		return w.s.describe("completing multipart upload of", w.key, err)
	}
	w.uploadID, w.visible = "", true
	return w.verify(ctx, etag, multipartETag(w.sums))
}

// maybeStored marks the object for Abort to remove after a final write
// that failed but that the service may have carried out (its reply lost,
// the run cancelled while it waited): the key was free just before, so an
// object there now is this upload's. Not when overwriting (the older
// object's bytes may be gone, nothing would bring them back) nor when the
// service said the key exists (another writer's).
func (w *s3Writer) maybeStored(err error) {
	if !w.overwrite && !errors.Is(err, ErrExist) && minio.ToErrorResponse(err).Code != "PreconditionFailed" {
		w.visible = true
	}
}

// multipartETag is the ETag S3 gives a multipart object: the MD5 of its
// parts' MD5s, a dash and the number of parts.
func multipartETag(sums [][]byte) string {
	h := md5.New()
	for _, s := range sums {
		h.Write(s)
	}
	return fmt.Sprintf("%x-%d", h.Sum(nil), len(sums))
}

// verify checks the committed object against what was streamed.
func (w *s3Writer) verify(ctx context.Context, etag, want string) error {
	oi, err := w.s.stat(ctx, w.key)
	if err != nil {
		return fmt.Errorf("checking object %s after upload: %w", w.url, err)
	}
	got := strings.Trim(oi.ETag, `"`)
	switch {
	case oi.Size != w.written:
		return fmt.Errorf("checking object %s after upload: it has %d bytes but %d were streamed", w.url, oi.Size, w.written)
	case etag != "" && got != strings.Trim(etag, `"`):
		return fmt.Errorf("checking object %s after upload: its ETag %s is not the one the upload returned (%s): another writer replaced it", w.url, got, strings.Trim(etag, `"`))
	case w.md5ETags && !strings.EqualFold(got, want):
		return fmt.Errorf("checking object %s after upload: the service's checksum (ETag %s) differs from the MD5 of the streamed bytes (%s)", w.url, got, want)
	}
	return nil
}

// Abort ends the upload: it stops the parts in flight, aborts the multipart
// upload so that the service drops its parts, and removes the object if a
// failed Commit made it visible.
func (w *s3Writer) Abort() error {
	if w.state == wDone || w.state == wAborted {
		return nil
	}
	w.state = wAborted
	w.cancel(errAborted)
	w.wg.Wait()
	w.buf, w.free = nil, nil
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	if w.uploadID != "" {
		err := w.abortUpload(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("aborting the multipart upload of %s (upload id %s) at %s: %w; its parts are invisible but kept by the service: abort it by hand or let a lifecycle rule (AbortIncompleteMultipartUpload) remove it",
				w.url, w.uploadID, w.s.endpointURL, err))
		}
		w.uploadID = ""
	}
	if w.visible {
		w.visible = false
		if err := w.s.remove(ctx, w.key); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
