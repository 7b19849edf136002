package auth

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/token"
)

// WebClient is the client of the hosted pages' browser sessions: a browser
// session is an ordinary session (a REGIONAL BY ROW row that logout, a ban
// or "sign out everywhere" end like any other), and the cookie holds its
// refresh token, which the pages read but never rotate.
const WebClient = "gatehouse-web"

// ClientSession is a session started for an OAuth client from an
// authorization code: the authentication it carries happened earlier, in
// the browser session.
type ClientSession struct {
	// ID is chosen by the caller, so that it can be recorded with the code
	// before the session exists (a replayed code revokes it).
	ID        uuid.UUID
	UserID    uuid.UUID
	ClientID  string
	AMR       []string
	ACR       string
	AuthTime  time.Time
	IP        string
	UserAgent string
}

// StartClientSession creates the session an authorization code is
// redeemed for and mints its tokens. A banned or vanished user gets
// invalid_grant.
func (s *Service) StartClientSession(ctx context.Context, cs ClientSession) (TokenResponse, User, error) {
	u, err := s.deps.Store.User(ctx, cs.UserID)
	if errs.Is(err, errs.KindNotFound) || (err == nil && (u.Status != StatusActive || u.MustChangePassword)) {
		return TokenResponse{}, User{}, errs.E(errs.KindInvalid, "invalid_grant", "the authorization code is invalid, expired or used")
	}
	if err != nil {
		return TokenResponse{}, User{}, err
	}
	now := s.now()
	sess := Session{ID: cs.ID, UserID: u.ID, HomeRegion: u.HomeRegion, ClientID: cs.ClientID, AMR: cs.AMR, ACR: cs.ACR,
		AuthTime: cs.AuthTime, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL), IP: cs.IP, UserAgent: truncate(cs.UserAgent, 256)}
	rt, rtHash := s.newRefreshToken(u.HomeRegion)
	stored := RefreshToken{Hash: rtHash, SessionID: sess.ID, UserID: u.ID, HomeRegion: u.HomeRegion, ClientID: cs.ClientID,
		CreatedAt: now, ExpiresAt: sess.ExpiresAt}
	if err := s.deps.Store.CreateSession(ctx, sess, stored); err != nil {
		return TokenResponse{}, User{}, err
	}
	tr, err := s.tokenResponse(sess, rt)
	return tr, u, err
}

// WebSession reads the browser session behind a session cookie (the
// refresh token of a WebClient session). Anything but a live session of
// an active user is KindUnauthenticated.
func (s *Service) WebSession(ctx context.Context, cookie string) (Session, User, error) {
	none := errs.E(errs.KindUnauthenticated, "login_required", "no live browser session")
	if _, err := ParseRefreshToken(cookie); err != nil {
		return Session{}, User{}, none
	}
	rt, sess, user, err := s.deps.Store.RefreshTokenInfo(ctx, sha256Sum([]byte(cookie)))
	if errs.Is(err, errs.KindNotFound) {
		return Session{}, User{}, none
	}
	if err != nil {
		return Session{}, User{}, err
	}
	now := s.now()
	if rt.ClientID != WebClient || rt.UsedAt != nil || !now.Before(rt.ExpiresAt) || !sess.Active(now) || user.Status != StatusActive {
		return Session{}, User{}, none
	}
	return sess, user, nil
}

// PrincipalOf is the principal of a browser session, for the account
// page's calls into the same methods the Bearer API uses.
func PrincipalOf(sess Session) Principal {
	return Principal{UserID: sess.UserID, SessionID: sess.ID, Claims: &token.Claims{
		Subject: sess.UserID.String(), SessionID: sess.ID.String(), ClientID: sess.ClientID,
		AMR: sess.AMR, ACR: sess.ACR, AuthTime: sess.AuthTime, HomeRegion: sess.HomeRegion,
	}}
}

// EndSessionOf ends one session of a user (RP-initiated logout, signing
// out of the pages); an unknown session is not an error.
func (s *Service) EndSessionOf(ctx context.Context, userID, sessionID uuid.UUID, reason string) error {
	return s.endSession(ctx, userID, sessionID, reason)
}

// EndClientSessions ends every active session a user has with one client
// (a revoked consent).
func (s *Service) EndClientSessions(ctx context.Context, userID uuid.UUID, clientID string) error {
	list, err := s.deps.Store.ListSessions(ctx, userID, s.now())
	if err != nil {
		return err
	}
	for _, sess := range list {
		if sess.ClientID == clientID {
			if err := s.endSession(ctx, userID, sess.ID, "grant_revoked"); err != nil {
				return err
			}
		}
	}
	return nil
}

// UserByID reads one user.
func (s *Service) UserByID(ctx context.Context, id uuid.UUID) (User, error) {
	return s.deps.Store.User(ctx, id)
}

// ClientToken signs an access token for a client acting on its own behalf
// (client_credentials): sub and client_id are the client, and there is no
// session. It returns the token and its lifetime in seconds.
func (s *Service) ClientToken(clientID string) (string, int, error) {
	at, err := s.deps.Issuer.Issue(token.Claims{Subject: clientID, Audience: token.Audience{s.cfg.Audience}, ClientID: clientID,
		HomeRegion: s.cfg.Region})
	return at, int(s.cfg.AccessTTL / time.Second), err
}

// AccessTTL is the lifetime of access tokens.
func (s *Service) AccessTTL() time.Duration { return s.cfg.AccessTTL }
