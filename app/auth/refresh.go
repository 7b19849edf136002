package auth

import (
	"context"
	"strings"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/token"
)

// invalidGrant is RFC 6749's answer to a refresh token that cannot be
// redeemed, whatever the reason; the reason is logged, not shown.
func invalidGrant() error {
	return errs.E(errs.KindInvalid, "invalid_grant", "the refresh token is invalid, expired or revoked")
}

// Refresh redeems a refresh token for a new access token and a new refresh
// token (rotation). Presenting a token that was already used revokes its
// whole session (RFC 9700 §4.14.2) and records a security event.
func (s *Service) Refresh(ctx context.Context, refresh, clientID, ip, ua string) (TokenResponse, error) {
	if clientID == "" {
		clientID = FirstPartyClient
	}
	region, err := ParseRefreshToken(refresh)
	if err != nil {
		s.deps.Observer.RefreshResult("invalid")
		return TokenResponse{}, invalidGrant()
	}
	next, nextHash := s.newRefreshToken(region)
	now := s.now()
	res, err := s.deps.Store.RotateRefresh(ctx, Rotation{
		PresentedHash: sha256Sum([]byte(refresh)),
		ClientID:      clientID,
		Next:          RefreshToken{Hash: nextHash, HomeRegion: region, ClientID: clientID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL)},
		Now:           now,
		Grace:         s.cfg.RefreshGrace,
		IP:            ip,
		UserAgent:     truncate(ua, 256),
	})
	if err != nil {
		return TokenResponse{}, err
	}
	switch res.Outcome {
	case RotationRotated:
		s.deps.Observer.RefreshResult("rotated")
		return s.tokenResponse(res.Session, next)
	case RotationReused:
		s.deps.Observer.RefreshResult("reuse_detected")
		s.deps.Observer.SecurityEvent(EventRefreshReuse)
		s.log.WarnContext(ctx, "refresh token reuse: session revoked", "user_id", res.Session.UserID, "session_id", res.Session.ID)
		s.revokeInCache(ctx, []uuid.UUID{res.Session.ID})
	case RotationExpired:
		s.deps.Observer.RefreshResult("expired")
	default:
		s.deps.Observer.RefreshResult("invalid")
	}
	return TokenResponse{}, invalidGrant()
}

