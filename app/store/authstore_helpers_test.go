package store_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/store"
	"github.com/gatehouse-id/gatehouse/app/store/storetest"
	"github.com/gatehouse-id/gatehouse/schema"
)

// Compile-time proof, from the outside, that the store implements auth.Store.
var _ auth.Store = (*store.DB)(nil)

// fixture is a migrated database plus a raw connection for assertions the
// store's API does not expose.
type fixture struct {
	db  *store.DB
	raw *pgx.Conn
	now time.Time
	tb  testing.TB
	ctx context.Context
}

func newFixture(tb testing.TB, maxConns int32) *fixture {
	tb.Helper()
	ctx := context.Background()
	url := storetest.NewDatabase(tb)
	db, err := store.Open(ctx, url, store.Options{MaxConns: maxConns, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(db.Close)
	ms, err := store.LoadMigrations(schema.Files)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := db.Migrate(ctx, "main", ms); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	raw, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { raw.Close(context.Background()) })
	return &fixture{db: db, raw: raw, now: time.Now().UTC().Truncate(time.Microsecond), tb: tb, ctx: ctx}
}

func randomBytes(tb testing.TB) []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return b
}

// count runs a SELECT count(*) … and returns the number.
func (f *fixture) count(query string, args ...any) int {
	f.tb.Helper()
	var n int
	if err := f.raw.QueryRow(f.ctx, query, args...).Scan(&n); err != nil {
		f.tb.Fatalf("%s: %v", query, err)
	}
	return n
}

// newUser builds a user and an argon2id credential; email must be unique.
func (f *fixture) newUser(email string) (auth.User, []byte, auth.Credential) {
	id := uuid.New()
	u := auth.User{ID: id, HomeRegion: "us-east1", Email: email, Status: auth.StatusActive, CreatedAt: f.now, UpdatedAt: f.now}
	c := auth.Credential{UserID: id, HomeRegion: "us-east1", Kind: auth.CredentialArgon2id, Hash: "$argon2id$" + email, CreatedAt: f.now, UpdatedAt: f.now}
	return u, []byte("hash:" + email), c
}

func (f *fixture) createUser(email string) auth.User {
	f.tb.Helper()
	u, h, c := f.newUser(email)
	if err := f.db.CreateUser(f.ctx, u, h, c); err != nil {
		f.tb.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// createSession opens a session for u with client "web" and returns it
// with its first refresh token's hash.
func (f *fixture) createSession(u auth.User, createdAt time.Time, ttl time.Duration) (auth.Session, []byte) {
	f.tb.Helper()
	s := auth.Session{ID: uuid.New(), UserID: u.ID, HomeRegion: u.HomeRegion, ClientID: "web", AMR: []string{"pwd", "otp"},
		ACR: "aal2", AuthTime: createdAt, CreatedAt: createdAt, LastSeenAt: createdAt, ExpiresAt: createdAt.Add(ttl),
		IP: "192.0.2.1", UserAgent: "test-agent"}
	h := randomBytes(f.tb)
	rt := auth.RefreshToken{Hash: h, CreatedAt: createdAt, ExpiresAt: createdAt.Add(ttl)}
	if err := f.db.CreateSession(f.ctx, s, rt); err != nil {
		f.tb.Fatalf("create session: %v", err)
	}
	return s, h
}

// rotation redeems presented at now with a fresh successor.
func (f *fixture) rotation(presented []byte, now time.Time, grace time.Duration) auth.Rotation {
	return auth.Rotation{PresentedHash: presented, ClientID: "web",
		Next: auth.RefreshToken{Hash: randomBytes(f.tb), CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)},
		Now:  now, Grace: grace, IP: "198.51.100.7", UserAgent: "rotator"}
}

func (f *fixture) rotate(r auth.Rotation) auth.RotationResult {
	f.tb.Helper()
	res, err := f.db.RotateRefresh(f.ctx, r)
	if err != nil {
		f.tb.Fatalf("rotate: %v", err)
	}
	return res
}

// wantErr checks an error's kind and, when code is set, its code.
func wantErr(tb testing.TB, err error, kind errs.Kind, code string) {
	tb.Helper()
	e := errs.As(err)
	if e == nil || e.Kind != kind || (code != "" && e.Code != code) {
		tb.Fatalf("want %v/%q, got %v", kind, code, err)
	}
}

// eventsOf returns the user's events of one kind.
func (f *fixture) eventsOf(userID uuid.UUID, kind string) []auth.Event {
	f.tb.Helper()
	evs, err := f.db.Events(f.ctx, userID)
	if err != nil {
		f.tb.Fatal(err)
	}
	var out []auth.Event
	for _, ev := range evs {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	bx, _ := json.Marshal(x) // map keys come out sorted
	by, _ := json.Marshal(y)
	return string(bx) == string(by)
}
