package keys

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeLoader serves whatever Set and error the test gives it.
type fakeLoader struct {
	mu    sync.Mutex
	set   *Set
	err   error
	calls int
}

func (f *fakeLoader) Load(ctx context.Context) (*Set, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	return f.set, nil
}

func (f *fakeLoader) serve(set *Set, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.set, f.err = set, err
}

func (f *fakeLoader) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// keyChain makes reproducible-enough test versions: peppers 1..np, signing
// keys 1..ns. Versions that exist in both a and b are the same keys.
type keyChain struct {
	peppers map[int]Secret
	signers map[int]SigningKey
}

func newChain() *keyChain {
	return &keyChain{peppers: map[int]Secret{}, signers: map[int]SigningKey{}}
}

func (c *keyChain) set(t testing.TB, np, ns int) *Set {
	t.Helper()
	s := &Set{}
	for v := 1; v <= np; v++ {
		p, ok := c.peppers[v]
		if !ok {
			k := make([]byte, 32)
			rand.Read(k)
			p = Secret{Version: v, Key: k}
			c.peppers[v] = p
		}
		s.Peppers = append(s.Peppers, p)
	}
	for v := 1; v <= ns; v++ {
		k, ok := c.signers[v]
		if !ok {
			priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			k = SigningKey{Name: "test-signing", Version: v, Private: priv}
			c.signers[v] = k
		}
		s.Signing = append(s.Signing, k)
	}
	return s
}

func logTo(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// syncBuffer is a bytes.Buffer safe for the Ring's goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestNewRingNeedsKeys(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("vault is down")
	if _, err := NewRing(ctx, &fakeLoader{err: boom}, nil); !errors.Is(err, boom) {
		t.Errorf("NewRing with a failing loader: %v, want %v", err, boom)
	}
	if _, err := NewRing(ctx, &fakeLoader{}, nil); err == nil {
		t.Error("NewRing with a nil set succeeded")
	}
	c := newChain()
	noSigner := c.set(t, 1, 0)
	if _, err := NewRing(ctx, &fakeLoader{set: noSigner}, nil); err == nil {
		t.Error("NewRing with no signing key succeeded")
	}
	weak := &Set{Peppers: []Secret{{Version: 1, Key: []byte("short")}}, Signing: c.set(t, 0, 1).Signing}
	if _, err := NewRing(ctx, &fakeLoader{set: weak}, nil); err == nil {
		t.Error("NewRing with a 5-byte pepper succeeded")
	}
	if _, err := NewRing(ctx, nil, nil); err == nil {
		t.Error("NewRing with a nil loader succeeded")
	}
}

func TestRingServesCurrentSet(t *testing.T) {
	c := newChain()
	set := c.set(t, 2, 3)
	// Give it out of order: NewRing validates, which sorts.
	set.Peppers[0], set.Peppers[1] = set.Peppers[1], set.Peppers[0]
	var buf bytes.Buffer
	r, err := NewRing(context.Background(), &fakeLoader{set: set}, logTo(&buf))
	if err != nil {
		t.Fatal(err)
	}
	if r.Current() != set {
		t.Error("Current is not the loaded set")
	}
	if p := r.Pepper(); p.Version != 2 {
		t.Errorf("Pepper version %d, want 2", p.Version)
	}
	if p, ok := r.PepperVersion(1); !ok || !bytes.Equal(p.Key, c.peppers[1].Key) {
		t.Error("PepperVersion(1) missing or wrong")
	}
	if _, ok := r.PepperVersion(7); ok {
		t.Error("PepperVersion(7) found")
	}
	if k := r.Signer(); k.KID() != "test-signing-v3" {
		t.Errorf("Signer kid %q, want test-signing-v3", k.KID())
	}
	if k, ok := r.SigningKeyByKID("test-signing-v1"); !ok || !k.Private.Equal(c.signers[1].Private) {
		t.Error("SigningKeyByKID(v1) missing or wrong")
	}
	ks := r.SigningKeys()
	if len(ks) != 3 || ks[0].Version != 1 || ks[2].Version != 3 {
		t.Errorf("SigningKeys = %v", ks)
	}
	ks[0] = SigningKey{} // the caller's copy
	if r.SigningKeys()[0].Version != 1 {
		t.Error("SigningKeys returned the Ring's own slice")
	}
	if time.Since(r.LoadedAt()) > time.Minute {
		t.Errorf("LoadedAt = %v", r.LoadedAt())
	}
	if !strings.Contains(buf.String(), "keys: loaded") {
		t.Errorf("no load logged: %s", buf.String())
	}
}

