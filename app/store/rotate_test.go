package store_test

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/errs"
)

func TestRotateRefreshRotates(t *testing.T) {
	f := newFixture(t, 0)
	u := f.createUser("ada@example.com")
	s, rt1 := f.createSession(u, f.now, time.Hour)
	at := f.now.Add(time.Minute)
	r := f.rotation(rt1, at, 0)
	r.Next.ExpiresAt = at.Add(48 * time.Hour) // past the session: capped

	res := f.rotate(r)
	if res.Outcome != auth.RotationRotated {
		t.Fatalf("outcome %v", res.Outcome)
	}
	if res.Session.ID != s.ID || res.User.ID != u.ID || res.User.HomeRegion != "us-east1" || res.Session.ACR != "aal2" ||
		len(res.Session.AMR) != 2 || !res.Session.AuthTime.Equal(f.now) || !res.Session.LastSeenAt.Equal(at) {
		t.Fatalf("result: %+v", res)
	}
	old, _, _, err := f.db.RefreshTokenInfo(f.ctx, rt1)
	if err != nil || old.UsedAt == nil || !old.UsedAt.Equal(at) || !bytes.Equal(old.ReplacedBy, r.Next.Hash) {
		t.Fatalf("presented token after rotation: %+v %v", old, err)
	}
	nt, sess, _, err := f.db.RefreshTokenInfo(f.ctx, r.Next.Hash)
	if err != nil || nt.SessionID != s.ID || nt.UserID != u.ID || nt.ClientID != "web" || nt.HomeRegion != "us-east1" ||
		nt.UsedAt != nil || !nt.ExpiresAt.Equal(s.ExpiresAt) || !nt.CreatedAt.Equal(at) {
		t.Fatalf("successor: %+v %v", nt, err)
	}
	if !sess.LastSeenAt.Equal(at) {
		t.Fatalf("last_seen_at not touched: %v", sess.LastSeenAt)
	}
	// The successor rotates in turn.
	if res := f.rotate(f.rotation(r.Next.Hash, at.Add(time.Minute), 0)); res.Outcome != auth.RotationRotated {
		t.Fatalf("successor rotation: %v", res.Outcome)
	}
	if _, err := f.db.RotateRefresh(f.ctx, auth.Rotation{PresentedHash: rt1, ClientID: "web", Now: at}); !errs.Is(err, errs.KindInvalid) {
		t.Fatalf("a rotation without a successor hash: %v", err)
	}
}

func TestRotateRefreshReuseOutsideGraceRevokesFamily(t *testing.T) {
	f := newFixture(t, 0)
	u := f.createUser("ada@example.com")
	s, rt1 := f.createSession(u, f.now, time.Hour)
	other, rtOther := f.createSession(u, f.now, time.Hour)
	grace := 10 * time.Second
	r1 := f.rotation(rt1, f.now.Add(time.Minute), grace)
	if res := f.rotate(r1); res.Outcome != auth.RotationRotated {
		t.Fatalf("first: %v", res.Outcome)
	}
	replay := f.now.Add(time.Minute + grace) // exactly at the end of the grace window: outside
	res := f.rotate(f.rotation(rt1, replay, grace))
	if res.Outcome != auth.RotationReused {
		t.Fatalf("replay: %v", res.Outcome)
	}
	if res.Session.ID != s.ID || res.Session.RevokedAt == nil || res.Session.RevokeReason != "refresh_token_reuse" || res.User.ID != u.ID {
		t.Fatalf("reuse result must carry the revoked session: %+v", res)
	}
	got, _ := f.db.Session(f.ctx, s.ID)
	if got.RevokedAt == nil || !got.RevokedAt.Equal(replay) || got.RevokeReason != "refresh_token_reuse" {
		t.Fatalf("session after reuse: %+v", got)
	}
	evs := f.eventsOf(u.ID, auth.EventRefreshReuse)
	if len(evs) != 1 || !evs[0].At.Equal(replay) || evs[0].Detail["session_id"] != s.ID.String() || evs[0].Detail["ip"] != "198.51.100.7" {
		t.Fatalf("reuse events: %+v", evs)
	}
	// RT2, the legitimate successor, dies with its family.
	if res := f.rotate(f.rotation(r1.Next.Hash, replay.Add(time.Second), grace)); res.Outcome != auth.RotationInvalid {
		t.Fatalf("successor after reuse: %v", res.Outcome)
	}
	// The user's other session is untouched.
	if res := f.rotate(f.rotation(rtOther, replay.Add(time.Second), grace)); res.Outcome != auth.RotationRotated || res.Session.ID != other.ID {
		t.Fatalf("other session: %v", res.Outcome)
	}
	// A further replay is still reuse, recorded, and keeps the first revocation.
	if res := f.rotate(f.rotation(rt1, replay.Add(time.Hour/2), grace)); res.Outcome != auth.RotationReused {
		t.Fatalf("second replay: %v", res.Outcome)
	}
	if got, _ := f.db.Session(f.ctx, s.ID); !got.RevokedAt.Equal(replay) {
		t.Fatalf("second replay moved the revocation: %v", got.RevokedAt)
	}
	if n := len(f.eventsOf(u.ID, auth.EventRefreshReuse)); n != 2 {
		t.Fatalf("reuse events = %d, want 2", n)
	}
}

