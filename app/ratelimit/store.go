// Package ratelimit holds Gatehouse's throttling primitives on the region's
// Redis: GCRA limits (go-redis/redis_rate), per-subject failure lanes with
// atomic reservation and escalating locks, single-use markers, distinct
// counts (HyperLogLog) and windowed counters. Every primitive has an
// in-process equivalent with the same semantics that takes over while Redis
// is unreachable, so logins continue and protection stays; when Redis
// answers again the shared state resumes.
//
// Every Redis key the package touches is used alone (one key per command or
// script), so it is safe on Redis Cluster without hash tags.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// FallbackObserver is told when the Store switches between Redis (active
// false) and its in-process fallback (active true).
type FallbackObserver interface {
	Fallback(active bool)
}

// Options tune a Store. The zero value is usable.
type Options struct {
	// ProbeInterval is how long the Store stays on its in-process fallback
	// after a Redis failure before it tries Redis again (default 1 s).
	// While down, only one request per interval pays for the probe.
	ProbeInterval time.Duration
	// MaxMemoryKeys bounds the in-process fallback (default 200,000 keys).
	MaxMemoryKeys int
	// Observer is told about fallback switches; nil for none.
	Observer FallbackObserver
}

// Store runs the primitives on Redis, or in process while Redis is away.
type Store struct {
	rdb     redis.UniversalClient
	limiter *redis_rate.Limiter
	mem     *memory
	log     *slog.Logger
	obs     FallbackObserver
	now     func() time.Time
	probe   time.Duration

	down    atomic.Bool
	retryAt atomic.Int64 // unix nanoseconds of the next probe
}

// New builds a Store on rdb. A nil rdb keeps everything in process (a
// single development server).
func New(rdb redis.UniversalClient, opts Options, logger *slog.Logger, now func() time.Time) *Store {
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = time.Second
	}
	if opts.MaxMemoryKeys <= 0 {
		opts.MaxMemoryKeys = 200_000
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	s := &Store{rdb: rdb, mem: newMemory(opts.MaxMemoryKeys), log: logger, obs: opts.Observer, now: now, probe: opts.ProbeInterval}
	if rdb != nil {
		s.limiter = redis_rate.NewLimiter(rdb)
	}
	return s
}

// Shared reports whether the Store currently uses Redis (true) or its
// in-process fallback (false).
func (s *Store) Shared() bool { return s.rdb != nil && !s.down.Load() }

// useRedis reports whether this call should go to Redis. While Redis is
// marked down, one caller per probe interval is let through to try it.
func (s *Store) useRedis() bool {
	if s.rdb == nil {
		return false
	}
	if !s.down.Load() {
		return true
	}
	at := s.retryAt.Load()
	n := s.now().UnixNano()
	if n < at {
		return false
	}
	return s.retryAt.CompareAndSwap(at, n+int64(s.probe))
}

// failed handles an error from Redis. It returns a non-nil error only when
// the caller's context ended (the request is gone; no fallback is due);
// otherwise Redis is marked down and the caller falls back.
func (s *Store) failed(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("ratelimit: %s: %w", op, cerr)
	}
	s.retryAt.Store(s.now().Add(s.probe).UnixNano())
	if !s.down.Swap(true) {
		s.log.WarnContext(ctx, "redis unreachable: limits and counters fall back to this process", "op", op, "error", err)
		if s.obs != nil {
			s.obs.Fallback(true)
		}
	}
	return nil
}

// succeeded notes that Redis answered.
func (s *Store) succeeded(ctx context.Context) {
	if s.down.Load() && s.down.CompareAndSwap(true, false) {
		s.log.InfoContext(ctx, "redis reachable again: shared limits resume")
		if s.obs != nil {
			s.obs.Fallback(false)
		}
	}
}

// isRedisErr tells a Redis failure from an answer (redis.Nil is an answer).
func isRedisErr(err error) bool { return err != nil && !errors.Is(err, redis.Nil) }

// Once reports whether this is the first use of key within ttl (Redis SET
// NX with a TTL; in process while Redis is away). It makes challenges and
// other tokens single-use.
func (s *Store) Once(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if s.useRedis() {
		ok, err := s.rdb.SetNX(ctx, key, "1", ttl).Result()
		if !isRedisErr(err) {
			s.succeeded(ctx)
			return ok, nil
		}
		if ferr := s.failed(ctx, "once", err); ferr != nil {
			return false, ferr
		}
	}
	now := s.now()
	sh := s.mem.lock(key)
	defer sh.mu.Unlock()
	if sh.get(key, now) != nil {
		return false, nil
	}
	e := sh.make(key, now, s.mem.perShard)
	e.expireNX(now, ttl)
	return true, nil
}
