package keys

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRotate(t *testing.T) {
	path := t.TempDir()
	d, first, err := InitDir(path, TypeX25519)
	if err != nil {
		t.Fatal(err)
	}
	now := first.Activated.Add(10 * 24 * time.Hour)

	// Younger than max_age: nothing happens.
	res, err := d.Rotate(RotateOptions{MaxAge: 180 * 24 * time.Hour, Now: now})
	if err != nil || res.Rotated || res.Active.ID != first.ID || res.Age != 10*24*time.Hour {
		t.Fatalf("young key: %+v, %v", res, err)
	}
	// Dry run: decides, changes nothing.
	res, err = d.Rotate(RotateOptions{DryRun: true, Now: now})
	if err != nil || !res.Rotated || len(d.Keys()) != 1 {
		t.Fatalf("dry run: %+v, %v, %d keys", res, err, len(d.Keys()))
	}
	res, err = d.Rotate(RotateOptions{Type: TypeHybrid, Actor: "ops@db1", Reason: "scheduled", Now: now})
	if err != nil || !res.Rotated {
		t.Fatalf("rotate: %+v, %v", res, err)
	}
	if res.Previous.ID != first.ID || res.Previous.State != StateRetired || res.Active.State != StateActive || res.Active.Type != TypeHybrid {
		t.Errorf("rotation result = %+v", res)
	}
	d2, err := OpenDir(path)
	if err != nil {
		t.Fatal(err)
	}
	ev := d2.Events()
	if len(ev) != 1 || ev[0].Action != EventRotated || ev[0].From != first.ID || ev[0].To != res.Active.ID || ev[0].Actor != "ops@db1" || ev[0].Reason != "scheduled" {
		t.Errorf("ledger events = %+v", ev)
	}
	if _, infos, err := d2.Identities(); err != nil || len(infos) != 2 {
		t.Errorf("retired key must still decrypt: %v, %v", infos, err)
	}
	if a := Actor(); !strings.Contains(a, "@") {
		t.Errorf("Actor() = %q, want user@host", a)
	}
}

// TestConcurrentRotations runs rotations from separate handles (as separate
// processes would): one holding the lock makes a no-wait attempt fail with
// ErrLocked; waiting attempts serialise, and every rotation retires the key
// the previous one activated.
func TestConcurrentRotations(t *testing.T) {
	path := t.TempDir()
	if _, _, err := InitDir(path, TypeX25519); err != nil {
		t.Fatal(err)
	}
	open := func() *Dir {
		d, err := OpenDir(path)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a, b := open(), open()
	unlock, err := a.Lock(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Lock(context.Background(), 0)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid") {
		t.Errorf("second lock = %v, want ErrLocked naming the holder", err)
	}
	unlock()

	const n = 4
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := open()
			unlock, err := d.Lock(context.Background(), time.Minute)
			if err != nil {
				errs <- err
				return
			}
			defer unlock()
			_, err = d.Rotate(RotateOptions{Type: TypeX25519})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	d := open()
	ks, ev := d.Keys(), d.Events()
	if len(ks) != n+1 || len(ev) != n {
		t.Fatalf("%d keys and %d events, want %d and %d", len(ks), len(ev), n+1, n)
	}
	for i := 1; i < len(ev); i++ {
		if ev[i].From != ev[i-1].To {
			t.Errorf("rotation %d retired %s, but %s was active", i, ev[i].From, ev[i-1].To)
		}
	}
}

func TestDestroy(t *testing.T) {
	path := t.TempDir()
	d, first, err := InitDir(path, TypeX25519)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Destroy(first.ID, DestroyOptions{}); err == nil || !strings.Contains(err.Error(), "active key") {
		t.Errorf("destroying the active key: %v", err)
	}
	if _, err := d.Rotate(RotateOptions{Type: TypeX25519}); err != nil {
		t.Fatal(err)
	}
	refuse := errors.New("backup a.age still needs it")
	if _, err := d.Destroy(first.ID, DestroyOptions{Check: func() error { return refuse }}); !errors.Is(err, refuse) {
		t.Errorf("Destroy with a failing check = %v", err)
	}
	if _, err := os.Stat(d.KeyFile(first.ID)); err != nil {
		t.Fatalf("a refused destroy removed the key: %v", err)
	}
	k, err := d.Destroy(first.ID, DestroyOptions{Reason: "no backup left"})
	if err != nil || k.State != StateDestroyed || k.Destroyed.IsZero() {
		t.Fatalf("Destroy = %+v, %v", k, err)
	}
	if _, err := os.Stat(d.KeyFile(first.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("key file still exists: %v", err)
	}
	d2, err := OpenDir(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, infos, err := d2.Identities(); err != nil || len(infos) != 1 {
		t.Errorf("Identities after destroy = %v, %v", infos, err)
	}
	if ev := d2.Events(); len(ev) != 2 || ev[1].Action != EventDestroyed || ev[1].Reason != "no backup left" {
		t.Errorf("events = %+v", ev)
	}
}
