package auth

import (
	"context"

	"github.com/google/uuid"
)

// Event kinds the service and the store record besides the security
// events of types.go; app/events maps every kind to its CloudEvents type.
const (
	EventUserRegistered         = "user.registered"
	EventSessionStarted         = "session.started"
	EventLoginSucceeded         = "login.succeeded"
	EventLoginFailed            = "login.failed"
	EventLoginChallenged        = "login.challenged"
	EventLoginRateLimited       = "login.rate_limited"
	EventAccountLocked          = "account.locked"
	EventAccountUnlocked        = "account.unlocked"
	EventMFAChallenged          = "mfa.challenged"
	EventMFAFailed              = "mfa.failed"
	EventPasskeyUsed            = "passkey.used"
	EventPasswordResetRequested = "password.reset_requested"
	EventPasswordBreached       = "password.breached"
)

// EventRecorder takes events that record no state change (a failed login,
// a challenge) and appends them to the audit trail in batches, off the
// request path (app/events.Batcher). Record never blocks.
type EventRecorder interface {
	Record(ev Event)
}

// eventContext is what an event knows about the request behind it.
type eventContext struct {
	IP, UserAgent string
}

// emit records a no-state-change event, if the service has a recorder.
func (s *Service) emit(ctx context.Context, kind string, userID uuid.UUID, homeRegion string, ec eventContext, detail map[string]any) {
	if s.deps.Events == nil {
		return
	}
	if homeRegion == "" {
		homeRegion = s.cfg.Region
	}
	if detail == nil {
		detail = map[string]any{}
	}
	if ec.IP != "" {
		detail["ip"] = ec.IP
	}
	if ec.UserAgent != "" {
		detail["user_agent"] = truncate(ec.UserAgent, 256)
	}
	s.deps.Events.Record(Event{ID: s.newID(), UserID: userID, HomeRegion: homeRegion, Kind: kind, At: s.now(), Detail: detail})
}

// emitLogin records the event of a password login's outcome. result is
// the metrics label the login was counted under; email_hash names the
// account for unknown users (never the email itself).
func (s *Service) emitLogin(ctx context.Context, req LoginRequest, res LoginResult, result string) {
	if s.deps.Events == nil {
		return
	}
	ec := eventContext{IP: req.IP, UserAgent: req.UserAgent}
	_, key := accountKey(req.Email)
	detail := map[string]any{"email_hash": key}
	if sampler := s.refusals[result]; sampler != nil {
		// Refused before any check: at most a bounded number of events a
		// second, each counting the refusals it stands for.
		ok, n := sampler.admit(s.now())
		if !ok {
			return
		}
		detail["refusals"] = n
	}
	switch result {
	case "success":
		detail["session_id"] = res.Tokens.SessionID
		s.emit(ctx, EventLoginSucceeded, res.UserID, "", ec, detail)
	case "mfa_required":
		s.emit(ctx, EventMFAChallenged, res.UserID, "", ec, detail)
	case "challenge_required":
		s.emit(ctx, EventLoginChallenged, res.UserID, "", ec, detail)
	case "rate_limited":
		s.emit(ctx, EventLoginRateLimited, res.UserID, "", ec, detail)
	case "locked":
		detail["reason"] = "locked"
		s.emit(ctx, EventAccountLocked, res.UserID, "", ec, detail)
	default:
		reason := result
		switch res.Outcome {
		case LoginDisabled:
			reason = "account_disabled"
		case LoginResetRequired:
			reason = "password_reset_required"
		}
		detail["reason"] = reason
		s.emit(ctx, EventLoginFailed, res.UserID, "", ec, detail)
	}
}
