package ratelimit

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/go-redis/redis_rate/v10"
)

// Limit is a GCRA limit: Rate events per Period on average, with bursts of
// up to Burst events.
type Limit struct {
	Rate   int
	Burst  int
	Period time.Duration
}

// PerMinute is a limit of n per minute with a burst of burst.
func PerMinute(n, burst int) Limit { return Limit{Rate: n, Burst: burst, Period: time.Minute} }

// PerSecond is a limit of n per second with a burst of burst.
func PerSecond(n, burst int) Limit { return Limit{Rate: n, Burst: burst, Period: time.Second} }

// Valid reports whether the limit can be enforced.
func (l Limit) Valid() bool { return l.Rate > 0 && l.Burst > 0 && l.Period > 0 }

// String describes the limit.
func (l Limit) String() string {
	return fmt.Sprintf("%d per %s (burst %d)", l.Rate, l.Period, l.Burst)
}

// Result is the answer of a limit.
type Result struct {
	// Allowed is true when the event may happen (and was counted).
	Allowed bool
	// Remaining is how many more events would be allowed right now.
	Remaining int
	// RetryAfter is how long until the next event is allowed; 0 when allowed.
	RetryAfter time.Duration
	// Shared is false when the answer came from the in-process fallback.
	Shared bool
}

// Allow counts one event against key under limit, GCRA (go-redis/redis_rate
// in Redis; the same algorithm in process while Redis is away). A denied
// event is not counted.
func (s *Store) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	if !l.Valid() {
		return Result{}, fmt.Errorf("ratelimit: invalid limit %v for %q", l, key)
	}
	if s.useRedis() {
		res, err := s.limiter.Allow(ctx, key, redis_rate.Limit{Rate: l.Rate, Burst: l.Burst, Period: l.Period})
		if err == nil {
			s.succeeded(ctx)
			r := Result{Allowed: res.Allowed > 0, Remaining: res.Remaining, Shared: true}
			if !r.Allowed {
				r.RetryAfter = max(res.RetryAfter, time.Millisecond)
			}
			return r, nil
		}
		if ferr := s.failed(ctx, "gcra", err); ferr != nil {
			return Result{}, ferr
		}
	}
	return s.memAllow(key, l), nil
}

// gcraEpoch keeps the in-process float arithmetic as precise as
// redis_rate's (which counts from 2017 for the same reason).
var gcraEpoch = time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)

// memAllow is redis_rate's GCRA script, in process.
func (s *Store) memAllow(key string, l Limit) Result {
	nowT := s.now()
	now := nowT.Sub(gcraEpoch).Seconds()
	emission := l.Period.Seconds() / float64(l.Rate)
	burstOffset := emission * float64(l.Burst)

	k := "rate:" + key
	sh := s.mem.lock(k)
	defer sh.mu.Unlock()
	tat := now
	if e := sh.get(k, nowT); e != nil {
		tat = math.Max(e.tat, now)
	}
	newTat := tat + emission
	diff := now - (newTat - burstOffset)
	if diff < 0 {
		return Result{RetryAfter: max(time.Duration(-diff*float64(time.Second)), time.Millisecond)}
	}
	resetAfter := newTat - now
	e := sh.make(k, nowT, s.mem.perShard)
	e.tat = newTat
	e.exp = nowT.Add(time.Duration(math.Ceil(resetAfter)) * time.Second)
	return Result{Allowed: true, Remaining: int(diff / emission)}
}
