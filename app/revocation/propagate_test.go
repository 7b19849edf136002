package revocation_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/cache"
	"github.com/gatehouse-id/gatehouse/app/revocation"
)

// memLog is the GLOBAL table in memory.
type memLog struct {
	mu   sync.Mutex
	rows []revocation.Revocation
}

func (l *memLog) RecordRevocations(_ context.Context, revs []revocation.Revocation) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range revs {
		if !slices.ContainsFunc(l.rows, func(x revocation.Revocation) bool { return x.SessionID == r.SessionID }) {
			l.rows = append(l.rows, r)
		}
	}
	return nil
}

func (l *memLog) RevocationsSince(_ context.Context, since, now time.Time, limit int) ([]revocation.Revocation, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []revocation.Revocation
	for _, r := range l.rows {
		if !r.RevokedAt.Before(since) && r.ExpiresAt.After(now) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b revocation.Revocation) int { return a.RevokedAt.Compare(b.RevokedAt) })
	return out[:min(len(out), limit)], nil
}

func (l *memLog) DeleteExpiredRevocations(context.Context, time.Time, int) (int64, error) {
	return 0, nil
}

// downMarks is another region's Redis that cannot be reached.
type downMarks struct{ calls int }

func (d *downMarks) RevokeSessions(context.Context, []uuid.UUID, time.Duration) error {
	d.calls++
	return errors.New("i/o timeout")
}

type counted struct {
	mu sync.Mutex
	n  int
}

func (c *counted) RevocationPropagated(time.Duration) { c.mu.Lock(); c.n++; c.mu.Unlock() }
func (c *counted) get() int                           { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

func redisSessions(t *testing.T) *cache.Sessions {
	t.Helper()
	rdb, err := cache.NewClient("redis://127.0.0.1:6379/14")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	prefix := "ghtest:" + uuid.NewString() + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		if keys, _ := rdb.Keys(ctx, prefix+"*").Result(); len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	return cache.NewSessions(rdb, prefix)
}

// A region whose Redis the fan-out cannot reach learns the revocation
// from the table at its next poll; a region whose Redis lost its data is
// not believed until it has been reloaded.
func TestRevocationReachesARegionTheFanOutMissed(t *testing.T) {
	ctx := context.Background()
	log := &memLog{}
	homeRedis, awayRedis := redisSessions(t), redisSessions(t)
	down := &downMarks{}
	seen := &counted{}
	home, err := revocation.New(revocation.Config{Local: homeRedis, Remote: map[string]revocation.Marks{"away": down},
		Log: log, Lifetime: 16 * time.Minute, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	away, err := revocation.New(revocation.Config{Local: awayRedis, Log: log, Lifetime: 16 * time.Minute,
		Observer: seen, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	// away starts empty: not primed, so not believed; its first poll loads it.
	if _, err := away.SessionRevoked(ctx, uuid.New()); !errors.Is(err, cache.ErrNotPrimed) {
		t.Fatalf("an unprimed Redis answered %v", err)
	}
	if err := away.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := away.SessionRevoked(ctx, uuid.New()); err != nil {
		t.Fatalf("after priming: %v", err)
	}

	sid := uuid.New()
	if err := home.RevokeSessions(ctx, []uuid.UUID{sid}, 16*time.Minute); err != nil {
		t.Fatalf("an unreachable remote Redis must not fail the revocation: %v", err)
	}
	if down.calls != 1 {
		t.Fatalf("fan-out calls %d", down.calls)
	}
	if got, err := home.SessionRevoked(ctx, sid); !got || err != nil {
		t.Fatalf("home: %v %v", got, err)
	}
	if got, _ := away.SessionRevoked(ctx, sid); got {
		t.Fatal("away knew before polling (the fan-out was down)")
	}
	if err := away.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := away.SessionRevoked(ctx, sid); !got || err != nil {
		t.Fatalf("away after one poll: %v %v", got, err)
	}
	if seen.get() != 1 {
		t.Fatalf("propagation observed %d times, want once (the poll made it visible)", seen.get())
	}
	// The fan-out stays paused for a while after a failure.
	if err := home.RevokeSessions(ctx, []uuid.UUID{uuid.New()}, 16*time.Minute); err != nil || down.calls != 1 {
		t.Fatalf("paused fan-out: %v, calls %d", err, down.calls)
	}
}
