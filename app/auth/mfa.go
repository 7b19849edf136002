package auth

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/defense"
	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/mfa"
)

// SecondFactors are the MFA services (app/mfa) and the table that keeps
// pending second-factor logins (the single-use ceremony table of app/store).
type SecondFactors struct {
	TOTP     *mfa.TOTP
	Recovery *mfa.RecoveryCodes
	WebAuthn *mfa.WebAuthn
	Pending  PendingLogins
}

// PendingLogins keeps the state between a correct password and its second
// factor. Take is an atomic delete-and-return, which makes mfa_token single
// use; expired entries are never returned.
type PendingLogins interface {
	SaveWebAuthnCeremony(ctx context.Context, c mfa.WebAuthnCeremony) error
	TakeWebAuthnCeremony(ctx context.Context, id string) (mfa.WebAuthnCeremony, bool, error)
}

const (
	mfaTokenPrefix = "ghm_"
	mfaTokenTTL    = 5 * time.Minute
	// mfaMaxAttempts is how many wrong codes one mfa_token survives.
	mfaMaxAttempts = 5
	// purposeMFALogin marks pending logins in the ceremony table.
	purposeMFALogin = "mfa_login"
	// stepUpWindow is how recent a second factor must be to remove one.
	stepUpWindow = 10 * time.Minute
)

// MFAChallenge is what a login with a second factor enrolled answers: 401
// mfa_required with these fields.
type MFAChallenge struct {
	Token   string   `json:"mfa_token"`
	Methods []string `json:"methods"`
	// WebAuthn holds assertion options when the user has a WebAuthn key.
	WebAuthn  *mfa.Ceremony `json:"webauthn,omitempty"`
	ExpiresIn int           `json:"expires_in"`
}

type pendingLogin struct {
	ClientID      string `json:"client_id"`
	IP            string `json:"ip"`
	UserAgent     string `json:"user_agent"`
	Attempts      int    `json:"attempts"`
	DeviceTrusted bool   `json:"device_trusted"`
	// Kind is "" for a second-factor login, pendingEmailCode for one that
	// waits for an emailed code, whose MAC CodeMAC holds (verify.go).
	Kind    string `json:"kind,omitempty"`
	CodeMAC string `json:"code_mac,omitempty"`
}

// ParseMFAToken checks an mfa_token's shape and returns its home region.
func ParseMFAToken(tok string) (string, error) { return parseRegionToken(mfaTokenPrefix, tok) }

func mfaTokenID(tok string) string { h := sha256Sum([]byte(tok)); return hex.EncodeToString(h) }

// secondFactorMethods lists the factors a user can complete a login with;
// empty when the user has none (recovery codes alone are not a factor).
func (s *Service) secondFactorMethods(ctx context.Context, uid uuid.UUID) (methods []string, webauthn bool, err error) {
	f := s.deps.MFA
	if f == nil {
		return nil, false, nil
	}
	totp, err := f.TOTP.Enabled(ctx, uid)
	if err != nil {
		return nil, false, err
	}
	creds, err := f.WebAuthn.Credentials(ctx, uid)
	if err != nil {
		return nil, false, err
	}
	if !totp && len(creds) == 0 {
		return nil, false, nil
	}
	if totp {
		methods = append(methods, mfa.MethodTOTP)
	}
	if len(creds) > 0 {
		methods = append(methods, mfa.MethodWebAuthn)
	}
	if n, err := f.Recovery.Remaining(ctx, uid); err == nil && n > 0 {
		methods = append(methods, mfa.MethodRecoveryCode)
	}
	return methods, len(creds) > 0, nil
}

