package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/errs"
)

func TestSessionsCreateListRevoke(t *testing.T) {
	f := newFixture(t, 0)
	ada := f.createUser("ada@example.com")
	bob := f.createUser("bob@example.com")
	older, rt := f.createSession(ada, f.now, time.Hour)
	newer, _ := f.createSession(ada, f.now.Add(time.Second), time.Hour)
	f.createSession(ada, f.now.Add(-2*time.Hour), time.Hour) // expired
	bobs, _ := f.createSession(bob, f.now, time.Hour)

	got, err := f.db.Session(f.ctx, older.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.AMR, []string{"pwd", "otp"}) || got.ACR != "aal2" || got.ClientID != "web" || got.IP != "192.0.2.1" ||
		got.UserAgent != "test-agent" || !got.AuthTime.Equal(f.now) || !got.ExpiresAt.Equal(f.now.Add(time.Hour)) || got.RevokedAt != nil {
		t.Fatalf("session: %+v", got)
	}
	if _, err := f.db.Session(f.ctx, uuid.New()); !errs.Is(err, errs.KindNotFound) {
		t.Fatalf("unknown session: %v", err)
	}

	tok, sess, user, err := f.db.RefreshTokenInfo(f.ctx, rt)
	if err != nil || tok.SessionID != older.ID || tok.UserID != ada.ID || tok.ClientID != "web" || tok.UsedAt != nil ||
		sess.ID != older.ID || user.ID != ada.ID || string(tok.Hash) != string(rt) {
		t.Fatalf("refresh token info: %+v %+v %+v %v", tok, sess, user, err)
	}
	if _, _, _, err := f.db.RefreshTokenInfo(f.ctx, []byte("unknown")); !errs.Is(err, errs.KindNotFound) {
		t.Fatalf("unknown token: %v", err)
	}

	list, err := f.db.ListSessions(f.ctx, ada.ID, f.now.Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != newer.ID || list[1].ID != older.ID {
		t.Fatalf("list: want newest first, active only; got %v", ids(list))
	}

	// Another user's session is not found and stays untouched.
	if _, err := f.db.RevokeSession(f.ctx, ada.ID, bobs.ID, "ended_by_user", f.now); !errs.Is(err, errs.KindNotFound) {
		t.Fatalf("revoke of another user's session: %v", err)
	}
	if s, _ := f.db.Session(f.ctx, bobs.ID); s.RevokedAt != nil {
		t.Fatal("another user's session was revoked")
	}

	at := f.now.Add(3 * time.Second)
	wasActive, err := f.db.RevokeSession(f.ctx, ada.ID, older.ID, "ended_by_user", at)
	if err != nil || !wasActive {
		t.Fatalf("revoke: %v %v", wasActive, err)
	}
	wasActive, err = f.db.RevokeSession(f.ctx, ada.ID, older.ID, "again", at.Add(time.Second))
	if err != nil || wasActive {
		t.Fatalf("second revoke: %v %v", wasActive, err)
	}
	s, _ := f.db.Session(f.ctx, older.ID)
	if s.RevokedAt == nil || !s.RevokedAt.Equal(at) || s.RevokeReason != "ended_by_user" {
		t.Fatalf("revoked session keeps its first revocation: %+v", s)
	}
	if list, _ := f.db.ListSessions(f.ctx, ada.ID, at); len(list) != 1 || list[0].ID != newer.ID {
		t.Fatalf("list after revoke: %v", ids(list))
	}
	if res := f.rotate(f.rotation(rt, at.Add(time.Second), time.Minute)); res.Outcome != auth.RotationInvalid {
		t.Fatalf("refresh token of a revoked session: %v", res.Outcome)
	}
}

func TestRevokeUserSessionsKeepsOne(t *testing.T) {
	f := newFixture(t, 0)
	ada := f.createUser("ada@example.com")
	bob := f.createUser("bob@example.com")
	keep, _ := f.createSession(ada, f.now, time.Hour)
	other, _ := f.createSession(ada, f.now, time.Hour)
	bobs, _ := f.createSession(bob, f.now, time.Hour)
	ev := &auth.Event{ID: uuid.New(), UserID: ada.ID, HomeRegion: ada.HomeRegion, Kind: auth.EventSessionsRevoked, At: f.now}

	got, err := f.db.RevokeUserSessions(f.ctx, ada.ID, keep.ID, "logout_all", f.now, ev)
	if err != nil || !slices.Equal(got, []uuid.UUID{other.ID}) {
		t.Fatalf("revoked %v, %v; want [%s]", got, err, other.ID)
	}
	if s, _ := f.db.Session(f.ctx, keep.ID); s.RevokedAt != nil {
		t.Fatal("kept session was revoked")
	}
	if s, _ := f.db.Session(f.ctx, bobs.ID); s.RevokedAt != nil {
		t.Fatal("another user's session was revoked")
	}
	if n := len(f.eventsOf(ada.ID, auth.EventSessionsRevoked)); n != 1 {
		t.Fatalf("events = %d", n)
	}
	got, err = f.db.RevokeUserSessions(f.ctx, ada.ID, uuid.Nil, "logout_all", f.now, nil)
	if err != nil || !slices.Equal(got, []uuid.UUID{keep.ID}) {
		t.Fatalf("revoke all: %v %v", got, err)
	}
}

func ids(ss []auth.Session) []uuid.UUID {
	var out []uuid.UUID
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}
