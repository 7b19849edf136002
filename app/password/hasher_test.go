package password

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/keys"
)

// testParams are the cheapest parameters Validate accepts, to keep tests fast.
var testParams = Params{MemoryKiB: 12 * 1024, Iterations: 3, Parallelism: 1}

// spyPeppers is a key ring whose versions a test can change, and which
// records the versions looked up.
type spyPeppers struct {
	mu       sync.Mutex
	set      keys.Set
	lookedUp []int
}

func newSpyPeppers(versions ...int) *spyPeppers {
	s := &spyPeppers{}
	for _, v := range versions {
		s.add(v)
	}
	return s
}

func (s *spyPeppers) add(v int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set.Peppers = append(s.set.Peppers, keys.Secret{Version: v, Key: bytes.Repeat([]byte{byte(v)}, 32)})
}

func (s *spyPeppers) drop(v int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.set.Peppers[:0]
	for _, p := range s.set.Peppers {
		if p.Version != v {
			kept = append(kept, p)
		}
	}
	s.set.Peppers = kept
}

func (s *spyPeppers) Pepper() keys.Secret {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.set.Pepper()
}

func (s *spyPeppers) PepperVersion(v int) (keys.Secret, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lookedUp = append(s.lookedUp, v)
	return s.set.PepperVersion(v)
}

func (s *spyPeppers) lastLookup() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.lookedUp) == 0 {
		return 0
	}
	return s.lookedUp[len(s.lookedUp)-1]
}

// countingObserver counts hashes.
type countingObserver struct {
	mu                sync.Mutex
	started, finished int
	durations         []time.Duration
}

func (o *countingObserver) HashStarted() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.started++
}

func (o *countingObserver) HashFinished(d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.finished++
	o.durations = append(o.durations, d)
}

func (o *countingObserver) counts() (started, finished int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.started, o.finished
}

func newTestHasher(t testing.TB, params Params, peppers Peppers, obs Observer) *Hasher {
	t.Helper()
	h, err := NewHasher(params, peppers, NewPool(2, 8, 10*time.Second, obs))
	if err != nil {
		t.Fatalf("NewHasher: %v", err)
	}
	return h
}

func TestHashAndVerify(t *testing.T) {
	ctx := context.Background()
	peppers := newSpyPeppers(1)
	h := newTestHasher(t, testParams, peppers, nil)
	secret := Normalise("correct horse battery staple")

	encoded, err := h.Hash(ctx, secret)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if !strings.HasPrefix(encoded, "$argon2id$v=19$m=12288,t=3,p=1,pv=1$") {
		t.Fatalf("Hash = %q", encoded)
	}
	e, err := ParsePHC(encoded)
	if err != nil {
		t.Fatalf("ParsePHC(Hash): %v", err)
	}
	if len(e.Salt) != SaltBytes || len(e.Hash) != KeyBytes {
		t.Fatalf("salt %d bytes, hash %d bytes", len(e.Salt), len(e.Hash))
	}

	// The tag is Argon2id over HMAC-SHA256(pepper, secret), computed here
	// independently.
	mac := hmac.New(sha256.New, bytes.Repeat([]byte{1}, 32))
	mac.Write(secret)
	want := argon2.IDKey(mac.Sum(nil), e.Salt, 3, 12*1024, 1, KeyBytes)
	if !bytes.Equal(e.Hash, want) {
		t.Fatal("tag is not argon2id(HMAC-SHA256(pepper, secret))")
	}

	got, err := h.Verify(ctx, secret, encoded)
	if err != nil || got != (Result{OK: true}) {
		t.Fatalf("Verify(right) = %+v, %v; want OK without rehash", got, err)
	}
	got, err = h.Verify(ctx, Normalise("correct horse battery stapler"), encoded)
	if err != nil || got != (Result{}) {
		t.Fatalf("Verify(wrong) = %+v, %v; want not OK, no error", got, err)
	}

	again, err := h.Hash(ctx, secret)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if again == encoded {
		t.Fatal("two hashes of one secret are equal: salt is not random")
	}
}

func TestVerifyWrongPepperKey(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher(t, testParams, newSpyPeppers(1), nil)
	encoded, err := h.Hash(ctx, []byte("hunter2hunter2"))
	if err != nil {
		t.Fatal(err)
	}
	// Same version number, different key: the pepper must matter.
	other := &keys.Set{Peppers: []keys.Secret{{Version: 1, Key: bytes.Repeat([]byte{9}, 32)}}}
	h2 := newTestHasher(t, testParams, other, nil)
	got, err := h2.Verify(ctx, []byte("hunter2hunter2"), encoded)
	if err != nil || got.OK {
		t.Fatalf("Verify with another pepper key = %+v, %v; want not OK", got, err)
	}
}

