package blob

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 is the Backend for a bucket and key prefix of any S3-compatible service
// (AWS S3, MinIO, Ceph, R2, versitygw...). Create streams a multipart upload
// of unknown length that becomes visible only when Commit completes it; Abort
// aborts it, so no object appears. Requests are retried with backoff and
// jitter on throttling, server errors and broken connections.
type S3 struct {
	core        *minio.Core
	creds       *credentials.Credentials
	cfg         S3Config
	bucket      string
	prefix      string      // "" or ends with "/"
	endpointURL string      // for messages: scheme://host[:port]
	bucketOK    atomic.Bool // the bucket was seen to exist
}

var _ Backend = (*S3)(nil)

// NewS3 returns a backend for the objects of bucket under prefix (a folder
// path, with or without a final slash), with credentials from the AWS
// environment variables, the shared credentials file or the instance role.
// It sends no request.
func NewS3(cfg S3Config, bucket, prefix string) (*S3, error) {
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{},
		&credentials.IAM{},
	})
	return newS3(cfg, bucket, prefix, creds)
}

// NewS3WithKeys is NewS3 with the given access key and secret, for tests and
// callers that hold credentials themselves.
func NewS3WithKeys(cfg S3Config, bucket, prefix, accessKey, secretKey string) (*S3, error) {
	return newS3(cfg, bucket, prefix, credentials.NewStaticV4(accessKey, secretKey, ""))
}

func newS3(cfg S3Config, bucket, prefix string, creds *credentials.Credentials) (*S3, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	host, secure, custom, err := cfg.endpoint()
	if err != nil {
		return nil, err
	}
	if bucket == "" || strings.ContainsAny(bucket, "/?#") {
		return nil, fmt.Errorf("s3 bucket name %q is invalid", bucket)
	}
	if prefix = strings.Trim(prefix, "/"); prefix != "" {
		if err := checkName(prefix); err != nil {
			return nil, fmt.Errorf("s3 key prefix: %w", err)
		}
		prefix += "/"
	}
	opts := &minio.Options{
		Creds:  creds,
		Secure: secure,
		Region: cfg.Region,
		// One retry policy, ours (per request and per part), instead of
		// two stacked ones.
		MaxRetries: 1,
	}
	if opts.Region == "" && custom {
		opts.Region = "us-east-1"
	}
	if cfg.PathStyle {
		opts.BucketLookup = minio.BucketLookupPath
	}
	c, err := minio.NewCore(host, opts)
	if err != nil {
		return nil, fmt.Errorf("s3 endpoint %s: %w", host, err)
	}
	scheme := "https://"
	if !secure {
		scheme = "http://"
	}
	return &S3{core: c, creds: creds, cfg: cfg, bucket: bucket, prefix: prefix, endpointURL: scheme + host}, nil
}

// openS3 resolves s3://BUCKET/KEY?settings into a backend rooted at KEY's
// folder and the object's base name; with root set, KEY is the folder.
func openS3(rawURL string, root bool) (*S3, string, error) {
	u, err := url.Parse(rawURL)
	if err == nil && u.User != nil {
		// Never echo the URL: its user info is a credential.
		return nil, "", fmt.Errorf("storage URL s3://%s@%s%s carries credentials: remove them and set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead", u.User.Username(), u.Host, u.EscapedPath())
	}
	if err != nil || u.Host == "" || u.Fragment != "" {
		return nil, "", fmt.Errorf("storage URL %q is not of the form s3://BUCKET/KEY", rawURL)
	}
	cfg, err := S3ConfigFromEnv(u.Query())
	if err != nil {
		return nil, "", fmt.Errorf("storage URL %q: %w", rawURL, err)
	}
	key := strings.TrimPrefix(u.Path, "/")
	dir, name := "", ""
	switch {
	case root:
		dir = key
	case key == "" || strings.HasSuffix(key, "/"):
		return nil, "", fmt.Errorf("storage URL %q names a folder, not an object: add the object's name", rawURL)
	default:
		if i := strings.LastIndex(key, "/"); i >= 0 {
			dir, name = key[:i], key[i+1:]
		} else {
			name = key
		}
		if err := checkName(key); err != nil {
			return nil, "", fmt.Errorf("storage URL %q: %w", rawURL, err)
		}
	}
	b, err := NewS3(cfg, u.Host, dir)
	if err != nil {
		return nil, "", fmt.Errorf("storage URL %q: %w", rawURL, err)
	}
	return b, name, nil
}

// URL implements Backend.
func (s *S3) URL(name string) string { return s.urlOfKey(s.prefix + name) }

func (s *S3) urlOfKey(key string) string { return "s3://" + s.bucket + "/" + key }

// checkName applies the File backend's rules for object names, so that a
// name valid on one backend is valid on the other.
func checkName(name string) error {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\\") {
		return fmt.Errorf("object name %q is invalid: use a relative, slash-separated name", name)
	}
	for _, el := range strings.Split(name, "/") {
		if el == "" || el == "." || el == ".." {
			return fmt.Errorf("object name %q is invalid: empty, \".\" and \"..\" elements are not allowed", name)
		}
		if strings.Contains(el, tmpMarker) {
			return fmt.Errorf("object name %q is invalid: %q is reserved for pending objects", name, tmpMarker)
		}
	}
	return nil
}

// key checks name and returns its key in the bucket.
func (s *S3) key(name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	return s.prefix + name, nil
}

