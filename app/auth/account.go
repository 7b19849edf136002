package auth

import (
	"context"
	"encoding/base64"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/defense"
	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/password"
	"github.com/gatehouse-id/gatehouse/app/token"
)

// Principal is the authenticated caller of a Bearer request.
type Principal struct {
	UserID    uuid.UUID
	SessionID uuid.UUID
	Claims    *token.Claims
}

func unauthenticated() error {
	return errs.E(errs.KindUnauthenticated, "invalid_token", "the access token is missing, invalid, expired or revoked")
}

// Authenticate verifies a Bearer access token and that its session is still
// alive.
func (s *Service) Authenticate(ctx context.Context, bearer string) (Principal, error) {
	if bearer == "" {
		return Principal{}, unauthenticated()
	}
	claims, err := s.deps.Verifier.Verify(ctx, bearer)
	if err != nil {
		return Principal{}, unauthenticated()
	}
	uid, sid, err := claimIDs(claims)
	if err != nil {
		return Principal{}, unauthenticated()
	}
	revoked, err := s.AccessTokenRevoked(ctx, claims)
	if err != nil {
		return Principal{}, err
	}
	if revoked {
		return Principal{}, unauthenticated()
	}
	return Principal{UserID: uid, SessionID: sid, Claims: claims}, nil
}

// Me returns the caller's account.
func (s *Service) Me(ctx context.Context, p Principal) (User, error) {
	return s.deps.Store.User(ctx, p.UserID)
}

// Sessions lists the caller's active sessions.
func (s *Service) Sessions(ctx context.Context, p Principal) ([]Session, error) {
	return s.deps.Store.ListSessions(ctx, p.UserID, s.now())
}

// EndSession ends one of the caller's sessions; someone else's session is
// "not found".
func (s *Service) EndSession(ctx context.Context, p Principal, sessionID uuid.UUID) error {
	if _, err := s.deps.Store.RevokeSession(ctx, p.UserID, sessionID, "ended_by_user", s.now()); err != nil {
		return err
	}
	s.revokeInCache(ctx, []uuid.UUID{sessionID})
	return nil
}

// Logout ends the caller's session.
func (s *Service) Logout(ctx context.Context, p Principal) error {
	return s.endSession(ctx, p.UserID, p.SessionID, "logout")
}

// LogoutAll ends every session of the caller's account.
func (s *Service) LogoutAll(ctx context.Context, p Principal) error {
	now := s.now()
	ids, err := s.deps.Store.RevokeUserSessions(ctx, p.UserID, uuid.Nil, "logout_all", now,
		&Event{ID: s.newID(), UserID: p.UserID, HomeRegion: p.Claims.HomeRegion, Kind: EventSessionsRevoked, At: now, Detail: map[string]any{"by": "user"}})
	if err != nil {
		return err
	}
	s.revokeInCache(ctx, ids)
	return nil
}

// ChangePassword replaces the caller's password after checking the current
// one, and ends every other session of the account (ASVS 7.4.3) and every
// trusted device. The check of the current password is a login attempt
// like any other: it passes admission and the limits, counts on the
// account's password lane and is refused while the account is locked.
func (s *Service) ChangePassword(ctx context.Context, p Principal, current, next, ip string) error {
	leave, err := s.admitLogin(false)
	if err != nil {
		return err
	}
	defer leave()
	if s.deps.Pool != nil && s.deps.Pool.Busy() {
		return errLoginsBusy()
	}
	user, cred, err := s.deps.Store.UserWithCredential(ctx, p.UserID)
	if err != nil {
		return err
	}
	att := defense.Attempt{IP: parseIP(ip), AccountKey: accountKeyOf(user.Email), PasswordFingerprintInput: password.Normalise(current)}
	if _, err := s.guardCheck(ctx, att); err != nil {
		return err
	}
	ok, err := s.checkPassword(ctx, cred, current)
	s.guardRecord(ctx, att, ok, err)
	if err != nil {
		return err
	}
	if !ok {
		return errs.E(errs.KindForbidden, "invalid_credentials", "the current password is wrong")
	}
	// checkPassword may just have re-hashed the credential: read it again
	// so the swap below compares against what is stored now.
	if _, cred, err = s.deps.Store.UserWithCredential(ctx, p.UserID); err != nil {
		return err
	}
	encoded, err := s.hashNewPassword(ctx, next)
	if err != nil {
		return err
	}
	now := s.now()
	nc := Credential{UserID: user.ID, HomeRegion: user.HomeRegion, Kind: CredentialArgon2id, Hash: encoded, CreatedAt: cred.CreatedAt, UpdatedAt: now}
	ids, err := s.deps.Store.ChangePassword(ctx, cred.Hash, nc, p.SessionID, now,
		Event{ID: s.newID(), UserID: user.ID, HomeRegion: user.HomeRegion, Kind: EventPasswordChanged, At: now})
	if err != nil {
		return err
	}
	s.revokeInCache(ctx, ids)
	s.log.InfoContext(ctx, "password changed", "user_id", user.ID, "sessions_ended", len(ids))
	return nil
}

