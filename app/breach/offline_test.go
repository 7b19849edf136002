package breach

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// writeCorpus writes c in the downloader's layout: one XXXXX.txt per
// prefix, CRLF lines, no padding.
func writeCorpus(t *testing.T, dir string, c corpus) {
	t.Helper()
	prefixes := map[string]bool{}
	for h := range c {
		prefixes[h[:5]] = true
	}
	for p := range prefixes {
		if err := os.WriteFile(filepath.Join(dir, p+".txt"), []byte(c.rangeBody(p, false)+"\r\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOffline(t *testing.T) {
	dir := t.TempDir()
	c := testCorpus()
	writeCorpus(t, dir, c)
	absentPrefix := fullHash(absentPassword)[:5]
	if err := os.WriteFile(filepath.Join(dir, absentPrefix+".txt"), []byte(c.rangeBody(absentPrefix, true)), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := NewOffline(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	ctx := context.Background()
	for pw, want := range map[string]int{"password": 9545824, "P@ssw0rd": 12, "hunter2": 1, absentPassword: 0} {
		if got, err := o.Breached(ctx, pw); err != nil || got != want {
			t.Errorf("Breached(%q) = %d, %v; want %d", pw, got, err, want)
		}
	}
	// Served from memory once read.
	if err := os.Remove(filepath.Join(dir, fullHash("password")[:5]+".txt")); err != nil {
		t.Fatal(err)
	}
	if got, err := o.Breached(ctx, "password"); err != nil || got != 9545824 {
		t.Fatalf("cached Breached = %d, %v", got, err)
	}
}

func TestOfflineMissingAndMalformed(t *testing.T) {
	dir := t.TempDir()
	o, err := NewOffline(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	ctx := context.Background()
	_, err = o.Breached(ctx, "password")
	if !errs.Is(err, errs.KindUnavailable) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, fullHash("password")[:5]+".txt"), []byte("not a range\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Breached(ctx, "password"); !errs.Is(err, errs.KindUnavailable) {
		t.Fatalf("malformed file: %v", err)
	}
	ctxDone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := o.Breached(ctxDone, "password"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
	if _, err := NewOffline(filepath.Join(dir, "nope")); err == nil {
		t.Fatal("NewOffline of a missing directory succeeded")
	}
}

func TestOfflineLRUEvicts(t *testing.T) {
	dir := t.TempDir()
	o, err := NewOffline(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	ctx := context.Background()
	pw := func(i int) string { return fmt.Sprintf("pw-%d", i) }
	prefixes := map[string]bool{}
	for i := 0; len(prefixes) < offlineLRUSize+10; i++ {
		h := fullHash(pw(i))
		if prefixes[h[:5]] {
			continue
		}
		prefixes[h[:5]] = true
		line := h[5:] + ":3\n"
		if err := os.WriteFile(filepath.Join(dir, h[:5]+".txt"), []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
		if n, err := o.Breached(ctx, pw(i)); err != nil || n != 3 {
			t.Fatalf("Breached(%s) = %d, %v", pw(i), n, err)
		}
	}
	o.mu.Lock()
	size := o.order.Len()
	o.mu.Unlock()
	if size != offlineLRUSize {
		t.Fatalf("LRU holds %d, want %d", size, offlineLRUSize)
	}
	// The oldest was evicted: with its file gone it is an error again.
	first := fullHash(pw(0))[:5]
	_ = os.Remove(filepath.Join(dir, first+".txt"))
	if _, err := o.Breached(ctx, pw(0)); err == nil || !strings.Contains(err.Error(), "offline corpus") {
		t.Fatalf("evicted prefix: %v", err)
	}
}