func TestVerifyReferenceHashes(t *testing.T) {
	// Hashes from another system (no pepper) verify, and ask to be rehashed.
	ctx := context.Background()
	h := newTestHasher(t, testParams, newSpyPeppers(1), nil)
	for _, c := range []struct{ secret, encoded string }{
		{"password", referenceHashPassword},
		{"correct horse", referenceHashHorse},
	} {
		got, err := h.Verify(ctx, []byte(c.secret), c.encoded)
		if err != nil || got != (Result{OK: true, NeedsRehash: true}) {
			t.Errorf("Verify(%q, %q) = %+v, %v; want OK and NeedsRehash", c.secret, c.encoded, got, err)
		}
		got, err = h.Verify(ctx, []byte(c.secret+"x"), c.encoded)
		if err != nil || got != (Result{}) {
			t.Errorf("Verify(wrong, %q) = %+v, %v; want not OK", c.encoded, got, err)
		}
	}
}

func TestPepperRotation(t *testing.T) {
	ctx := context.Background()
	peppers := newSpyPeppers(1)
	h := newTestHasher(t, testParams, peppers, nil)
	secret := []byte("rotate me please")
	old, err := h.Hash(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}

	peppers.add(2)
	got, err := h.Verify(ctx, secret, old)
	if err != nil || got != (Result{OK: true, NeedsRehash: true}) {
		t.Fatalf("Verify(v1 hash after rotation) = %+v, %v; want OK and NeedsRehash", got, err)
	}
	if peppers.lastLookup() != 1 {
		t.Fatalf("verified with pepper version %d, want 1", peppers.lastLookup())
	}
	fresh, err := h.Hash(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fresh, ",pv=2$") {
		t.Fatalf("Hash after rotation = %q, want pv=2", fresh)
	}
	if got, err := h.Verify(ctx, secret, fresh); err != nil || got != (Result{OK: true}) {
		t.Fatalf("Verify(v2 hash) = %+v, %v", got, err)
	}

	// A retired pepper version is an error, not a silent mismatch.
	peppers.drop(1)
	got, err = h.Verify(ctx, secret, old)
	if err == nil || errs.KindOf(err) != errs.KindInternal {
		t.Fatalf("Verify(hash of retired pepper) = %+v, %v; want a KindInternal error", got, err)
	}
	if got.OK {
		t.Fatal("Verify reported OK with an error")
	}
}