// RequestPasswordReset mails a reset link when the address has an account.
// It always answers the same, at once: the lookup and the mail run in the
// background, so neither the answer nor its timing tells whether the
// address is registered (Keycloak #26625). Mails are limited per source
// address and per email (mailbox bombing); a request over a limit is
// answered the same and mails nothing.
func (s *Service) RequestPasswordReset(ctx context.Context, email, ip string) error {
	addr, err := NormaliseEmail(email)
	if err != nil {
		return nil
	}
	if !s.mailAllowed(ctx, "password_reset", ip, addr) {
		return nil
	}
	select {
	case s.background <- func(ctx context.Context) { s.sendReset(ctx, addr) }:
	default:
		s.log.WarnContext(ctx, "password reset queue full; request dropped")
	}
	return nil
}

// mailAllowed asks the defense's mail limits; without a defense every mail
// is allowed, and a failing limit store allows it too (the limits fall back
// to the process inside the defense, so an error here is rare).
func (s *Service) mailAllowed(ctx context.Context, kind, ip, addr string) bool {
	if s.deps.Guard == nil {
		return true
	}
	ok, err := s.deps.Guard.AllowMail(ctx, kind, parseIP(ip), accountKeyOf(addr))
	if err != nil {
		s.log.WarnContext(ctx, "mail limit unavailable", "kind", kind, "error", err)
		return true
	}
	if !ok {
		s.log.InfoContext(ctx, "mail over its limit; not sent", "kind", kind)
	}
	return ok
}

func (s *Service) sendReset(ctx context.Context, addr string) {
	entry, err := s.deps.Store.LookupEmail(ctx, EmailHash(addr))
	if err != nil {
		if !errs.Is(err, errs.KindNotFound) {
			s.log.WarnContext(ctx, "password reset: directory lookup failed", "error", err)
		}
		return
	}
	if err := s.createReset(ctx, entry.UserID, entry.HomeRegion, addr, "password_reset"); err != nil {
		s.log.WarnContext(ctx, "password reset: could not store the reset", "user_id", entry.UserID, "error", err)
	}
}

// createReset stores a reset token's hash and the mail carrying the token.
func (s *Service) createReset(ctx context.Context, userID uuid.UUID, region, addr, kind string) error {
	tok := resetPrefix + region + "_" + base64.RawURLEncoding.EncodeToString(s.randomBytes(32))
	now := s.now()
	r := PasswordReset{Hash: sha256Sum([]byte(tok)), UserID: userID, HomeRegion: region, CreatedAt: now, ExpiresAt: now.Add(s.cfg.ResetTTL)}
	msg := OutboxMessage{ID: s.newID(), HomeRegion: region, Kind: kind, Recipient: addr,
		Payload: map[string]any{"token": tok, "expires_at": r.ExpiresAt.UTC().Format(time.RFC3339)}, CreatedAt: now}
	if err := s.deps.Store.CreatePasswordReset(ctx, r, msg); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "password reset created", "user_id", userID)
	return nil
}

func errInvalidResetToken() error {
	return errs.Invalid("invalid_token", "the reset token is invalid, used or expired")
}

// ConfirmPasswordReset sets a new password with a reset token; every
// session and trusted device of the account ends, the account's lock is
// lifted, and the owner is mailed the factors still enrolled (a reset does
// not remove them). It passes admission and the limits first, then looks
// the token up: an unknown, used or expired token costs no hash.
func (s *Service) ConfirmPasswordReset(ctx context.Context, tok, next, ip string) error {
	if _, err := ParseResetToken(tok); err != nil {
		return errInvalidResetToken()
	}
	leave, err := s.admitHashing(ctx, ip)
	if err != nil {
		return err
	}
	defer leave()
	hash := sha256Sum([]byte(tok))
	if _, err := s.deps.Store.PendingPasswordReset(ctx, hash, s.now()); errs.Is(err, errs.KindNotFound) {
		return errInvalidResetToken()
	} else if err != nil {
		return err
	}
	encoded, err := s.hashNewPassword(ctx, next)
	if err != nil {
		return err
	}
	now := s.now()
	nc := Credential{Kind: CredentialArgon2id, Hash: encoded, CreatedAt: now, UpdatedAt: now}
	uid, ids, err := s.deps.Store.CompletePasswordReset(ctx, hash, nc, now,
		Event{ID: s.newID(), Kind: EventPasswordReset, At: now})
	if errs.Is(err, errs.KindNotFound) {
		return errInvalidResetToken()
	}
	if err != nil {
		return err
	}
	s.revokeInCache(ctx, ids)
	s.log.InfoContext(ctx, "password reset completed", "user_id", uid, "sessions_ended", len(ids))
	if u, err := s.deps.Store.User(ctx, uid); err == nil {
		s.clearLock(ctx, u)
		s.mailResetDone(ctx, u)
	} else {
		s.log.WarnContext(ctx, "password reset: account not re-read", "user_id", uid, "error", err)
	}
	return nil
}

// mailResetDone tells the owner that the password was reset, that every
// device must log in again, and which second factors are still enrolled.
func (s *Service) mailResetDone(ctx context.Context, u User) {
	msg := OutboxMessage{ID: s.newID(), HomeRegion: u.HomeRegion, Kind: "password_reset_completed", Recipient: u.Email,
		Payload: map[string]any{"factors": s.enrolledFactors(ctx, u)}, CreatedAt: s.now()}
	if err := s.deps.Store.Enqueue(ctx, msg); err != nil {
		s.log.WarnContext(ctx, "password reset: owner not mailed", "user_id", u.ID, "error", err)
	}
}
