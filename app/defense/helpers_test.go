package defense

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-id/gatehouse/app/cache"
)

const testRedisURL = "redis://127.0.0.1:6379/12"

var testSecret = []byte("0123456789abcdef0123456789abcdef-test-secret")

// testRedis connects to the real Redis through url; a test that cannot
// reach it fails.
func testRedis(t testing.TB, url string) redis.UniversalClient {
	t.Helper()
	rdb, err := cache.NewClient(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at %s is required: %v", url, err)
	}
	return rdb
}

// testConfig is DefaultConfig under a random key prefix (removed after the
// test) with cheap challenges.
func testConfig(t testing.TB) Config {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	cfg := DefaultConfig()
	cfg.KeyPrefix = "test:def:" + hex.EncodeToString(b) + ":"
	cfg.Challenge.BaseDifficulty, cfg.Challenge.MaxDifficulty = 4, 8
	t.Cleanup(func() {
		rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 12})
		defer rdb.Close()
		ctx := context.Background()
		for _, pat := range []string{cfg.KeyPrefix + "*", "rate:" + cfg.KeyPrefix + "*"} {
			iter := rdb.Scan(ctx, 0, pat, 1000).Iterator()
			for iter.Next(ctx) {
				rdb.Del(ctx, iter.Val())
			}
		}
	})
	return cfg
}

func newGuard(t testing.TB, cfg Config, rdb redis.UniversalClient, obs Observer, now func() time.Time) *Guard {
	t.Helper()
	g, err := New(cfg, rdb, testSecret, obs, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// recorder is an Observer that counts.
type recorder struct {
	mu        sync.Mutex
	decisions map[string]int
	fallback  []bool
}

func (r *recorder) Decision(l Layer, o Outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.decisions == nil {
		r.decisions = map[string]int{}
	}
	r.decisions[string(l)+"/"+string(o)]++
}

func (r *recorder) Fallback(active bool) {
	r.mu.Lock()
	r.fallback = append(r.fallback, active)
	r.mu.Unlock()
}

func (r *recorder) count(l Layer, o Outcome) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.decisions[string(l)+"/"+string(o)]
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// ip4 is 10.a.b.c: distinct a.b give distinct /24 subnets.
func ip4(a, b, c int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(a), byte(b), byte(c)})
}

func account(i int) string { return fmt.Sprintf("acct-%06d", i) }

// attemptOnce plays one login attempt as a client would: Check, solving a
// challenge when asked (up to 3 times), then Record when the credential may
// be checked. It returns the final decision.
func attemptOnce(t testing.TB, g *Guard, a Attempt, success bool) Decision {
	t.Helper()
	ctx := context.Background()
	for range 4 {
		d, err := g.Check(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if d.Action == ActionChallenge {
			sol, err := SolveChallenge(ctx, d.Challenge)
			if err != nil {
				t.Fatal(err)
			}
			a.Challenge = &sol
			continue
		}
		if d.Proceed() {
			if err := g.Record(ctx, a, success); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	t.Fatal("still challenged after solving three challenges")
	return Decision{}
}

func (r *recorder) fallbacks() []bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bool(nil), r.fallback...)
}
