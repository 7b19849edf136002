package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/store"
	"github.com/gatehouse-id/gatehouse/schema"
)

// One holder per lease at a time: another instance gets it only once it
// has run out; the holder renews it.
func TestPurgeLeaseHasOneHolder(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	ms, err := store.LoadMigrations(schema.Files)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx, "main", ms); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, step := range []struct {
		holder string
		at     time.Time
		want   bool
	}{
		{"a", now, true},
		{"b", now.Add(time.Minute), false},    // a holds it
		{"a", now.Add(2 * time.Minute), true}, // a renews until +12m
		{"b", now.Add(11 * time.Minute), false},
		{"b", now.Add(13 * time.Minute), true}, // run out: b takes it
		{"a", now.Add(14 * time.Minute), false},
	} {
		got, err := db.AcquireLease(ctx, "purge:us-east1", step.holder, step.at, 10*time.Minute)
		if err != nil || got != step.want {
			t.Fatalf("%s at +%s: got %v %v, want %v", step.holder, step.at.Sub(now), got, err, step.want)
		}
	}
	// Another region's lease is another row.
	if got, err := db.AcquireLease(ctx, "purge:eu-west1", "a", now.Add(14*time.Minute), 10*time.Minute); err != nil || !got {
		t.Fatalf("another lease: %v %v", got, err)
	}
}

// The purge deletes in batches: a batch of 2 clears 5 dead rows.
func TestPurgeWorksInBatches(t *testing.T) {
	ctx := context.Background()
	db := openTestDB(t)
	ms, err := store.LoadMigrations(schema.Files)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx, "main", ms); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour)
	uid := uuid.New()
	for i := range 5 {
		r := auth.PasswordReset{Hash: []byte{byte(i), 1, 2, 3}, UserID: uid, HomeRegion: "us-east1", CreatedAt: past, ExpiresAt: past}
		if err := db.CreatePasswordReset(ctx, r, auth.OutboxMessage{ID: uuid.New(), HomeRegion: "us-east1", Kind: "password_reset", Recipient: "x@example.org", CreatedAt: past}); err != nil {
			t.Fatal(err)
		}
	}
	live := auth.PasswordReset{Hash: []byte("live"), UserID: uid, HomeRegion: "us-east1", CreatedAt: past, ExpiresAt: time.Now().Add(time.Hour)}
	if err := db.CreatePasswordReset(ctx, live, auth.OutboxMessage{ID: uuid.New(), HomeRegion: "us-east1", Kind: "password_reset", Recipient: "x@example.org", CreatedAt: past}); err != nil {
		t.Fatal(err)
	}
	res, err := db.Purge(ctx, "us-east1", time.Now(), store.PurgeOptions{Batch: 2})
	if err != nil || len(res) != 5 || res["password_resets"] != 5 {
		t.Fatalf("purge: %v %v", res, err)
	}
	if n, err := db.CountRows(ctx, "password_resets"); err != nil || n != 1 {
		t.Fatalf("the live reset must stay alone: %d %v", n, err)
	}
	if _, err := db.CountRows(ctx, "users; DROP TABLE users"); err == nil {
		t.Fatal("CountRows must refuse a table it does not look after")
	}
}