// The interface the lead's auth code wants; *Ring must satisfy it.
var _ interface {
	Pepper() Secret
	PepperVersion(int) (Secret, bool)
	Signer() SigningKey
	SigningKeyByKID(string) (SigningKey, bool)
	SigningKeys() []SigningKey
} = (*Ring)(nil)

func TestRingRefreshPicksUpNewVersion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newChain()
		l := &fakeLoader{set: c.set(t, 1, 1)}
		var logs syncBuffer
		r, err := NewRing(t.Context(), l, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { r.Run(ctx, time.Minute); close(done) }()

		l.serve(c.set(t, 2, 1), nil)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if v := r.Pepper().Version; v != 1 {
			t.Fatalf("refreshed before the interval: pepper v%d", v)
		}
		time.Sleep(40 * time.Second) // past 1m ± 10%
		synctest.Wait()
		if v := r.Pepper().Version; v != 2 {
			t.Fatalf("after a refresh pepper is v%d, want 2", v)
		}
		if _, ok := r.PepperVersion(1); !ok {
			t.Fatal("pepper v1 gone after the rotation")
		}

		l.serve(c.set(t, 2, 2), nil)
		time.Sleep(70 * time.Second)
		synctest.Wait()
		if kid := r.Signer().KID(); kid != "test-signing-v2" {
			t.Fatalf("after a refresh signer is %s, want v2", kid)
		}
		if !strings.Contains(logs.String(), "key versions changed") {
			t.Errorf("change not logged: %s", logs.String())
		}

		cancel()
		<-done
	})
}

func TestRingFailingRefreshKeepsOldSet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newChain()
		first := c.set(t, 1, 1)
		l := &fakeLoader{set: first}
		var logs syncBuffer
		r, err := NewRing(t.Context(), l, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { r.Run(ctx, time.Minute); close(done) }()

		l.serve(nil, errors.New("dial tcp 10.0.0.1:8200: connection refused"))
		time.Sleep(5 * time.Minute)
		synctest.Wait()
		if r.Current() != first {
			t.Fatal("a failed refresh replaced the key set")
		}
		if n := l.count(); n < 4 {
			t.Fatalf("%d loads in 5 minutes, want about 5", n)
		}
		out := logs.String()
		if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "connection refused") ||
			!strings.Contains(out, "consecutive_failures=4") {
			t.Errorf("warning not logged as expected:\n%s", out)
		}
		for _, secret := range []string{
			string(first.Peppers[0].Key), hex.EncodeToString(first.Peppers[0].Key),
			base64.StdEncoding.EncodeToString(first.Peppers[0].Key), first.Signing[0].Private.D.String(),
		} {
			if strings.Contains(out, secret) {
				t.Fatal("key material in the log")
			}
		}

		// An invalid set is a failure too.
		l.serve(&Set{Peppers: first.Peppers}, nil)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if r.Current() != first {
			t.Fatal("an invalid set replaced the key set")
		}

		// Recovery.
		l.serve(c.set(t, 2, 1), nil)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if r.Pepper().Version != 2 {
			t.Fatal("did not recover after the source came back")
		}
		cancel()
		<-done
	})
}

