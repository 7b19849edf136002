package ratelimit

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-id/gatehouse/app/cache"
	"github.com/gatehouse-id/gatehouse/regions/latency"
)

const testRedisURL = "redis://127.0.0.1:6379/12"

// testRedis connects to the real Redis (DB 12) and fails the test when it
// cannot; keys under prefix are removed afterwards.
func testRedis(t testing.TB, url string) redis.UniversalClient {
	t.Helper()
	rdb, err := cache.NewClient(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func testPrefix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = crand.Read(b)
	p := "test:rl:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DB: 12})
		defer rdb.Close()
		ctx := context.Background()
		for _, pat := range []string{p + "*", "rate:" + p + "*"} {
			iter := rdb.Scan(ctx, 0, pat, 1000).Iterator()
			for iter.Next(ctx) {
				rdb.Del(ctx, iter.Val())
			}
		}
	})
	return p
}

func mustPing(t testing.TB, rdb redis.UniversalClient) {
	t.Helper()
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at %s is required: %v", testRedisURL, err)
	}
}

// fakeClock is an injectable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type fallbackLog struct {
	mu     sync.Mutex
	events []bool
}

func (f *fallbackLog) Fallback(active bool) {
	f.mu.Lock()
	f.events = append(f.events, active)
	f.mu.Unlock()
}
func (f *fallbackLog) list() []bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]bool(nil), f.events...)
}

var policy = Policy{ChallengeAfter: 5, LockAfter: 20, Window: 10 * time.Minute,
	LockBase: 5 * time.Minute, LockMax: 4 * time.Hour, LockMemory: 24 * time.Hour}

// stores returns a Redis-backed and an in-process Store.
func stores(t *testing.T, now func() time.Time) map[string]*Store {
	rdb := testRedis(t, testRedisURL)
	mustPing(t, rdb)
	return map[string]*Store{"redis": New(rdb, Options{}, nil, now), "memory": New(nil, Options{}, nil, now)}
}

// 50 parallel attempts against one lane with LockAfter 20 must yield exactly
// 20 reservations (ZITADEL CVE-2023-47111, Keycloak #31726).
func TestReserveIsExactUnderConcurrency(t *testing.T) {
	for name, s := range stores(t, time.Now) {
		t.Run(name, func(t *testing.T) {
			key := testPrefix(t) + "acct"
			var proceeded, locked atomic.Int32
			var wg sync.WaitGroup
			for range 50 {
				wg.Go(func() {
					r, err := s.Reserve(context.Background(), key, "u", policy, true)
					if err != nil {
						t.Error(err)
						return
					}
					switch r.Verdict {
					case Proceed:
						proceeded.Add(1)
					case Locked:
						locked.Add(1)
					}
				})
			}
			wg.Wait()
			if proceeded.Load() != 20 || locked.Load() != 30 {
				t.Fatalf("proceeded %d locked %d, want exactly 20 and 30", proceeded.Load(), locked.Load())
			}
		})
	}
}

// The Lua script and the in-process lane must agree on every step of a
// random history, including windows, locks, doubling and forgetting.
func TestLaneRedisMatchesMemory(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_900_000_000, 0)}
	ss := stores(t, clock.Now)
	p := Policy{ChallengeAfter: 3, LockAfter: 6, Window: 10 * time.Minute, LockBase: time.Minute, LockMax: 16 * time.Minute, LockMemory: time.Hour}
	prefix := testPrefix(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for step := range 3000 {
		solved := rng.IntN(3) > 0
		var got [2]Reservation
		for i, name := range []string{"redis", "memory"} {
			r, err := ss[name].Reserve(context.Background(), prefix+"lane", "u", p, solved)
			if err != nil {
				t.Fatal(err)
			}
			r.Shared = false
			got[i] = r
		}
		if got[0] != got[1] {
			t.Fatalf("step %d: redis %+v, memory %+v", step, got[0], got[1])
		}
		switch rng.IntN(10) {
		case 0:
			clock.Advance(time.Duration(rng.IntN(40)) * time.Minute)
		case 1:
			for _, s := range ss {
				if _, err := s.Exec(context.Background(), HDel(prefix+"lane", LaneFields("u")...)); err != nil {
					t.Fatal(err)
				}
			}
		default:
			clock.Advance(time.Duration(rng.IntN(30)) * time.Second)
		}
	}
}

