package store_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/errs"
)

func TestPasswordResetCompletesOnce(t *testing.T) {
	f := newFixture(t, 0)
	u := f.createUser("ada@example.com")
	s1, rt1 := f.createSession(u, f.now, time.Hour)
	if _, err := f.db.ForcePasswordReset(f.ctx, u.ID, f.now, auth.Event{ID: uuid.New(), Kind: auth.EventForceReset, At: f.now}); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.db.User(f.ctx, u.ID); !got.MustChangePassword {
		t.Fatal("force reset did not set must_change_password")
	}
	if s, _ := f.db.Session(f.ctx, s1.ID); s.RevokeReason != "password_reset_forced" {
		t.Fatalf("force reset did not revoke: %+v", s)
	}
	s2, _ := f.createSession(u, f.now, time.Hour)

	tokenHash, other := randomBytes(t), randomBytes(t)
	for _, h := range [][]byte{tokenHash, other} {
		r := auth.PasswordReset{Hash: h, UserID: u.ID, HomeRegion: u.HomeRegion, CreatedAt: f.now, ExpiresAt: f.now.Add(time.Hour)}
		msg := auth.OutboxMessage{ID: uuid.New(), HomeRegion: u.HomeRegion, Kind: "password_reset", Recipient: u.Email,
			Payload: map[string]any{"link": "https://example.com/r"}, CreatedAt: f.now}
		if err := f.db.CreatePasswordReset(f.ctx, r, msg); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.count(`SELECT count(*) FROM outbox WHERE kind = 'password_reset' AND payload->>'link' = 'https://example.com/r'`); n != 2 {
		t.Fatalf("outbox messages = %d", n)
	}

	at := f.now.Add(time.Minute)
	next := auth.Credential{Kind: auth.CredentialArgon2id, Hash: "$argon2id$reset", CreatedAt: at, UpdatedAt: at}
	uid, revoked, err := f.db.CompletePasswordReset(f.ctx, tokenHash, next, at, auth.Event{ID: uuid.New(), Kind: auth.EventPasswordReset, At: at})
	if err != nil {
		t.Fatal(err)
	}
	if uid != u.ID || len(revoked) != 1 || revoked[0] != s2.ID {
		t.Fatalf("complete: user %s revoked %v", uid, revoked)
	}
	got, cred, _ := f.db.UserWithCredential(f.ctx, u.ID)
	if cred.Hash != "$argon2id$reset" || got.MustChangePassword {
		t.Fatalf("after reset: %+v %+v", got, cred)
	}
	if evs := f.eventsOf(u.ID, auth.EventPasswordReset); len(evs) != 1 || evs[0].HomeRegion != u.HomeRegion {
		t.Fatalf("reset events: %+v", evs)
	}
	if res := f.rotate(f.rotation(rt1, at, 0)); res.Outcome != auth.RotationInvalid {
		t.Fatalf("old refresh token after reset: %v", res.Outcome)
	}

	// Used, pending-but-superseded, unknown and expired tokens are all invalid_token.
	for name, h := range map[string][]byte{"used": tokenHash, "other pending": other, "unknown": randomBytes(t)} {
		_, _, err := f.db.CompletePasswordReset(f.ctx, h, next, at, auth.Event{ID: uuid.New(), Kind: auth.EventPasswordReset, At: at})
		if e := errs.As(err); e == nil || e.Kind != errs.KindNotFound || e.Code != "invalid_token" {
			t.Fatalf("%s token: %v", name, err)
		}
	}
	expired := randomBytes(t)
	_ = f.db.CreatePasswordReset(f.ctx, auth.PasswordReset{Hash: expired, UserID: u.ID, HomeRegion: u.HomeRegion, CreatedAt: at, ExpiresAt: at.Add(time.Hour)},
		auth.OutboxMessage{ID: uuid.New(), HomeRegion: u.HomeRegion, Kind: "password_reset", Recipient: u.Email, CreatedAt: at})
	_, _, err = f.db.CompletePasswordReset(f.ctx, expired, next, at.Add(time.Hour), auth.Event{ID: uuid.New(), Kind: auth.EventPasswordReset, At: at})
	wantErr(t, err, errs.KindNotFound, "invalid_token")
	if n := len(f.eventsOf(u.ID, auth.EventPasswordReset)); n != 1 {
		t.Fatalf("failed redemptions wrote events: %d", n)
	}
}

func TestChangePassword(t *testing.T) {
	f := newFixture(t, 0)
	u := f.createUser("ada@example.com")
	keep, _ := f.createSession(u, f.now, time.Hour)
	other, _ := f.createSession(u, f.now, time.Hour)
	if _, err := f.db.ForcePasswordReset(f.ctx, uuid.New(), f.now, auth.Event{ID: uuid.New(), Kind: auth.EventForceReset, At: f.now}); !errs.Is(err, errs.KindNotFound) {
		t.Fatalf("force reset of unknown user: %v", err)
	}
	if _, err := f.raw.Exec(f.ctx, `UPDATE users SET must_change_password = true WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	_, cur, _ := f.db.UserWithCredential(f.ctx, u.ID)
	next := auth.Credential{UserID: u.ID, HomeRegion: u.HomeRegion, Kind: auth.CredentialArgon2id, Hash: "$argon2id$changed", UpdatedAt: f.now}

	_, err := f.db.ChangePassword(f.ctx, "stale", next, keep.ID, f.now, auth.Event{ID: uuid.New(), Kind: auth.EventPasswordChanged, At: f.now})
	wantErr(t, err, errs.KindConflict, "credential_changed")
	if s, _ := f.db.Session(f.ctx, other.ID); s.RevokedAt != nil || len(f.eventsOf(u.ID, auth.EventPasswordChanged)) != 0 {
		t.Fatal("a refused change wrote something")
	}

	revoked, err := f.db.ChangePassword(f.ctx, cur.Hash, next, keep.ID, f.now, auth.Event{ID: uuid.New(), Kind: auth.EventPasswordChanged, At: f.now})
	if err != nil || len(revoked) != 1 || revoked[0] != other.ID {
		t.Fatalf("change: %v %v", revoked, err)
	}
	got, cred, _ := f.db.UserWithCredential(f.ctx, u.ID)
	if cred.Hash != next.Hash || got.MustChangePassword {
		t.Fatalf("after change: %+v %+v", got, cred)
	}
	if s, _ := f.db.Session(f.ctx, keep.ID); s.RevokedAt != nil {
		t.Fatal("the caller's session was revoked")
	}
	if n := len(f.eventsOf(u.ID, auth.EventPasswordChanged)); n != 1 {
		t.Fatalf("events = %d", n)
	}
}
