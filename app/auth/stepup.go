package auth

import (
	"context"
	"strings"

	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/mfa"
)

// errStepUp is the answer to a factor change without a recent enough
// authentication: log in again (with a second factor when the account has
// one) and retry within stepUpWindow.
func errStepUp(acr string) error {
	return &errs.Error{Kind: errs.KindForbidden, Code: "step_up_required",
		Message: "log in again to change second factors",
		Details: map[string]any{"max_age": int(stepUpWindow.Seconds()), "acr_values": acr}}
}

// RequireFactorAuth checks that the caller may change the account's second
// factors (ASVS 7.5.1): the session must have authenticated within the last
// stepUpWindow, with a second factor (acr aal2) when the account has one,
// with the password when it has none. A thief holding a stolen or old
// access token can then neither add a factor of their own nor remove the
// owner's.
func (s *Service) RequireFactorAuth(ctx context.Context, p Principal) error {
	c := p.Claims
	if c == nil || c.AuthTime.IsZero() || s.now().Sub(c.AuthTime) > stepUpWindow {
		return errStepUp(mfa.ACRAAL1)
	}
	if c.ACR == mfa.ACRAAL2 {
		return nil
	}
	methods, _, err := s.secondFactorMethods(ctx, p.UserID)
	if err != nil {
		return err
	}
	if len(methods) > 0 {
		return errStepUp(mfa.ACRAAL2)
	}
	return nil
}

// mailFactorChange tells the account's owner through the outbox that a
// factor was added or removed, so that a change they did not make is seen.
func (s *Service) mailFactorChange(ctx context.Context, p Principal, kind string) {
	u, err := s.deps.Store.User(ctx, p.UserID)
	if err != nil {
		s.log.WarnContext(ctx, "factor change: owner not mailed", "user_id", p.UserID, "error", err)
		return
	}
	mail := "factor_added"
	if strings.HasSuffix(kind, "_removed") || strings.HasSuffix(kind, "_disabled") {
		mail = "factor_removed"
	}
	msg := OutboxMessage{ID: s.newID(), HomeRegion: u.HomeRegion, Kind: mail, Recipient: u.Email,
		Payload: map[string]any{"change": kind, "at": s.now().UTC().Format("2006-01-02T15:04:05Z")}, CreatedAt: s.now()}
	if err := s.deps.Store.Enqueue(ctx, msg); err != nil {
		s.log.WarnContext(ctx, "factor change: owner not mailed", "user_id", p.UserID, "error", err)
	}
}

// enrolledFactors names the factors an account still has, for the mail a
// password reset sends (a reset does not remove them).
func (s *Service) enrolledFactors(ctx context.Context, u User) []string {
	f := s.deps.MFA
	if f == nil {
		return []string{}
	}
	out := []string{}
	if ok, err := f.TOTP.Enabled(ctx, u.ID); err == nil && ok {
		out = append(out, mfa.MethodTOTP)
	}
	if creds, err := f.WebAuthn.Credentials(ctx, u.ID); err == nil {
		for range creds {
			out = append(out, mfa.MethodWebAuthn)
		}
	}
	if n, err := f.Recovery.Remaining(ctx, u.ID); err == nil && n > 0 {
		out = append(out, mfa.MethodRecoveryCode)
	}
	return out
}
