package auth

import (
	"context"

	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/mfa"
)

func (s *Service) factors() (*SecondFactors, error) {
	if s.deps.MFA == nil {
		return nil, errs.E(errs.KindNotFound, "not_found", "second factors are not enabled")
	}
	return s.deps.MFA, nil
}

// EnrollTOTP starts a TOTP enrolment for the caller.
func (s *Service) EnrollTOTP(ctx context.Context, p Principal) (mfa.Enrolment, error) {
	f, err := s.factors()
	if err != nil {
		return mfa.Enrolment{}, err
	}
	if err := s.RequireFactorAuth(ctx, p); err != nil {
		return mfa.Enrolment{}, err
	}
	u, err := s.deps.Store.User(ctx, p.UserID)
	if err != nil {
		return mfa.Enrolment{}, err
	}
	return f.TOTP.Enroll(ctx, u.ID, u.Email)
}

// ConfirmTOTP activates a pending TOTP enrolment with a first code.
func (s *Service) ConfirmTOTP(ctx context.Context, p Principal, code string) error {
	f, err := s.factors()
	if err != nil {
		return err
	}
	if err := s.RequireFactorAuth(ctx, p); err != nil {
		return err
	}
	out, err := f.TOTP.Confirm(ctx, p.UserID, code)
	if err != nil {
		return err
	}
	if !out.OK() {
		return errs.Invalid("invalid_code", "the code is wrong or expired")
	}
	s.recordFactorChange(ctx, p, "mfa.totp_enabled")
	return nil
}

// RequireStepUp checks that the caller authenticated with a second factor
// recently (ASVS 7.5.1): removing a factor must not be possible with a
// stolen password-only session.
func (s *Service) RequireStepUp(p Principal) error {
	c := p.Claims
	if c == nil || c.ACR != mfa.ACRAAL2 || s.now().Sub(c.AuthTime) > stepUpWindow {
		return &errs.Error{Kind: errs.KindForbidden, Code: "step_up_required",
			Message: "log in again with a second factor to change second factors",
			Details: map[string]any{"max_age": int(stepUpWindow.Seconds()), "acr_values": mfa.ACRAAL2}}
	}
	return nil
}

// DisableTOTP removes TOTP after a step-up and ends every other session.
func (s *Service) DisableTOTP(ctx context.Context, p Principal) error {
	f, err := s.factors()
	if err != nil {
		return err
	}
	if err := s.RequireStepUp(p); err != nil {
		return err
	}
	removed, err := f.TOTP.Disable(ctx, p.UserID)
	if err != nil {
		return err
	}
	if !removed {
		return errs.E(errs.KindNotFound, "not_found", "no TOTP is enrolled")
	}
	return s.afterFactorRemoved(ctx, p, "mfa.totp_disabled")
}

// RegenerateRecoveryCodes makes a new set of recovery codes, voiding the
// old set; the codes are shown once.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, p Principal) ([]string, error) {
	f, err := s.factors()
	if err != nil {
		return nil, err
	}
	if err := s.RequireFactorAuth(ctx, p); err != nil {
		return nil, err
	}
	codes, err := f.Recovery.Generate(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	s.recordFactorChange(ctx, p, "mfa.recovery_codes_generated")
	return codes, nil
}

// BeginWebAuthnRegistration starts registering a security key or passkey.
func (s *Service) BeginWebAuthnRegistration(ctx context.Context, p Principal) (mfa.Ceremony, error) {
	f, err := s.factors()
	if err != nil {
		return mfa.Ceremony{}, err
	}
	if err := s.RequireFactorAuth(ctx, p); err != nil {
		return mfa.Ceremony{}, err
	}
	u, err := s.deps.Store.User(ctx, p.UserID)
	if err != nil {
		return mfa.Ceremony{}, err
	}
	return f.WebAuthn.BeginRegistration(ctx, u.ID, u.Email, u.Email)
}

// FinishWebAuthnRegistration stores the new credential.
func (s *Service) FinishWebAuthnRegistration(ctx context.Context, p Principal, resp mfa.WebAuthnResponse) (mfa.WebAuthnCredential, error) {
	f, err := s.factors()
	if err != nil {
		return mfa.WebAuthnCredential{}, err
	}
	if err := s.RequireFactorAuth(ctx, p); err != nil {
		return mfa.WebAuthnCredential{}, err
	}
	c, err := f.WebAuthn.FinishRegistration(ctx, p.UserID, resp.CeremonyID, resp.Credential)
	if err != nil {
		return mfa.WebAuthnCredential{}, err
	}
	s.recordFactorChange(ctx, p, "mfa.webauthn_registered")
	return c, nil
}

// DeleteWebAuthnCredential removes a credential after a step-up and ends
// every other session.
func (s *Service) DeleteWebAuthnCredential(ctx context.Context, p Principal, id []byte) error {
	f, err := s.factors()
	if err != nil {
		return err
	}
	if err := s.RequireStepUp(p); err != nil {
		return err
	}
	removed, err := f.WebAuthn.DeleteCredential(ctx, p.UserID, id)
	if err != nil {
		return err
	}
	if !removed {
		return errs.E(errs.KindNotFound, "not_found", "no such credential")
	}
	return s.afterFactorRemoved(ctx, p, "mfa.webauthn_removed")
}

func (s *Service) afterFactorRemoved(ctx context.Context, p Principal, kind string) error {
	now := s.now()
	ids, err := s.deps.Store.RevokeUserSessions(ctx, p.UserID, p.SessionID, "factor_removed", now,
		&Event{ID: s.newID(), UserID: p.UserID, HomeRegion: p.Claims.HomeRegion, Kind: kind, At: now})
	if err != nil {
		return err
	}
	s.revokeInCache(ctx, ids)
	s.mailFactorChange(ctx, p, kind)
	return nil
}

func (s *Service) recordFactorChange(ctx context.Context, p Principal, kind string) {
	ev := Event{ID: s.newID(), UserID: p.UserID, HomeRegion: p.Claims.HomeRegion, Kind: kind, At: s.now()}
	if err := s.deps.Store.RecordEvent(ctx, ev); err != nil {
		s.log.WarnContext(ctx, "factor change not recorded", "user_id", p.UserID, "kind", kind, "error", err)
	}
	s.mailFactorChange(ctx, p, kind)
}