func TestRotateRefreshWithinGraceIssuesSibling(t *testing.T) {
	f := newFixture(t, 0)
	u := f.createUser("ada@example.com")
	s, rt1 := f.createSession(u, f.now, time.Hour)
	grace := 10 * time.Second
	first := f.now.Add(time.Minute)
	r1 := f.rotation(rt1, first, grace)
	f.rotate(r1)
	r2 := f.rotation(rt1, first.Add(grace-time.Millisecond), grace)
	res := f.rotate(r2)
	if res.Outcome != auth.RotationRotated || res.Session.ID != s.ID || res.User.ID != u.ID {
		t.Fatalf("within grace: %+v", res)
	}
	old, _, _, _ := f.db.RefreshTokenInfo(f.ctx, rt1)
	if !old.UsedAt.Equal(first) || !bytes.Equal(old.ReplacedBy, r1.Next.Hash) {
		t.Fatalf("the first use must stay as it was (no sliding grace): %+v", old)
	}
	for _, h := range [][]byte{r1.Next.Hash, r2.Next.Hash} {
		if res := f.rotate(f.rotation(h, first.Add(time.Minute), grace)); res.Outcome != auth.RotationRotated {
			t.Fatalf("sibling must be redeemable: %v", res.Outcome)
		}
	}
	if got, _ := f.db.Session(f.ctx, s.ID); got.RevokedAt != nil || len(f.eventsOf(u.ID, auth.EventRefreshReuse)) != 0 {
		t.Fatal("a redemption within grace must not revoke or record reuse")
	}
}