// challengeMFA stores a pending login and returns the mfa_required answer.
func (s *Service) challengeMFA(ctx context.Context, u User, req LoginRequest, methods []string, webauthn, deviceTrusted bool) (*MFAChallenge, error) {
	tok := mfaTokenPrefix + u.HomeRegion + "_" + base64.RawURLEncoding.EncodeToString(s.randomBytes(32))
	p := pendingLogin{ClientID: req.ClientID, IP: req.IP, UserAgent: truncate(req.UserAgent, 256), DeviceTrusted: deviceTrusted}
	if err := s.savePending(ctx, tok, u.ID, p, s.now().Add(mfaTokenTTL)); err != nil {
		return nil, err
	}
	ch := &MFAChallenge{Token: tok, Methods: methods, ExpiresIn: int(mfaTokenTTL / time.Second)}
	if webauthn {
		c, err := s.deps.MFA.WebAuthn.BeginLogin(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		ch.WebAuthn = &c
	}
	return ch, nil
}

func (s *Service) savePending(ctx context.Context, tok string, uid uuid.UUID, p pendingLogin, expires time.Time) error {
	data, err := json.Marshal(p)
	if err != nil {
		return errs.Internal(err)
	}
	return s.deps.MFA.Pending.SaveWebAuthnCeremony(ctx, mfa.WebAuthnCeremony{ID: mfaTokenID(tok), UserID: uid, Purpose: purposeMFALogin, Data: data, ExpiresAt: expires})
}

// MFALogin is the second step of a login: mfa_token plus one factor.
type MFALogin struct {
	Token        string
	TOTPCode     string
	RecoveryCode string
	WebAuthn     *mfa.WebAuthnResponse
	// Challenge is the solution to a challenge the server set after
	// repeated failures, like LoginRequest.Challenge.
	Challenge *defense.Solution
}

func invalidMFA(code, msg string) error { return errs.E(errs.KindUnauthenticated, code, msg) }

// CompleteMFA checks the second factor of a pending login and starts the
// session, with amr and acr saying what was used. A wrong code keeps the
// mfa_token for a few more tries; success or too many failures end it.
func (s *Service) CompleteMFA(ctx context.Context, in MFALogin) (TokenResponse, error) {
	if s.deps.MFA == nil {
		return TokenResponse{}, invalidMFA("invalid_mfa_token", "the mfa_token is invalid or expired")
	}
	if _, err := ParseMFAToken(in.Token); err != nil {
		return TokenResponse{}, invalidMFA("invalid_mfa_token", "the mfa_token is invalid or expired")
	}
	pending, ok, err := s.deps.MFA.Pending.TakeWebAuthnCeremony(ctx, mfaTokenID(in.Token))
	if err != nil {
		return TokenResponse{}, err
	}
	if !ok || pending.Purpose != purposeMFALogin {
		return TokenResponse{}, invalidMFA("invalid_mfa_token", "the mfa_token is invalid, used or expired")
	}
	var p pendingLogin
	if err := json.Unmarshal(pending.Data, &p); err != nil {
		return TokenResponse{}, errs.Internal(err)
	}
	if p.Kind != "" { // an emailed-code login is completed at /v1/login/verify only
		return TokenResponse{}, invalidMFA("invalid_mfa_token", "the mfa_token is invalid, used or expired")
	}
	uid := pending.UserID
	// Second-factor attempts have their own failure lane per account,
	// shared by every session and never reset by a password success
	// (RFC 4226 §7.3), checked before the code.
	att := defense.Attempt{IP: parseIP(p.IP), AccountKey: "user:" + uid.String(), Factor: factorOf(in), DeviceTrusted: p.DeviceTrusted,
		Challenge: in.Challenge}
	if _, err := s.guardCheck(ctx, att); err != nil {
		if serr := s.savePending(ctx, in.Token, uid, p, pending.ExpiresAt); serr != nil {
			return TokenResponse{}, serr
		}
		return TokenResponse{}, err
	}
	used := mfa.Authentication{Password: true}
	var outcome mfa.Outcome
	switch {
	case in.TOTPCode != "":
		outcome, err = s.deps.MFA.TOTP.Verify(ctx, uid, in.TOTPCode)
		used.TOTP = outcome.OK()
	case in.RecoveryCode != "":
		outcome, err = s.deps.MFA.Recovery.Use(ctx, uid, in.RecoveryCode)
		used.RecoveryCode = outcome.OK()
	case in.WebAuthn != nil:
		var res mfa.AssertionResult
		res, err = s.deps.MFA.WebAuthn.FinishLogin(ctx, uid, in.WebAuthn.CeremonyID, in.WebAuthn.Credential)
		used = used.FromAssertion(res)
		if res.OK {
			outcome = mfa.Accepted
		}
	default:
		err = errs.Invalid("invalid_request", "one of totp_code, recovery_code or webauthn is required")
	}
	s.guardRecord(ctx, att, err == nil && outcome.OK(), nil)
	if err != nil || !outcome.OK() {
		// Give the token back for another try, unless it has had enough.
		if p.Attempts+1 < mfaMaxAttempts && !errs.Is(err, errs.KindInternal) && !errs.Is(err, errs.KindUnavailable) {
			p.Attempts++
			if serr := s.savePending(ctx, in.Token, uid, p, pending.ExpiresAt); serr != nil {
				return TokenResponse{}, serr
			}
		}
		if err != nil && !errs.Is(err, errs.KindInvalid) {
			return TokenResponse{}, err
		}
		s.log.InfoContext(ctx, "second factor refused", "user_id", uid, "outcome", outcome.String())
		s.emit(ctx, EventMFAFailed, uid, "", eventContext{IP: p.IP, UserAgent: p.UserAgent}, map[string]any{"factor": factorOf(in), "reason": outcome.String()})
		return TokenResponse{}, invalidMFA("invalid_code", "the code is wrong, expired or already used")
	}
	user, err := s.deps.Store.User(ctx, uid)
	if err != nil {
		return TokenResponse{}, err
	}
	if user.Status != StatusActive {
		return TokenResponse{}, errs.E(errs.KindForbidden, "account_disabled", "this account is disabled")
	}
	if used.RecoveryCode {
		s.noteRecoveryCodeUse(ctx, user)
	}
	amr, acr := mfa.Assurance(used)
	s.deps.Observer.LoginResult("success")
	tokens, err := s.startSession(ctx, user, p.ClientID, amr, acr, p.IP, p.UserAgent)
	if err != nil {
		return TokenResponse{}, err
	}
	if !p.DeviceTrusted {
		tokens.DeviceToken = s.trustDevice(ctx, user, p.IP, p.UserAgent)
	}
	s.emit(ctx, EventLoginSucceeded, user.ID, user.HomeRegion, eventContext{IP: p.IP, UserAgent: p.UserAgent},
		map[string]any{"session_id": tokens.SessionID, "factor": factorOf(in)})
	return tokens, nil
}

// factorOf names the defense lane of a second-factor attempt.
func factorOf(in MFALogin) string {
	switch {
	case in.TOTPCode != "":
		return mfa.MethodTOTP
	case in.RecoveryCode != "":
		return mfa.MethodRecoveryCode
	}
	return mfa.MethodWebAuthn
}

// noteRecoveryCodeUse records the use and tells the owner by mail.
func (s *Service) noteRecoveryCodeUse(ctx context.Context, u User) {
	now := s.now()
	if err := s.deps.Store.RecordEvent(ctx, Event{ID: s.newID(), UserID: u.ID, HomeRegion: u.HomeRegion, Kind: "mfa.recovery_code_used", At: now}); err != nil {
		s.log.WarnContext(ctx, "recovery code use: event not recorded", "user_id", u.ID, "error", err)
	}
	msg := OutboxMessage{ID: s.newID(), HomeRegion: u.HomeRegion, Kind: "recovery_code_used", Recipient: u.Email, CreatedAt: now}
	if err := s.deps.Store.Enqueue(ctx, msg); err != nil {
		s.log.WarnContext(ctx, "recovery code use: mail not queued", "user_id", u.ID, "error", err)
	}
}

// BeginPasskeyLogin starts a passwordless login with a discoverable
// credential (user verification required). Each begin stores a ceremony
// row, so it passes the address, subnet and global limits of logins first.
func (s *Service) BeginPasskeyLogin(ctx context.Context, ip string) (mfa.Ceremony, error) {
	if s.deps.MFA == nil {
		return mfa.Ceremony{}, errs.E(errs.KindNotFound, "not_found", "passkeys are not enabled")
	}
	if _, err := s.guardCheck(ctx, defense.Attempt{IP: parseIP(ip), Factor: "passkey"}); err != nil {
		return mfa.Ceremony{}, err
	}
	return s.deps.MFA.WebAuthn.BeginPasskeyLogin(ctx)
}

// FinishPasskeyLogin completes a passwordless login.
func (s *Service) FinishPasskeyLogin(ctx context.Context, resp mfa.WebAuthnResponse, ip, ua string) (TokenResponse, error) {
	return s.FinishPasskeyLoginFor(ctx, resp, FirstPartyClient, ip, ua)
}

// FinishPasskeyLoginFor completes a passwordless login for a client (the
// hosted pages' browser session is WebClient's).
func (s *Service) FinishPasskeyLoginFor(ctx context.Context, resp mfa.WebAuthnResponse, clientID, ip, ua string) (TokenResponse, error) {
	if s.deps.MFA == nil {
		return TokenResponse{}, errs.E(errs.KindNotFound, "not_found", "passkeys are not enabled")
	}
	res, err := s.deps.MFA.WebAuthn.FinishPasskeyLogin(ctx, resp.CeremonyID, resp.Credential)
	if err != nil {
		return TokenResponse{}, err
	}
	if !res.OK {
		s.log.InfoContext(ctx, "passkey login refused", "reason", res.Reason)
		s.deps.Observer.LoginResult("invalid_credentials")
		s.emit(ctx, EventLoginFailed, res.UserID, "", eventContext{IP: ip, UserAgent: ua}, map[string]any{"reason": "passkey_refused"})
		return TokenResponse{}, invalidMFA("invalid_credentials", "the passkey was not accepted")
	}
	user, err := s.deps.Store.User(ctx, res.UserID)
	if err != nil {
		return TokenResponse{}, err
	}
	if user.Status != StatusActive {
		return TokenResponse{}, errs.E(errs.KindForbidden, "account_disabled", "this account is disabled")
	}
	amr, acr := mfa.Assurance(mfa.Authentication{}.FromAssertion(res))
	s.deps.Observer.LoginResult("success")
	tokens, err := s.startSession(ctx, user, clientID, amr, acr, ip, ua)
	if err == nil {
		s.emit(ctx, EventPasskeyUsed, user.ID, user.HomeRegion, eventContext{IP: ip, UserAgent: ua}, map[string]any{"session_id": tokens.SessionID})
	}
	return tokens, err
}