func TestLockDoublesAndCaps(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_900_000_000, 0)}
	for name, s := range stores(t, clock.Now) {
		t.Run(name, func(t *testing.T) {
			p := Policy{LockAfter: 3, Window: 10 * time.Minute, LockBase: 5 * time.Minute, LockMax: 30 * time.Minute, LockMemory: 24 * time.Hour}
			key := testPrefix(t) + "acct"
			for range 3 {
				if r, _ := s.Reserve(context.Background(), key, "u", p, false); r.Verdict != Proceed {
					t.Fatalf("want proceed, got %+v", r)
				}
			}
			want := []time.Duration{5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 30 * time.Minute, 30 * time.Minute}
			for i, w := range want {
				r, _ := s.Reserve(context.Background(), key, "u", p, false)
				if r.Verdict != Locked || !r.JustLocked || r.RetryAfter != w {
					t.Fatalf("lock %d: got %+v, want a fresh %v lock", i, r, w)
				}
				if r, _ := s.Reserve(context.Background(), key, "u", p, false); r.Verdict != Locked || r.JustLocked {
					t.Fatalf("lock %d: still locked expected, got %+v", i, r)
				}
				clock.Advance(w)
				// One attempt after each lock, then the next, longer lock.
				if r, _ := s.Reserve(context.Background(), key, "u", p, false); r.Verdict != Proceed {
					t.Fatalf("after lock %d: want one attempt, got %+v", i, r)
				}
			}
			// A success (the caller clears the lane) forgets everything.
			if _, err := s.Exec(context.Background(), HDel(key, LaneFields("u")...)); err != nil {
				t.Fatal(err)
			}
			if r, _ := s.Reserve(context.Background(), key, "u", p, false); r.Verdict != Proceed || r.Failures != 1 {
				t.Fatalf("after reset: %+v", r)
			}
		})
	}
}

func TestGCRA(t *testing.T) {
	for name, s := range stores(t, time.Now) {
		t.Run(name, func(t *testing.T) {
			key := testPrefix(t) + "lim"
			l := PerMinute(6, 3)
			for i := range 3 {
				if r, err := s.Allow(context.Background(), key, l); err != nil || !r.Allowed {
					t.Fatalf("event %d: %+v %v", i, r, err)
				}
			}
			r, _ := s.Allow(context.Background(), key, l)
			if r.Allowed || r.RetryAfter < 9*time.Second || r.RetryAfter > 10*time.Second {
				t.Fatalf("4th event: %+v, want denied with ~10s retry", r)
			}
		})
	}
}