// Revoke implements RFC 7009 for the first-party client: a refresh token
// or an access token ends its session. Unknown, malformed or already
// revoked tokens are not an error (§2.2).
func (s *Service) Revoke(ctx context.Context, tok string) error {
	if strings.HasPrefix(tok, refreshPrefix) {
		if _, err := ParseRefreshToken(tok); err != nil {
			return nil
		}
		_, sess, _, err := s.deps.Store.RefreshTokenInfo(ctx, sha256Sum([]byte(tok)))
		if errs.Is(err, errs.KindNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return s.endSession(ctx, sess.UserID, sess.ID, "revoked")
	}
	claims, err := s.deps.Verifier.Verify(ctx, tok)
	if err != nil {
		return nil
	}
	uid, sid, err := claimIDs(claims)
	if err != nil {
		return nil
	}
	return s.endSession(ctx, uid, sid, "revoked")
}

// endSession revokes one session in the database, then in the cache.
func (s *Service) endSession(ctx context.Context, userID, sessionID uuid.UUID, reason string) error {
	_, err := s.deps.Store.RevokeSession(ctx, userID, sessionID, reason, s.now())
	if err != nil && !errs.Is(err, errs.KindNotFound) {
		return err
	}
	s.revokeInCache(ctx, []uuid.UUID{sessionID})
	return nil
}

// Introspection is RFC 7662's response.
type Introspection struct {
	Active     bool     `json:"active"`
	TokenType  string   `json:"token_type,omitempty"`
	Subject    string   `json:"sub,omitempty"`
	ClientID   string   `json:"client_id,omitempty"`
	Issuer     string   `json:"iss,omitempty"`
	Audience   []string `json:"aud,omitempty"`
	Expiry     int64    `json:"exp,omitempty"`
	IssuedAt   int64    `json:"iat,omitempty"`
	SessionID  string   `json:"sid,omitempty"`
	JTI        string   `json:"jti,omitempty"`
	HomeRegion string   `json:"home_region,omitempty"`
	AMR        []string `json:"amr,omitempty"`
	ACR        string   `json:"acr,omitempty"`
}

// Introspect answers RFC 7662 for an access or refresh token. Access
// tokens are checked without the database: signature and claims, then the
// region-local revocation marks; when the cache fails the database answers.
func (s *Service) Introspect(ctx context.Context, tok string) (Introspection, error) {
	inactive := Introspection{Active: false}
	if strings.HasPrefix(tok, refreshPrefix) {
		return s.introspectRefresh(ctx, tok)
	}
	claims, err := s.deps.Verifier.Verify(ctx, tok)
	if err != nil {
		return inactive, nil
	}
	revoked, err := s.AccessTokenRevoked(ctx, claims)
	if err != nil {
		return inactive, err
	}
	if revoked {
		return inactive, nil
	}
	return Introspection{Active: true, TokenType: "access_token", Subject: claims.Subject, ClientID: claims.ClientID,
		Issuer: claims.Issuer, Audience: claims.Audience, Expiry: claims.ExpiresAt.Unix(), IssuedAt: claims.IssuedAt.Unix(),
		SessionID: claims.SessionID, JTI: claims.ID, HomeRegion: claims.HomeRegion, AMR: claims.AMR, ACR: claims.ACR}, nil
}

func (s *Service) introspectRefresh(ctx context.Context, tok string) (Introspection, error) {
	inactive := Introspection{Active: false}
	if _, err := ParseRefreshToken(tok); err != nil {
		return inactive, nil
	}
	rt, sess, user, err := s.deps.Store.RefreshTokenInfo(ctx, sha256Sum([]byte(tok)))
	if errs.Is(err, errs.KindNotFound) {
		return inactive, nil
	}
	if err != nil {
		return inactive, err
	}
	now := s.now()
	if rt.UsedAt != nil || !now.Before(rt.ExpiresAt) || !sess.Active(now) || user.Status != StatusActive {
		return inactive, nil
	}
	return Introspection{Active: true, TokenType: "refresh_token", Subject: rt.UserID.String(), ClientID: rt.ClientID,
		Expiry: rt.ExpiresAt.Unix(), IssuedAt: rt.CreatedAt.Unix(), SessionID: sess.ID.String(), HomeRegion: rt.HomeRegion}, nil
}

// AccessTokenRevoked reports whether a verified access token's session was
// ended. The cache answers; if it cannot, the database does (slower, still
// right). It also serves the resource-server middleware (token.RevocationChecker).
func (s *Service) AccessTokenRevoked(ctx context.Context, c *token.Claims) (bool, error) {
	if c.SessionID == "" && c.Subject != "" && c.Subject == c.ClientID {
		// A client_credentials token: no session, nothing to revoke.
		return false, nil
	}
	_, sid, err := claimIDs(c)
	if err != nil {
		return true, nil
	}
	if s.deps.Cache != nil {
		revoked, cerr := s.deps.Cache.SessionRevoked(ctx, sid)
		if cerr == nil {
			return revoked, nil
		}
		s.log.DebugContext(ctx, "cache unavailable for a revocation check; asking the database", "error", cerr)
	}
	sess, err := s.deps.Store.Session(ctx, sid)
	if errs.Is(err, errs.KindNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return sess.RevokedAt != nil, nil
}

// claimIDs reads the user and session ids of verified claims.
func claimIDs(c *token.Claims) (userID, sessionID uuid.UUID, err error) {
	if userID, err = uuid.Parse(c.Subject); err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	if sessionID, err = uuid.Parse(c.SessionID); err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	return userID, sessionID, nil
}
