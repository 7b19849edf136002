package router

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// mapReplay is a ReplayStore shared by several verifiers, as Redis is by
// the instances of one region.
type mapReplay struct {
	mu   sync.Mutex
	seen map[string]time.Duration
	down bool
}

func (m *mapReplay) FirstUse(_ context.Context, key string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return false, errors.New("connection refused")
	}
	if _, ok := m.seen[key]; ok {
		return false, nil
	}
	m.seen[key] = ttl
	return true, nil
}

func TestSharedReplayStoreAcrossInstances(t *testing.T) {
	w := newWorld(t, 0, nil)
	store := &mapReplay{seen: map[string]time.Duration{}}
	instance := func() *Verifier {
		v, err := NewVerifier(VerifierConfig{Self: regionB, Topology: w.topo, Keys: w.keys, Now: w.clock.now, Replay: store, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	one, two := instance(), instance()
	r := func() []byte { return []byte(`{}`) }
	req := signed(Key{ID: "k2", Secret: testSecret}, regionA, regionB, "POST", "/v1/login", `{}`, w.clock.now(), nonceN(7))
	if _, err := one.Check(req, r()); err != nil {
		t.Fatalf("first instance: %v", err)
	}
	if _, err := two.Check(req, r()); !errors.Is(err, ErrReplayed) {
		t.Fatalf("second instance accepted a replay: %v", err)
	}
	if ttl := store.seen["k2/"+nonceN(7)]; ttl <= 0 || ttl > DefaultMaxAge+DefaultMaxSkew {
		t.Fatalf("nonce kept for %v, want the rest of the validity window", ttl)
	}
	store.down = true
	fresh := signed(Key{ID: "k2", Secret: testSecret}, regionA, regionB, "POST", "/v1/login", `{}`, w.clock.now(), nonceN(8))
	if _, err := one.Check(fresh, r()); !errors.Is(err, ErrReplayUnavailable) {
		t.Fatalf("with the replay store down: %v, want ErrReplayUnavailable", err)
	}
}
