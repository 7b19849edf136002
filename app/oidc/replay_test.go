package oidc

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/token"
)

// memCodes keeps codes in memory with the store's semantics (one atomic
// redemption, the replay mark).
type memCodes struct {
	clientsOnly
	mu    sync.Mutex
	codes []*Code
	marks map[string]bool
}

func (s *memCodes) CreateCode(_ context.Context, c Code) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes = append(s.codes, &c)
	return nil
}

func (s *memCodes) RedeemCode(_ context.Context, hash []byte, sid uuid.UUID, now time.Time) (Code, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.codes {
		if bytes.Equal(c.Hash, hash) {
			if c.UsedAt == nil {
				c.UsedAt, c.SessionID = &now, sid
				return *c, true, nil
			}
			s.marks[string(hash)] = true
			return *c, false, nil
		}
	}
	return Code{}, false, errs.E(errs.KindNotFound, "not_found", "no code")
}

func (s *memCodes) CodeReplayed(_ context.Context, hash []byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.marks[string(hash)], nil
}

// racingAccounts starts sessions; during the first one it runs replay,
// before the session exists (the window a concurrent replay can hit).
type racingAccounts struct {
	live   map[uuid.UUID]bool
	replay func()
}

func (a *racingAccounts) StartClientSession(_ context.Context, cs auth.ClientSession) (auth.TokenResponse, auth.User, error) {
	if r := a.replay; r != nil {
		a.replay = nil
		r()
	}
	a.live[cs.ID] = true
	return auth.TokenResponse{AccessToken: "at-" + cs.ID.String()}, auth.User{ID: cs.UserID}, nil
}
func (a *racingAccounts) EndSessionOf(_ context.Context, _, sid uuid.UUID, _ string) error {
	delete(a.live, sid) // ending a session that does not exist yet does nothing
	return nil
}
func (a *racingAccounts) Authenticate(context.Context, string) (auth.Principal, error) {
	panic("unused")
}
func (a *racingAccounts) EndClientSessions(context.Context, uuid.UUID, string) error { panic("unused") }
func (a *racingAccounts) UserByID(context.Context, uuid.UUID) (auth.User, error)     { panic("unused") }
func (a *racingAccounts) ClientToken(string) (string, int, error)                    { panic("unused") }

type noSigner struct{}

func (noSigner) SignIDToken(token.IDToken) (string, error) { return "id", nil }

// A replay that lands while the first redemption is still creating its
// session must not leave that session alive.
func TestReplayDuringFirstRedemption(t *testing.T) {
	store := &memCodes{clientsOnly: testProvider().store.(clientsOnly), marks: map[string]bool{}}
	acc := &racingAccounts{live: map[uuid.UUID]bool{}}
	p := New(Config{Issuer: "https://auth.example"}, Deps{Store: store, Accounts: acc, Signer: noSigner{}})
	ctx := context.Background()
	req, err := p.ParseAuthorize(ctx, authzQuery())
	if err != nil {
		t.Fatal(err)
	}
	redirect, err := p.IssueCode(ctx, req, &Authentication{UserID: uuid.New(), HomeRegion: "us-east1", AuthTime: time.Now(), ACR: "aal1"})
	if err != nil {
		t.Fatal(err)
	}
	code := redirect[strings.Index(redirect, "code=")+5 : strings.Index(redirect, "&")]
	verifier := strings.Repeat("v", 43)
	var replayErr error
	acc.replay = func() { _, replayErr = p.Exchange(ctx, req.Client, code, testRedirect, verifier, "", "") }
	_, firstErr := p.Exchange(ctx, req.Client, code, testRedirect, verifier, "", "")
	if replayErr == nil || !errs.Is(replayErr, errs.KindInvalid) {
		t.Fatalf("the replay: %v, want invalid_grant", replayErr)
	}
	if firstErr == nil || len(acc.live) != 0 {
		t.Fatalf("the first redemption returned %v and left %d live sessions", firstErr, len(acc.live))
	}
}
