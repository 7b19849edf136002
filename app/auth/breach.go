package auth

import (
	"context"

	"github.com/google/uuid"
)

// BreachCheck looks passwords up in a breach corpus (app/breach: a
// k-anonymity range client or an offline copy).
type BreachCheck interface {
	// Refuse returns a KindInvalid "password_breached" error for a breached
	// password; it fails open when the corpus cannot be reached.
	Refuse(ctx context.Context, password string) error
	// Breached counts the password's appearances in the corpus.
	Breached(ctx context.Context, password string) (int, error)
}

// hashNewPassword applies the password policy (length, blocklist) and the
// breach corpus to a password a user is choosing, and returns the Argon2id
// PHC string of its normalised form.
func (s *Service) hashNewPassword(ctx context.Context, pw string) (string, error) {
	normalised, err := s.deps.Policy.Check(pw)
	if err != nil {
		return "", err
	}
	if s.deps.Breach != nil {
		if err := s.deps.Breach.Refuse(ctx, normalised); err != nil {
			return "", err
		}
	}
	return s.deps.Hasher.Hash(ctx, []byte(normalised))
}

// flagIfBreached checks, off the request path, whether the password a user
// just logged in with is breached, and flags the account so the user is
// asked to change it. The login itself is never held up or refused.
func (s *Service) flagIfBreached(uid uuid.UUID, normalised []byte) {
	if s.deps.Breach == nil {
		return
	}
	pw := string(normalised)
	task := func(ctx context.Context) {
		n, err := s.deps.Breach.Breached(ctx, pw)
		if err != nil || n == 0 {
			return
		}
		if err := s.deps.Store.SetPasswordBreached(ctx, uid, true, s.now()); err != nil {
			s.log.WarnContext(ctx, "could not flag a breached password", "user_id", uid, "error", err)
			return
		}
		s.log.InfoContext(ctx, "login with a breached password: account flagged for a change", "user_id", uid)
		s.emit(ctx, EventPasswordBreached, uid, "", eventContext{}, map[string]any{"found_in_corpus": true})
	}
	select {
	case s.background <- task:
	default:
	}
}
