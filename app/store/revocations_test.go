package store_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/revocation"
)

func TestGlobalRevocationTable(t *testing.T) {
	f := newFixture(t, 0)
	db, ctx, now := f.db, f.ctx, f.now
	a, b, old := uuid.New(), uuid.New(), uuid.New()
	revs := []revocation.Revocation{
		{SessionID: a, RevokedAt: now, ExpiresAt: now.Add(16 * time.Minute)},
		{SessionID: b, RevokedAt: now.Add(time.Second), ExpiresAt: now.Add(16 * time.Minute)},
		{SessionID: old, RevokedAt: now.Add(-20 * time.Minute), ExpiresAt: now.Add(-4 * time.Minute)},
	}
	if err := db.RecordRevocations(ctx, revs); err != nil {
		t.Fatal(err)
	}
	// Recording again (a retried fan-out) keeps the first row.
	if err := db.RecordRevocations(ctx, []revocation.Revocation{{SessionID: a, RevokedAt: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	got, err := db.RevocationsSince(ctx, now.Add(-time.Hour), now, 10)
	if err != nil || len(got) != 2 || got[0].SessionID != a || got[1].SessionID != b || !got[0].RevokedAt.Equal(now) {
		t.Fatalf("since an hour ago: %+v %v (want a then b; the expired row left out)", got, err)
	}
	if got, err := db.RevocationsSince(ctx, now.Add(time.Second), now, 10); err != nil || len(got) != 1 || got[0].SessionID != b {
		t.Fatalf("since b: %+v %v", got, err)
	}
	if got, err := db.RevocationsSince(ctx, now.Add(-time.Hour), now, 1); err != nil || len(got) != 1 {
		t.Fatalf("limit: %+v %v", got, err)
	}
	if n, err := db.DeleteExpiredRevocations(ctx, now, 100); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
}