func TestExecOpsAndOnce(t *testing.T) {
	for name, s := range stores(t, time.Now) {
		t.Run(name, func(t *testing.T) {
			p := testPrefix(t)
			ctx := context.Background()
			_, err := s.Exec(ctx, PFAdd(p+"h", "a", time.Minute), PFAdd(p+"h", "b", time.Minute), PFAdd(p+"h", "a", time.Minute),
				HIncr(p+"s", "a", 2, time.Minute), HIncr(p+"s", "f", 1, time.Minute), Set(p+"k", "v", time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Exec(ctx, PFCount(p+"h"), HGet(p+"s", "a", "f", "x"), Get(p+"k"), Get(p+"missing"))
			if err != nil {
				t.Fatal(err)
			}
			if res[0].Int != 2 || res[1].Ints[0] != 2 || res[1].Ints[1] != 1 || res[1].Ints[2] != 0 ||
				res[2].Str != "v" || !res[2].Found || res[3].Found {
				t.Fatalf("results %+v", res)
			}
			first, _ := s.Once(ctx, p+"once", time.Minute)
			again, _ := s.Once(ctx, p+"once", time.Minute)
			if !first || again {
				t.Fatalf("once: %v then %v", first, again)
			}
		})
	}
}

// Redis cut: the store answers from the process (limits still hold), says
// so once, and resumes the shared state when Redis is back; failures
// counted meanwhile are carried into Redis.
func TestFallbackAndRecovery(t *testing.T) {
	proxy, err := latency.Start("127.0.0.1:0", "127.0.0.1:6379", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	rdb := testRedis(t, "redis://"+proxy.Addr()+"/12")
	mustPing(t, rdb)
	direct := testRedis(t, testRedisURL)
	obs := &fallbackLog{}
	s := New(rdb, Options{ProbeInterval: 50 * time.Millisecond, Observer: obs}, nil, time.Now)
	p := testPrefix(t)
	ctx := context.Background()
	l := PerMinute(1, 4)

	allow := func() Result {
		r, err := s.Allow(ctx, p+"lim", l)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for range 2 {
		if r := allow(); !r.Allowed || !r.Shared {
			t.Fatalf("before cut: %+v", r)
		}
	}
	if r, _ := s.Reserve(ctx, p+"acct", "u", policy, true); r.Failures != 1 || !r.Shared {
		t.Fatalf("reserve before cut: %+v", r)
	}

	proxy.Cut()
	// The fallback enforces the same limit on its own bucket.
	for i := range 4 {
		if r := allow(); !r.Allowed || r.Shared {
			t.Fatalf("cut, event %d: %+v", i, r)
		}
	}
	if r := allow(); r.Allowed {
		t.Fatalf("cut: the in-process limit did not hold: %+v", r)
	}
	for range 3 {
		if r, _ := s.Reserve(ctx, p+"acct", "u", policy, true); r.Shared {
			t.Fatalf("reserve while cut should be local: %+v", r)
		}
	}
	if got := obs.list(); len(got) != 1 || !got[0] {
		t.Fatalf("fallback events %v, want [true]", got)
	}

	proxy.Restore()
	time.Sleep(120 * time.Millisecond)
	deadline := time.Now().Add(3 * time.Second)
	var r Result
	for r = allow(); !r.Shared && time.Now().Before(deadline); r = allow() {
		time.Sleep(20 * time.Millisecond)
	}
	// Redis had 2 of 4 used; the probe used the 3rd, so one is left.
	if !r.Shared || !r.Allowed {
		t.Fatalf("after restore: %+v", r)
	}
	if r := allow(); !r.Allowed || !r.Shared {
		t.Fatalf("after restore, 4th shared event: %+v", r)
	}
	if r := allow(); r.Allowed {
		t.Fatalf("after restore the shared limit should be spent: %+v", r)
	}
	if got := obs.list(); len(got) != 2 || got[1] {
		t.Fatalf("fallback events %v, want [true false]", got)
	}
	// 1 failure in Redis + 3 counted while cut, carried over, + this one.
	if r, _ := s.Reserve(ctx, p+"acct", "u", policy, true); r.Failures != 5 || !r.Shared {
		t.Fatalf("carry-over: %+v", r)
	}
	v, err := direct.HGet(ctx, p+"acct", "uf").Int()
	if err != nil || v != 5 {
		t.Fatalf("redis lane holds %d (%v), want 5", v, err)
	}
}

func TestMemoryIsBounded(t *testing.T) {
	s := New(nil, Options{MaxMemoryKeys: 1600}, nil, time.Now)
	for i := range 20000 {
		_, _ = s.Allow(context.Background(), "k"+strconv.Itoa(i), PerMinute(1, 1))
	}
	if n := s.mem.keys(); n > 1600 {
		t.Fatalf("memory holds %d keys, bound 1600", n)
	}
}
