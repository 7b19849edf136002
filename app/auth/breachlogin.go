package auth

import (
	"context"
)

// Breached passwords at login (Config.BreachOnLogin): BreachFlag, the
// default, lets the login through and flags the account for a change off
// the request path; BreachForceReset answers 403 password_reset_required
// and mails the owner a reset link (within the mail limits), so a leaked
// password stops logging in at once.
const (
	BreachFlag       = "flag"
	BreachForceReset = "force_reset"
)

// breachedAtLogin reports, for BreachForceReset, whether the password just
// checked is in the breach corpus, and if so flags the account and queues
// the reset mail. A corpus that cannot be reached fails open (the login
// goes on and is flagged later, as in BreachFlag mode).
func (s *Service) breachedAtLogin(ctx context.Context, u User, normalised []byte, ip string) bool {
	if s.deps.Breach == nil || s.cfg.BreachOnLogin != BreachForceReset {
		return false
	}
	n, err := s.deps.Breach.Breached(ctx, string(normalised))
	if err != nil {
		s.log.WarnContext(ctx, "breach corpus unavailable at login; the login goes on", "user_id", u.ID, "error", err)
		return false
	}
	if n == 0 {
		return false
	}
	if err := s.deps.Store.SetPasswordBreached(ctx, u.ID, true, s.now()); err != nil {
		s.log.WarnContext(ctx, "could not flag a breached password", "user_id", u.ID, "error", err)
	}
	if s.mailAllowed(ctx, "password_reset", ip, u.Email) {
		uid, region, addr := u.ID, u.HomeRegion, u.Email
		task := func(ctx context.Context) {
			if err := s.createReset(ctx, uid, region, addr, "password_reset_breached"); err != nil {
				s.log.WarnContext(ctx, "breached password: reset not created", "user_id", uid, "error", err)
			}
		}
		select {
		case s.background <- task:
		default:
			s.log.WarnContext(ctx, "password reset queue full; breached-password reset dropped", "user_id", uid)
		}
	}
	s.log.InfoContext(ctx, "login with a breached password refused; reset mailed", "user_id", u.ID)
	return true
}
