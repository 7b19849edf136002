package store

import (
	"context"
	"crypto/rand"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/store/storetest"
	"github.com/gatehouse-id/gatehouse/schema"
)

// A redemption of an unused token is one round trip: BEGIN, the rotation
// statements and COMMIT travel together. Anything else costs that attempt
// and then rotateInTx's: a read and a write with the commit for a sibling;
// a read and the commit (on CockroachDB RELEASE, then COMMIT) when there is
// nothing to write.
func TestRotateRefreshRoundTrips(t *testing.T) {
	for _, cockroach := range []bool{false, true} {
		name := map[bool]string{false: "postgres", true: "cockroach protocol"}[cockroach]
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			cfg, err := pgxpool.ParseConfig(storetest.NewDatabase(t))
			if err != nil {
				t.Fatal(err)
			}
			trips := &roundTrips{}
			cfg.MaxConns = 1
			cfg.ConnConfig.Tracer = trips
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			db := &DB{pool: pool, logger: slog.New(slog.DiscardHandler), cockroach: cockroach}
			ms, err := LoadMigrations(schema.Files)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Migrate(ctx, "main", ms); err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC().Truncate(time.Microsecond)
			u := auth.User{ID: uuid.New(), HomeRegion: "us-east1", Email: "trips@example.com", Status: auth.StatusActive,
				CreatedAt: now, UpdatedAt: now}
			if err := db.CreateUser(ctx, u, []byte("email-hash"), auth.Credential{UserID: u.ID, HomeRegion: u.HomeRegion,
				Kind: auth.CredentialArgon2id, Hash: "$argon2id$x", CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			s := auth.Session{ID: uuid.New(), UserID: u.ID, HomeRegion: u.HomeRegion, ClientID: "web", AuthTime: now,
				CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
			cur := random32(t)
			if err := db.CreateSession(ctx, s, auth.RefreshToken{Hash: cur, CreatedAt: now, ExpiresAt: s.ExpiresAt}); err != nil {
				t.Fatal(err)
			}
			redeem := func(presented []byte, at time.Time, grace time.Duration) (auth.RotationResult, []byte, int64) {
				t.Helper()
				next := random32(t)
				before := trips.n.Load()
				res, err := db.RotateRefresh(ctx, auth.Rotation{PresentedHash: presented, ClientID: "web", Now: at, Grace: grace,
					Next: auth.RefreshToken{Hash: next, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}})
				if err != nil {
					t.Fatal(err)
				}
				return res, next, trips.n.Load() - before
			}

			// The first run fills the connection's statement cache.
			res, next, _ := redeem(cur, now.Add(time.Second), 0)
			if res.Outcome != auth.RotationRotated {
				t.Fatalf("first rotation: %v", res.Outcome)
			}
			res, next, got := redeem(next, now.Add(30*time.Second), 10*time.Second)
			if res.Outcome != auth.RotationRotated || !res.Session.LastSeenAt.Equal(now) {
				t.Fatalf("rotation: %+v", res)
			}
			if got != 1 {
				t.Errorf("rotating an unused token took %d round trips, want 1", got)
			}
			// A minute or more after the session was last seen, one more
			// round trip (after the commit) records its use.
			used := next
			res, _, got = redeem(used, now.Add(2*time.Minute), 10*time.Second)
			if res.Outcome != auth.RotationRotated || !res.Session.LastSeenAt.Equal(now.Add(2*time.Minute)) {
				t.Fatalf("rotation: %+v", res)
			}
			if got != 2 {
				t.Errorf("rotating an unused token of a session last seen 2 minutes ago took %d round trips, want 2", got)
			}
			if stored, err := db.Session(ctx, s.ID); err != nil || !stored.LastSeenAt.Equal(now.Add(2*time.Minute)) {
				t.Fatalf("stored last_seen_at: %+v %v", stored.LastSeenAt, err)
			}
			res, _, got = redeem(random32(t), now.Add(3*time.Minute), 0)
			want := map[bool]int64{false: 3, true: 4}[cockroach]
			if res.Outcome != auth.RotationInvalid || got != want {
				t.Errorf("an unknown token: %v in %d round trips, want invalid in %d", res.Outcome, got, want)
			}
			// Within the grace window: the fast attempt finds it used, then
			// rotateInTx reads it and issues a sibling with the commit.
			res, _, got = redeem(used, now.Add(2*time.Minute+time.Second), 10*time.Second)
			if res.Outcome != auth.RotationRotated {
				t.Fatalf("sibling: %v", res.Outcome)
			}
			if got != 3 {
				t.Errorf("a sibling within grace took %d round trips, want 3", got)
			}
		})
	}
}

func random32(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