func TestRotateRefreshInvalidAndExpired(t *testing.T) {
	f := newFixture(t, 0)
	u := f.createUser("ada@example.com")
	s, rt := f.createSession(u, f.now, time.Hour)

	wrongClient := f.rotation(rt, f.now, 0)
	wrongClient.ClientID = "mobile"
	cases := map[string]auth.Rotation{
		"unknown token":                    f.rotation(randomBytes(t), f.now, 0),
		"wrong client":                     wrongClient,
		"session past its absolute expiry": f.rotation(rt, s.ExpiresAt, 0),
	}
	for name, r := range cases {
		if res := f.rotate(r); res.Outcome != auth.RotationInvalid || res.Session.ID != uuid.Nil {
			t.Errorf("%s: %+v", name, res)
		}
	}
	if tok, _, _, _ := f.db.RefreshTokenInfo(f.ctx, rt); tok.UsedAt != nil {
		t.Fatal("an invalid redemption marked the token used")
	}

	// A token that expired before its session did.
	short := auth.Session{ID: uuid.New(), UserID: u.ID, HomeRegion: u.HomeRegion, ClientID: "web", AuthTime: f.now,
		CreatedAt: f.now, LastSeenAt: f.now, ExpiresAt: f.now.Add(time.Hour)}
	expiredHash := randomBytes(t)
	if err := f.db.CreateSession(f.ctx, short, auth.RefreshToken{Hash: expiredHash, CreatedAt: f.now, ExpiresAt: f.now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if res := f.rotate(f.rotation(expiredHash, f.now.Add(time.Minute), 0)); res.Outcome != auth.RotationExpired {
		t.Fatalf("expired token: %v", res.Outcome)
	}

	// A banned user (set directly, so the session stays unrevoked) cannot refresh.
	if _, err := f.raw.Exec(f.ctx, `UPDATE users SET status = 'banned' WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	if res := f.rotate(f.rotation(rt, f.now.Add(time.Second), 0)); res.Outcome != auth.RotationInvalid {
		t.Fatalf("banned user: %v", res.Outcome)
	}
	if n := f.count(`SELECT count(*) FROM refresh_tokens`); n != 2 {
		t.Fatalf("refused redemptions inserted tokens: %d rows", n)
	}
}

// Twenty clients redeem one token at the same moment: exactly one rotates,
// every other one is told the token was reused (the family is revoked), and
// none gets an error.
func TestRotateRefreshConcurrentRedemptions(t *testing.T) {
	const n = 20
	f := newFixture(t, n+5)
	u := f.createUser("ada@example.com")
	s, rt := f.createSession(u, f.now, time.Hour)
	at := f.now.Add(time.Minute)
	rotations := make([]auth.Rotation, n)
	for i := range rotations {
		rotations[i] = f.rotation(rt, at, 0)
	}
	var (
		wg                          sync.WaitGroup
		rotated, reused, other, bad atomic.Int32
		start                       = make(chan struct{})
		winner                      atomic.Int32
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := f.db.RotateRefresh(f.ctx, rotations[i])
			switch {
			case err != nil:
				bad.Add(1)
				t.Errorf("redemption %d: %v", i, err)
			case res.Outcome == auth.RotationRotated:
				rotated.Add(1)
				winner.Store(int32(i))
			case res.Outcome == auth.RotationReused && res.Session.ID == s.ID:
				reused.Add(1)
			default:
				other.Add(1)
				t.Errorf("redemption %d: %+v", i, res)
			}
		}()
	}
	close(start)
	wg.Wait()
	if rotated.Load() != 1 || reused.Load() != n-1 || other.Load() != 0 || bad.Load() != 0 {
		t.Fatalf("rotated %d, reused %d, other %d, errors %d", rotated.Load(), reused.Load(), other.Load(), bad.Load())
	}
	if got, _ := f.db.Session(f.ctx, s.ID); got.RevokedAt == nil || got.RevokeReason != "refresh_token_reuse" {
		t.Fatalf("session after competing redemptions: %+v", got)
	}
	if k := f.count(`SELECT count(*) FROM refresh_tokens WHERE session_id = $1`, s.ID); k != 2 {
		t.Fatalf("tokens in the family = %d, want 2 (the presented one and one successor)", k)
	}
	if k := len(f.eventsOf(u.ID, auth.EventRefreshReuse)); k != n-1 {
		t.Fatalf("reuse events = %d, want %d", k, n-1)
	}
	if res := f.rotate(f.rotation(rotations[winner.Load()].Next.Hash, at.Add(time.Second), 0)); res.Outcome != auth.RotationInvalid {
		t.Fatalf("the winner's successor must die with the family: %v", res.Outcome)
	}
}

// With a grace period every competing redemption is served: one rotation
// and siblings for the rest, no revocation.
func TestRotateRefreshConcurrentRedemptionsWithinGrace(t *testing.T) {
	const n = 10
	f := newFixture(t, n+5)
	u := f.createUser("ada@example.com")
	s, rt := f.createSession(u, f.now, time.Hour)
	var wg sync.WaitGroup
	var rotated atomic.Int32
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := f.db.RotateRefresh(f.ctx, f.rotation(rt, f.now.Add(time.Minute), 30*time.Second))
			if err != nil || res.Outcome != auth.RotationRotated {
				t.Errorf("redemption: %+v %v", res.Outcome, err)
				return
			}
			rotated.Add(1)
		}()
	}
	wg.Wait()
	if rotated.Load() != n {
		t.Fatalf("rotated %d of %d", rotated.Load(), n)
	}
	if got, _ := f.db.Session(f.ctx, s.ID); got.RevokedAt != nil {
		t.Fatal("session revoked within grace")
	}
	if k := f.count(`SELECT count(*) FROM refresh_tokens WHERE session_id = $1 AND used_at IS NULL`, s.ID); k != n {
		t.Fatalf("unused successors = %d, want %d", k, n)
	}
}

// BenchmarkRotateRefresh measures one redemption (the common case: an
// unused token rotated). "chain" redeems one session's tokens one after
// another; "parallel" redeems many sessions' tokens at once.
func BenchmarkRotateRefresh(b *testing.B) {
	b.Run("chain", func(b *testing.B) {
		f := newFixture(b, 0)
		u := f.createUser("bench@example.com")
		_, cur := f.createSession(u, f.now, 1000*time.Hour)
		b.ResetTimer()
		for i := range b.N {
			r := f.rotation(cur, f.now.Add(time.Duration(i+1)*time.Millisecond), 0)
			if res := f.rotate(r); res.Outcome != auth.RotationRotated {
				b.Fatalf("outcome %v", res.Outcome)
			}
			cur = r.Next.Hash
		}
	})
	b.Run("parallel", func(b *testing.B) {
		f := newFixture(b, 16)
		u := f.createUser("bench@example.com")
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			cur := randomBytes(b)
			s := auth.Session{ID: uuid.New(), UserID: u.ID, HomeRegion: u.HomeRegion, ClientID: "web", AuthTime: f.now,
				CreatedAt: f.now, LastSeenAt: f.now, ExpiresAt: f.now.Add(1000 * time.Hour)}
			if err := f.db.CreateSession(f.ctx, s, auth.RefreshToken{Hash: cur, CreatedAt: f.now, ExpiresAt: s.ExpiresAt}); err != nil {
				b.Errorf("create session: %v", err)
				return
			}
			i := 0
			for pb.Next() {
				i++
				r := f.rotation(cur, f.now.Add(time.Duration(i)*time.Millisecond), 0)
				res, err := f.db.RotateRefresh(f.ctx, r)
				if err != nil || res.Outcome != auth.RotationRotated {
					b.Errorf("rotation: %v %v", res.Outcome, err)
					return
				}
				cur = r.Next.Hash
			}
		})
	})
}