// Put implements Backend with one PUT, conditional on the object's absence
// unless opts.Overwrite is set.
func (s *S3) Put(ctx context.Context, name string, data []byte, opts CreateOptions) error {
	key, err := s.key(name)
	if err != nil {
		return err
	}
	if err := s.checkBucket(ctx); err != nil {
		return err
	}
	if !opts.Overwrite {
		if err := s.refuseExisting(ctx, key); err != nil {
			return err
		}
	}
	sum := md5.Sum(data)
	_, err = s.putSmall(ctx, key, data, sum[:], opts.Overwrite)
	return err
}

// putSmall stores data under key in one request and returns its ETag.
func (s *S3) putSmall(ctx context.Context, key string, data, sum []byte, overwrite bool) (string, error) {
	var popts minio.PutObjectOptions
	if !overwrite {
		// Refused by the service when the key exists (S3 conditional
		// writes); services without them fall back on refuseExisting.
		popts.SetMatchETagExcept("*")
	}
	var etag string
	err := s.retry(ctx, func(ctx context.Context) error {
		info, err := s.core.PutObject(ctx, s.bucket, key, bytes.NewReader(data), int64(len(data)), base64.StdEncoding.EncodeToString(sum), "", popts)
		etag = info.ETag
		return err
	})
	return etag, s.describe("writing object", key, err)
}

// refuseExisting fails with ErrExist when key exists.
func (s *S3) refuseExisting(ctx context.Context, key string) error {
	_, err := s.stat(ctx, key)
	switch {
	case err == nil:
		return exists(s.urlOfKey(key))
	case errors.Is(err, ErrNotExist):
		return nil
	default:
		return err
	}
}

// Open implements Backend. The content streams from the service as it is
// read; a read cut short by a broken connection or a server error resumes
// where it stopped, on the same version of the object (see s3Reader).
func (s *S3) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	key, err := s.key(name)
	if err != nil {
		return nil, err
	}
	r := &s3Reader{s: s, ctx: ctx, key: key}
	if err := r.open(); err != nil {
		return nil, s.describe("reading object", key, err)
	}
	return r, nil
}

// Stat implements Backend.
func (s *S3) Stat(ctx context.Context, name string) (Info, error) {
	key, err := s.key(name)
	if err != nil {
		return Info{}, err
	}
	oi, err := s.stat(ctx, key)
	if err != nil {
		return Info{}, err
	}
	return Info{Name: name, Size: oi.Size, ModTime: oi.LastModified}, nil
}

func (s *S3) stat(ctx context.Context, key string) (minio.ObjectInfo, error) {
	var oi minio.ObjectInfo
	err := s.retry(ctx, func(ctx context.Context) (err error) {
		oi, err = s.core.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
		return err
	})
	err = s.describe("reading object", key, err)
	if errors.Is(err, ErrNotExist) && !s.bucketOK.Load() {
		if berr := s.checkBucket(ctx); berr != nil {
			return oi, notExist(s.urlOfKey(key), "does not exist: "+berr.Error())
		}
	}
	return oi, err
}

// checkBucket fails when the bucket does not exist, so that a write is
// refused before any data is sent. An answer other than yes or no (such as
// access denied to credentials that may write objects but not look at the
// bucket) lets the caller go on.
func (s *S3) checkBucket(ctx context.Context) error {
	if s.bucketOK.Load() {
		return nil
	}
	var ok bool
	err := s.retry(ctx, func(ctx context.Context) (err error) {
		ok, err = s.core.BucketExists(ctx, s.bucket)
		return err
	})
	switch {
	case err != nil:
		return nil
	case !ok:
		return fmt.Errorf("bucket %q does not exist at %s: create it, or fix the bucket name or the endpoint (SLUICE_S3_ENDPOINT)", s.bucket, s.endpointURL)
	}
	s.bucketOK.Store(true)
	return nil
}

// List implements Backend.
func (s *S3) List(ctx context.Context, prefix string) ([]Info, error) {
	var out []Info
	err := s.retry(ctx, func(ctx context.Context) error {
		out = out[:0]
		for oi := range s.core.Client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
			if oi.Err != nil {
				return oi.Err
			}
			name := strings.TrimPrefix(oi.Key, s.prefix)
			if strings.HasSuffix(name, "/") || checkName(name) != nil {
				continue // folder markers and names this backend cannot address
			}
			out = append(out, Info{Name: name, Size: oi.Size, ModTime: oi.LastModified})
		}
		return nil
	})
	if err != nil {
		return nil, s.describe("listing", s.prefix+prefix, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Remove implements Backend. S3 deletes are idempotent, so the object is
// looked up first to report ErrNotExist like the File backend.
func (s *S3) Remove(ctx context.Context, name string) error {
	key, err := s.key(name)
	if err != nil {
		return err
	}
	if _, err := s.stat(ctx, key); err != nil {
		return err
	}
	return s.remove(ctx, key)
}

func (s *S3) remove(ctx context.Context, key string) error {
	err := s.retry(ctx, func(ctx context.Context) error {
		return s.core.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
	})
	return s.describe("removing object", key, err)
}

// Bucket returns the backend's bucket.
func (s *S3) Bucket() string { return s.bucket }

// Prefix returns the key prefix of the backend's objects: "" or a folder
// path ending with a slash.
func (s *S3) Prefix() string { return s.prefix }
