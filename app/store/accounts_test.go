package store_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/store"
)

func TestCreateUserLookupAndConflicts(t *testing.T) {
	f := newFixture(t, 0)
	u, h, c := f.newUser("ada@example.com")
	u.ExternalID = "legacy-1"
	c.Kind, c.Recipe = auth.CredentialWrapped, json.RawMessage(`{"alg": "sha1", "salt": "abc"}`)
	if err := f.db.CreateUser(f.ctx, u, h, c); err != nil {
		t.Fatal(err)
	}

	entry, err := f.db.LookupEmail(f.ctx, h)
	if err != nil || entry.UserID != u.ID || entry.HomeRegion != "us-east1" || string(entry.EmailHash) != string(h) {
		t.Fatalf("lookup: %+v, %v", entry, err)
	}
	got, cred, err := f.db.UserWithCredential(f.ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Email != u.Email || got.ExternalID != "legacy-1" || got.Status != auth.StatusActive || !got.CreatedAt.Equal(f.now) {
		t.Fatalf("user: %+v", got)
	}
	if cred.UserID != u.ID || cred.Kind != auth.CredentialWrapped || cred.Hash != c.Hash || !jsonEqual(cred.Recipe, c.Recipe) {
		t.Fatalf("credential: %+v (recipe %s)", cred, cred.Recipe)
	}
	if _, err := f.db.LookupEmail(f.ctx, []byte("nobody")); !errs.Is(err, errs.KindNotFound) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown email: %v", err)
	}
	if _, err := f.db.User(f.ctx, uuid.New()); !errs.Is(err, errs.KindNotFound) {
		t.Fatalf("unknown user: %v", err)
	}

	// Same email, new user: email_taken, and neither user nor credential left.
	dup, _, dupCred := f.newUser("other@example.com")
	err = f.db.CreateUser(f.ctx, dup, h, dupCred)
	wantErr(t, err, errs.KindConflict, "email_taken")
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("want ErrConflict in chain: %v", err)
	}
	if n := f.count(`SELECT count(*) FROM users WHERE id = $1`, dup.ID); n != 0 {
		t.Fatalf("user row left behind after email conflict")
	}
	if n := f.count(`SELECT count(*) FROM credentials WHERE user_id = $1`, dup.ID); n != 0 {
		t.Fatalf("credential left behind after email conflict")
	}

	// New email, same external id: external_id_taken, no directory entry left.
	dup2, h2, c2 := f.newUser("third@example.com")
	dup2.ExternalID = "legacy-1"
	wantErr(t, f.db.CreateUser(f.ctx, dup2, h2, c2), errs.KindConflict, "external_id_taken")
	if _, err := f.db.LookupEmail(f.ctx, h2); !errs.Is(err, errs.KindNotFound) {
		t.Fatalf("directory entry left behind after external id conflict: %v", err)
	}
	if n := f.count(`SELECT count(*) FROM users`); n != 1 {
		t.Fatalf("users = %d, want 1", n)
	}

	// Users without an external id do not collide with each other (NULL).
	f.createUser("n1@example.com")
	f.createUser("n2@example.com")
	_, cred, err = f.db.UserWithCredential(f.ctx, f.createUser("n3@example.com").ID)
	if err != nil || cred.Recipe != nil || cred.Kind != auth.CredentialArgon2id {
		t.Fatalf("argon2id credential: %+v, %v", cred, err)
	}
}

