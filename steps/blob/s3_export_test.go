package blob

import "testing"

// SetS3TestBackend lets the external tests, which can start an S3 server,
// give the internal ones a backend.
func SetS3TestBackend(f func(t *testing.T) *S3) { s3TestBackend = f }
