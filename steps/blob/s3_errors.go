package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
)

// retry runs op until it succeeds, fails with an error that retrying cannot
// fix, ctx ends, or s.cfg.Retries attempts are spent. Between attempts it
// sleeps a random time up to an exponentially growing bound ("full jitter"),
// so that many clients throttled at once do not come back in step.
func (s *S3) retry(ctx context.Context, op func(ctx context.Context) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = op(ctx)
		if err == nil || !retryable(err) || attempt >= s.cfg.Retries || ctx.Err() != nil {
			return err
		}
		if berr := s.backoff(ctx, attempt); berr != nil {
			return errors.Join(err, berr)
		}
	}
}

// backoff sleeps after the attempt-th failure (none after 0): a random time
// up to s.cfg.RetryBase doubled per attempt, capped at s.cfg.RetryMax. It
// returns ctx's cause when ctx ends first.
func (s *S3) backoff(ctx context.Context, attempt int) error {
	if attempt < 1 {
		return nil
	}
	bound := min(s.cfg.RetryBase<<(attempt-1), s.cfg.RetryMax)
	t := time.NewTimer(rand.N(bound) + bound/10)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// retryable tells throttling, server errors and broken connections, which a
// later attempt may get past, from answers that will not change.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "RequestTimeTooSkewed", "ExpiredToken", "OperationAborted":
		return true
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return true
	}
	var ne net.Error
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// describe turns a failed request about key into a message that names the
// endpoint and bucket (never a secret) and says what to do. A missing key
// becomes an error matching ErrNotExist.
func (s *S3) describe(what, key string, err error) error {
	if err == nil {
		return nil
	}
	resp := minio.ToErrorResponse(err)
	where := fmt.Sprintf("bucket %q at %s", s.bucket, s.endpointURL)
	switch resp.Code {
	case "NoSuchKey":
		return notExist(s.urlOfKey(key), "")
	case "NoSuchBucket":
		return notExist(s.urlOfKey(key), fmt.Sprintf("does not exist: bucket %q does not exist at %s: create it, or fix the bucket name or the endpoint (SLUICE_S3_ENDPOINT)", s.bucket, s.endpointURL))
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken":
		return fmt.Errorf("%s %s: %s refused the credentials (%s): %s", what, s.urlOfKey(key), where, resp.Code, s.credentialsHint())
	case "PreconditionFailed":
		return exists(s.urlOfKey(key))
	}
	if resp.StatusCode == http.StatusNotFound && resp.Code == "" {
		return notExist(s.urlOfKey(key), "")
	}
	return fmt.Errorf("%s %s (%s): %w", what, s.urlOfKey(key), where, err)
}

// credentialsHint says where the credentials came from, without them.
func (s *S3) credentialsHint() string {
	v, err := s.creds.GetWithContext(nil)
	if err != nil || v.AccessKeyID == "" {
		return "no credentials were found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in the shared credentials file (AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE)"
	}
	return "check the access key and secret in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the shared credentials file, and that they may use this bucket"
}
