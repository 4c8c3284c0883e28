package blob

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"testing"
)

// These tests reach past the existence checks that Create and Commit make,
// to show that the service itself refuses to replace an object that
// appeared in the meantime (If-None-Match: * on the final request).
// They need the server that s3test starts; s3test imports this package, so
// the external tests' TestMain hands it over through SetS3TestBackend.

// s3TestBackend builds a backend of a fresh bucket with 5 MiB parts.
var s3TestBackend func(t *testing.T) *S3

func TestIntegrationS3ConditionalPut(t *testing.T) {
	s := s3TestBackend(t)
	ctx := context.Background()
	if err := s.Put(ctx, "x", []byte("first"), CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum([]byte("second"))
	if _, err := s.putSmall(ctx, s.prefix+"x", []byte("second"), sum[:], false); !errors.Is(err, ErrExist) {
		t.Fatalf("conditional PUT over an existing object: error = %v, want ErrExist", err)
	}
}

func TestIntegrationS3ConditionalComplete(t *testing.T) {
	s := s3TestBackend(t)
	ctx := context.Background()
	wi, err := s.Create(ctx, "race", CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := wi.(*s3Writer)
	defer w.Abort()
	if _, err := w.Write(bytes.Repeat([]byte("a"), 6<<20)); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "race", []byte("the other writer won"), CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := w.finishParts(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.complete(ctx); !errors.Is(err, ErrExist) {
		t.Fatalf("completing over an object that appeared: error = %v, want ErrExist", err)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	info, err := s.Stat(ctx, "race")
	if err != nil || info.Size != int64(len("the other writer won")) {
		t.Fatalf("the other writer's object changed: %+v, %v", info, err)
	}
}
