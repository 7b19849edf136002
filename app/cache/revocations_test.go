package cache

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/revocation"
)

func prime(t *testing.T, s *Sessions) {
	t.Helper()
	ctx := context.Background()
	if err := s.BeginPriming(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.FinishPriming(ctx, "t"); !ok || err != nil {
		t.Fatalf("FinishPriming = %v, %v", ok, err)
	}
}

// lose deletes every key of the test's namespace, as a Redis restart
// without persistence would (never FLUSHDB: other tests share the DB).
func lose(t *testing.T, s *Sessions) {
	t.Helper()
	ctx := context.Background()
	keys, err := s.rdb.Keys(ctx, s.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) > 0 {
		if err := s.rdb.Del(ctx, keys...).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestUnprimedRedisIsNotTrusted(t *testing.T) {
	ctx := context.Background()
	s := testClient(t)
	id := uuid.New()
	if _, err := s.SessionRevoked(ctx, id); !errors.Is(err, ErrNotPrimed) {
		t.Fatalf("an unprimed Redis answered %v, want ErrNotPrimed", err)
	}
	prime(t, s)
	if got, err := s.SessionRevoked(ctx, id); got || err != nil {
		t.Fatalf("primed, unmarked: %v %v", got, err)
	}
	lose(t, s)
	if _, err := s.SessionRevoked(ctx, id); !errors.Is(err, ErrNotPrimed) {
		t.Fatalf("after losing its data: %v, want ErrNotPrimed", err)
	}
	// A load during which Redis loses its data does not set the flag.
	if err := s.BeginPriming(ctx, "load-1"); err != nil {
		t.Fatal(err)
	}
	lose(t, s)
	if ok, err := s.FinishPriming(ctx, "load-1"); ok || err != nil {
		t.Fatalf("FinishPriming after a flush = %v, %v; want false", ok, err)
	}
	if ok, _ := s.Primed(ctx); ok {
		t.Fatal("primed after a load that lost its data")
	}
}

func TestAddMissingReportsNewMarks(t *testing.T) {
	ctx := context.Background()
	s := testClient(t)
	prime(t, s)
	now := time.Now()
	a, b := uuid.New(), uuid.New()
	if err := s.RevokeSessions(ctx, []uuid.UUID{a}, time.Minute); err != nil {
		t.Fatal(err)
	}
	fresh, err := s.AddMissing(ctx, []revocation.Revocation{
		{SessionID: a, RevokedAt: now, ExpiresAt: now.Add(time.Minute)},
		{SessionID: b, RevokedAt: now, ExpiresAt: now.Add(time.Minute)},
	}, now)
	if err != nil || fresh[0] || !fresh[1] {
		t.Fatalf("AddMissing = %v, %v; want [false true]", fresh, err)
	}
	if got, err := s.SessionRevoked(ctx, b); !got || err != nil {
		t.Fatalf("b after AddMissing: %v %v", got, err)
	}
	ttl, _ := s.rdb.TTL(ctx, s.revokedKey(b)).Result()
	if ttl <= 50*time.Second || ttl > time.Minute {
		t.Fatalf("mark ttl %v, want until the revocation expires", ttl)
	}
}

func TestNoncesFirstUse(t *testing.T) {
	ctx := context.Background()
	s := testClient(t)
	n := NewNonces(s.rdb, s.prefix)
	if ok, err := n.FirstUse(ctx, "k1/abc", time.Second); !ok || err != nil {
		t.Fatalf("first: %v %v", ok, err)
	}
	if ok, err := n.FirstUse(ctx, "k1/abc", time.Second); ok || err != nil {
		t.Fatalf("second: %v %v", ok, err)
	}
	dead, _ := NewClient("redis://127.0.0.1:1/0")
	defer dead.Close()
	if _, err := NewNonces(dead, "").FirstUse(ctx, "k", time.Second); err == nil {
		t.Fatal("a dead Redis must refuse, not accept")
	}
}

func TestPollerLease(t *testing.T) {
	ctx := context.Background()
	s := testClient(t)
	if ok, err := s.Lead(ctx, "one", 300*time.Millisecond); !ok || err != nil {
		t.Fatalf("first holder: %v %v", ok, err)
	}
	if ok, _ := s.Lead(ctx, "two", 300*time.Millisecond); ok {
		t.Fatal("a second holder took a held lease")
	}
	if ok, _ := s.Lead(ctx, "one", 300*time.Millisecond); !ok {
		t.Fatal("the holder could not renew")
	}
	time.Sleep(400 * time.Millisecond)
	if ok, _ := s.Lead(ctx, "two", 300*time.Millisecond); !ok {
		t.Fatal("an expired lease was not free")
	}
}