func TestVerifyParamsChange(t *testing.T) {
	ctx := context.Background()
	peppers := newSpyPeppers(1)
	weak := newTestHasher(t, Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1}, peppers, nil)
	encoded, err := weak.Hash(ctx, []byte("same secret"))
	if err != nil {
		t.Fatal(err)
	}
	strong := newTestHasher(t, testParams, peppers, nil)
	got, err := strong.Verify(ctx, []byte("same secret"), encoded)
	if err != nil || got != (Result{OK: true, NeedsRehash: true}) {
		t.Fatalf("Verify(old params) = %+v, %v; want OK and NeedsRehash", got, err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	h := newTestHasher(t, testParams, newSpyPeppers(1), nil)
	_, err := h.Verify(context.Background(), []byte("x"), "$2b$10$notargon")
	if errs.KindOf(err) != errs.KindInternal {
		t.Fatalf("Verify(malformed) error = %v, want KindInternal", err)
	}
}

func TestVerifyDummy(t *testing.T) {
	ctx := context.Background()
	peppers := newSpyPeppers(1)
	obs := &countingObserver{}
	h := newTestHasher(t, testParams, peppers, obs)

	for _, secret := range [][]byte{nil, {}, []byte("password"), Normalise("correct horse battery staple")} {
		got, err := h.VerifyDummy(ctx, secret)
		if err != nil || got.OK || got.NeedsRehash {
			t.Fatalf("VerifyDummy(%q) = %+v, %v; want not OK", secret, got, err)
		}
	}
	if started, finished := obs.counts(); started != 4 || finished != 4 {
		t.Fatalf("VerifyDummy ran %d/%d hashes, want 4: each call, empty secrets too, must hash", started, finished)
	}
	if peppers.lastLookup() != 1 {
		t.Fatalf("VerifyDummy used pepper version %d, want the current 1", peppers.lastLookup())
	}

	// It follows the current pepper, like Verify of a fresh hash.
	peppers.add(7)
	if _, err := h.VerifyDummy(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if peppers.lastLookup() != 7 {
		t.Fatalf("VerifyDummy used pepper version %d after rotation, want 7", peppers.lastLookup())
	}
}

// The dummy does the work of a real verification, checked structurally
// rather than by timing (timed assertions flake on a shared machine): one
// hash in the pool, with exactly the parameters, tag length and pepper path
// of a real hash made now.
func TestVerifyDummyDoesTheWorkOfAVerify(t *testing.T) {
	ctx := context.Background()
	obs := &countingObserver{}
	h := newTestHasher(t, testParams, newSpyPeppers(1), obs)
	encoded, err := h.Hash(ctx, []byte("some password"))
	if err != nil {
		t.Fatal(err)
	}
	real, err := ParsePHC(encoded)
	if err != nil {
		t.Fatal(err)
	}
	dummy := Encoded{Params: h.params, PepperVersion: h.peppers.Pepper().Version, Salt: h.dummySalt, Hash: h.dummyTag}
	if dummy.Params != real.Params || dummy.PepperVersion != real.PepperVersion ||
		len(dummy.Salt) != len(real.Salt) || len(dummy.Hash) != len(real.Hash) {
		t.Fatalf("dummy %s differs in cost from a real hash %s", dummy.PHC(), encoded)
	}
	before, _ := obs.counts()
	if _, err := h.VerifyDummy(ctx, []byte("wrong")); err != nil {
		t.Fatal(err)
	}
	if after, _ := obs.counts(); after != before+1 {
		t.Fatalf("VerifyDummy ran %d hashes, want 1", after-before)
	}
}

func TestHasherOverloaded(t *testing.T) {
	ctx := context.Background()
	pool := NewPool(1, 0, time.Second, nil)
	h, err := NewHasher(testParams, newSpyPeppers(1), pool)
	if err != nil {
		t.Fatal(err)
	}
	hold, release := make(chan struct{}), make(chan struct{})
	go func() { _ = pool.Do(ctx, func() { close(hold); <-release }) }()
	<-hold
	defer close(release)

	for name, call := range map[string]func() error{
		"Hash":        func() error { _, err := h.Hash(ctx, []byte("x")); return err },
		"Verify":      func() error { _, err := h.Verify(ctx, []byte("x"), referenceHashHorse); return err },
		"VerifyDummy": func() error { _, err := h.VerifyDummy(ctx, []byte("x")); return err },
	} {
		err := call()
		if e := errs.As(err); e == nil || e.Kind != errs.KindUnavailable || e.Code != CodeOverloaded {
			t.Errorf("%s on a full pool: %v, want unavailable/overloaded", name, err)
		}
	}
}

func TestNewHasherRefuses(t *testing.T) {
	pool := NewPool(1, 0, time.Second, nil)
	short := &keys.Set{Peppers: []keys.Secret{{Version: 1, Key: []byte("short")}}}
	for name, build := range map[string]func() (*Hasher, error){
		"weak params": func() (*Hasher, error) {
			return NewHasher(Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}, newSpyPeppers(1), pool)
		},
		"nil peppers":  func() (*Hasher, error) { return NewHasher(testParams, nil, pool) },
		"nil pool":     func() (*Hasher, error) { return NewHasher(testParams, newSpyPeppers(1), nil) },
		"short pepper": func() (*Hasher, error) { return NewHasher(testParams, short, pool) },
	} {
		if h, err := build(); err == nil || h != nil {
			t.Errorf("%s: NewHasher = %v, %v; want an error", name, h, err)
		}
	}
}

// BenchmarkHash measures one Hash at DefaultParams: its inverse is the raw
// Argon2id rate of one core (argon2_raw_per_s).
func BenchmarkHash(b *testing.B) {
	ctx := context.Background()
	h := newTestHasher(b, DefaultParams(), newSpyPeppers(1), nil)
	secret := Normalise("correct horse battery staple")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, secret); err != nil {
			b.Fatal(err)
		}
	}
}

func TestConcurrentHashesStayWithinMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes 12 passwords at 64 MiB")
	}
	// 12 logins at once at 64 MiB each would take 768 MiB if unbounded; with
	// two workers only two Argon2id memories exist at a time. They live
	// outside the Go heap (package argon2id), so the bound is checked on
	// the process's peak resident set.
	const callers = 12
	h, err := NewHasher(DefaultParams(), newSpyPeppers(1), NewPool(2, callers, time.Minute, nil))
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	before := resetPeakRSS(t)

	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			if _, err := h.VerifyDummy(context.Background(), []byte("x")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	grown := readProcStatusKiB(t, "VmHWM:") - before
	if grown > 256<<10 {
		t.Fatalf("peak RSS grew by %d MiB for %d concurrent hashes", grown>>10, callers)
	}
	if n, kib := h.memory.kept(); n > 2 || kib > 2*64<<10 {
		t.Fatalf("kept %d Argon2id memories (%d KiB) for 2 workers", n, kib)
	}
	t.Logf("peak RSS grew by %d MiB", grown>>10)
}

// resetPeakRSS resets the process's peak resident set (VmHWM; Linux's
// clear_refs "5") and returns the current resident set, in KiB.
func resetPeakRSS(t *testing.T) uint64 {
	t.Helper()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("reset peak RSS: %v", err)
	}
	return readProcStatusKiB(t, "VmRSS:")
}

// readProcStatusKiB reads one "<field> <n> kB" line of /proc/self/status.
func readProcStatusKiB(t *testing.T, field string) uint64 {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, field); ok {
			n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s %q: %v", field, v, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}