func TestRingReload(t *testing.T) {
	c := newChain()
	l := &fakeLoader{set: c.set(t, 1, 1)}
	r, err := NewRing(context.Background(), l, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	l.serve(c.set(t, 3, 1), nil)
	if err := r.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.Pepper().Version != 3 {
		t.Fatalf("pepper v%d after Reload, want 3", r.Pepper().Version)
	}
	boom := errors.New("boom")
	l.serve(nil, boom)
	before := r.Current()
	if err := r.Reload(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Reload = %v, want %v", err, boom)
	}
	if r.Current() != before {
		t.Fatal("failed Reload replaced the set")
	}
}

// A token signed by a replica that saw a rotation first, or a hash made with
// its newer pepper, makes this replica refresh early, without waiting for the
// interval; foreign kids and old versions do not.
func TestRingRefreshesEarlyForNewerVersion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newChain()
		l := &fakeLoader{set: c.set(t, 1, 1)}
		r, err := NewRing(t.Context(), l, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { r.Run(ctx, time.Hour); close(done) }()
		synctest.Wait()

		for _, kid := range []string{"other-key-v9", "test-signing-v0", "test-signing-v1x", "test-signing-v01", "test-signing-v1", ""} {
			r.SigningKeyByKID(kid)
		}
		r.PepperVersion(0)
		synctest.Wait()
		if n := l.count(); n != 1 {
			t.Fatalf("%d loads after lookups of unknown old or foreign versions, want 1", n)
		}

		l.serve(c.set(t, 1, 2), nil)
		if _, ok := r.SigningKeyByKID("test-signing-v2"); ok {
			t.Fatal("found v2 before any refresh")
		}
		synctest.Wait()
		if _, ok := r.SigningKeyByKID("test-signing-v2"); !ok {
			t.Fatal("no early refresh after a lookup of a newer kid")
		}

		// Rate limited: a burst of misses makes at most one load per few seconds.
		time.Sleep(6 * time.Second) // past the rate limit of the refresh above
		l.serve(c.set(t, 2, 2), nil)
		calls := l.count()
		for range 100 {
			r.PepperVersion(3)
			synctest.Wait()
		}
		if n := l.count() - calls; n != 1 {
			t.Fatalf("%d loads for a burst of misses, want 1", n)
		}
		if _, ok := r.PepperVersion(2); !ok {
			t.Fatal("no early refresh after a lookup of a newer pepper")
		}
		time.Sleep(10 * time.Second)
		r.PepperVersion(3)
		synctest.Wait()
		if n := l.count() - calls; n != 2 {
			t.Fatalf("%d loads, want 2 once the rate limit has passed", n)
		}
		cancel()
		<-done
	})
}

// Readers on the hot path run concurrently with reloads (run with -race).
func TestRingConcurrentReads(t *testing.T) {
	c := newChain()
	sets := []*Set{c.set(t, 1, 1), c.set(t, 2, 1), c.set(t, 2, 2), c.set(t, 3, 2)}
	l := &fakeLoader{set: sets[0]}
	r, err := NewRing(context.Background(), l, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				p := r.Pepper()
				if _, ok := r.PepperVersion(p.Version); !ok {
					// The sets cycle, so a reload between the two calls may
					// drop p's version; the consistent view must hold it.
					set := r.Current()
					if _, ok := set.PepperVersion(set.Pepper().Version); !ok {
						t.Error("current pepper not found by version")
						return
					}
				}
				if _, ok := r.SigningKeyByKID(r.Signer().KID()); !ok {
					// The set may change between the two calls; Current() is the
					// way to get a consistent view.
					set := r.Current()
					if _, ok := set.SigningKeyByKID(set.Signer().KID()); !ok {
						t.Error("current signer not found by kid")
						return
					}
				}
				_ = r.SigningKeys()
			}
		})
	}
	for i := range 200 {
		l.serve(sets[i%len(sets)], nil)
		if err := r.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}