func TestUserWithoutCredential(t *testing.T) {
	f := newFixture(t, 0)
	u := f.createUser("ada@example.com")
	if _, err := f.raw.Exec(f.ctx, `DELETE FROM credentials WHERE user_id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	got, cred, err := f.db.UserWithCredential(f.ctx, u.ID)
	if err != nil || got.ID != u.ID || cred.Kind != "" || cred.Hash != "" {
		t.Fatalf("got %+v %+v %v", got, cred, err)
	}
	if _, _, err := f.db.UserWithCredential(f.ctx, uuid.New()); !errs.Is(err, errs.KindNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestReplaceCredentialIsCompareAndSwap(t *testing.T) {
	f := newFixture(t, 0)
	u := f.createUser("ada@example.com")
	_, old, _ := f.db.UserWithCredential(f.ctx, u.ID)
	later := f.now.Add(time.Minute)
	next := auth.Credential{UserID: u.ID, HomeRegion: u.HomeRegion, Kind: auth.CredentialArgon2id, Hash: "$argon2id$new", UpdatedAt: later}
	ev := &auth.Event{ID: uuid.New(), UserID: u.ID, HomeRegion: u.HomeRegion, Kind: auth.EventCredentialUpgrade, At: later}

	swapped, err := f.db.ReplaceCredential(f.ctx, old.Hash, next, ev)
	if err != nil || !swapped {
		t.Fatalf("first swap: %v %v", swapped, err)
	}
	lost := next
	lost.Hash = "$argon2id$lost"
	swapped, err = f.db.ReplaceCredential(f.ctx, old.Hash, lost, &auth.Event{ID: uuid.New(), UserID: u.ID, HomeRegion: u.HomeRegion, Kind: auth.EventCredentialUpgrade, At: later})
	if err != nil || swapped {
		t.Fatalf("second swap with the old hash: %v %v", swapped, err)
	}
	_, cred, _ := f.db.UserWithCredential(f.ctx, u.ID)
	if cred.Hash != "$argon2id$new" || !cred.UpdatedAt.Equal(later) || !cred.CreatedAt.Equal(old.CreatedAt) {
		t.Fatalf("credential after swaps: %+v", cred)
	}
	if n := len(f.eventsOf(u.ID, auth.EventCredentialUpgrade)); n != 1 {
		t.Fatalf("events = %d, want 1 (only the swap that happened)", n)
	}
}

func TestSetUserStatusBanRevokesSessions(t *testing.T) {
	f := newFixture(t, 0)
	u := f.createUser("ada@example.com")
	s1, rt1 := f.createSession(u, f.now, time.Hour)
	s2, _ := f.createSession(u, f.now.Add(time.Second), time.Hour)
	old, _ := f.createSession(u, f.now.Add(-2*time.Hour), time.Hour) // expired already

	ban := f.now.Add(time.Minute)
	ids, err := f.db.SetUserStatus(f.ctx, u.ID, auth.StatusBanned, ban,
		auth.Event{ID: uuid.New(), Kind: auth.EventUserBanned, At: ban, Detail: map[string]any{"by": "admin"}})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	want := []uuid.UUID{s1.ID, s2.ID}
	slices.SortFunc(want, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	if !slices.Equal(ids, want) {
		t.Fatalf("revoked %v, want %v", ids, want)
	}
	got, _ := f.db.User(f.ctx, u.ID)
	if got.Status != auth.StatusBanned || !got.UpdatedAt.Equal(ban) {
		t.Fatalf("user after ban: %+v", got)
	}
	s, _ := f.db.Session(f.ctx, s1.ID)
	if s.RevokedAt == nil || !s.RevokedAt.Equal(ban) || s.RevokeReason != "user_banned" {
		t.Fatalf("session after ban: %+v", s)
	}
	if s, _ := f.db.Session(f.ctx, old.ID); s.RevokedAt != nil {
		t.Fatalf("an expired session need not be revoked: %+v", s)
	}
	evs := f.eventsOf(u.ID, auth.EventUserBanned)
	if len(evs) != 1 || evs[0].HomeRegion != u.HomeRegion || evs[0].Detail["by"] != "admin" {
		t.Fatalf("ban events: %+v", evs)
	}
	if res := f.rotate(f.rotation(rt1, ban.Add(time.Second), 0)); res.Outcome != auth.RotationInvalid {
		t.Fatalf("refresh after ban: %v", res.Outcome)
	}

	unban := ban.Add(time.Minute)
	ids, err = f.db.SetUserStatus(f.ctx, u.ID, auth.StatusActive, unban, auth.Event{ID: uuid.New(), Kind: auth.EventUserUnbanned, At: unban})
	if err != nil || len(ids) != 0 {
		t.Fatalf("unban: %v %v", ids, err)
	}
	if got, _ := f.db.User(f.ctx, u.ID); got.Status != auth.StatusActive {
		t.Fatalf("status after unban: %s", got.Status)
	}
	if _, err := f.db.SetUserStatus(f.ctx, uuid.New(), auth.StatusBanned, unban, auth.Event{ID: uuid.New(), Kind: auth.EventUserBanned, At: unban}); !errs.Is(err, errs.KindNotFound) {
		t.Fatalf("ban of unknown user: %v", err)
	}
	if _, err := f.db.SetUserStatus(f.ctx, u.ID, "frozen", unban, auth.Event{ID: uuid.New(), Kind: "x", At: unban}); !errs.Is(err, errs.KindInvalid) {
		t.Fatalf("unknown status: %v", err)
	}
}

func TestEventsAndOutbox(t *testing.T) {
	f := newFixture(t, 0)
	u := f.createUser("ada@example.com")
	for i, kind := range []string{"b.second", "a.first", "c.third"} {
		at := f.now.Add(time.Duration([]int{2, 1, 3}[i]) * time.Second)
		var detail map[string]any
		if i == 0 {
			detail = map[string]any{"n": 1.0, "s": "x"}
		}
		if err := f.db.RecordEvent(f.ctx, auth.Event{ID: uuid.New(), UserID: u.ID, HomeRegion: u.HomeRegion, Kind: kind, At: at, Detail: detail}); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := f.db.Events(f.ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ev := range evs {
		kinds = append(kinds, ev.Kind)
	}
	if !slices.Equal(kinds, []string{"a.first", "b.second", "c.third"}) {
		t.Fatalf("events not oldest first: %v", kinds)
	}
	if evs[1].Detail["n"] != 1.0 || evs[1].Detail["s"] != "x" || len(evs[0].Detail) != 0 {
		t.Fatalf("details: %+v / %+v", evs[1].Detail, evs[0].Detail)
	}
	if evs, _ := f.db.Events(f.ctx, uuid.New()); len(evs) != 0 {
		t.Fatalf("events of nobody: %v", evs)
	}

	msg := auth.OutboxMessage{ID: uuid.New(), HomeRegion: "us-east1", Kind: "signup_existing_account", Recipient: "ada@example.com", CreatedAt: f.now}
	if err := f.db.Enqueue(f.ctx, msg); err != nil {
		t.Fatal(err)
	}
	if n := f.count(`SELECT count(*) FROM outbox WHERE id = $1 AND payload = '{}'::jsonb AND sent_at IS NULL`, msg.ID); n != 1 {
		t.Fatal("outbox message not stored with an empty payload")
	}
	wantErr(t, f.db.Enqueue(f.ctx, msg), errs.KindConflict, "")
}
