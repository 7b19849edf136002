package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/defense"
	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/mfa"
)

// Risk step-up for accounts without a second factor: when the defense
// decides step_up for a correct password (many recent failures on the
// account, or a risky network) and the account has no factor to ask for,
// the login answers 401 verification_required and mails a one-time code.
// POST /v1/login/verify with the verification_token and the code
// completes the login. The code has 6 digits, lives 10 minutes, is single
// use, survives 5 wrong tries and is kept only as a keyed MAC.
const (
	verifyTokenPrefix = "ghv_"
	verifyCodeTTL     = 10 * time.Minute
	verifyMaxAttempts = 5
	verifyCodeDigits  = 6
	// pendingEmailCode marks a pending login that waits for an emailed code.
	pendingEmailCode = "email_code"
	// MethodEmailCode names the verification lane in the defense.
	MethodEmailCode = "email_code"
)

// Verification is the 401 verification_required answer.
type Verification struct {
	Token     string `json:"verification_token"`
	ExpiresIn int    `json:"expires_in"`
}

// ParseVerifyToken checks a verification_token's shape and returns its
// home region.
func ParseVerifyToken(tok string) (string, error) { return parseRegionToken(verifyTokenPrefix, tok) }

var errLoginCode = errors.New("auth: the code must be 6 digits")

// ParseLoginCode checks an emailed one-time code: exactly six ASCII digits
// (spaces and dashes a user may type between groups are dropped).
func ParseLoginCode(code string) (string, error) {
	out := make([]byte, 0, verifyCodeDigits)
	for i := 0; i < len(code); i++ {
		switch c := code[i]; {
		case c >= '0' && c <= '9':
			if len(out) == verifyCodeDigits {
				return "", errLoginCode
			}
			out = append(out, c)
		case c == ' ' || c == '-':
		default:
			return "", errLoginCode
		}
	}
	if len(out) != verifyCodeDigits || len(code) > 16 {
		return "", errLoginCode
	}
	return string(out), nil
}

// codeMAC is how a code is kept at rest: HMAC-SHA256 under the device key
// over the token and the code, so a copy of the table gives no code
// (10^6 codes are no work to hash, but nothing without the key).
func (s *Service) codeMAC(tok, code string) string {
	key := []byte("gatehouse/login-code/no-keys")
	if ks := s.deviceKeys(); len(ks) > 0 {
		key = ks[0]
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("ghv/1"))
	m.Write([]byte(tok))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil))
}

// newLoginCode draws a uniform 6-digit code.
func (s *Service) newLoginCode() string {
	for {
		n := binary.BigEndian.Uint32(s.randomBytes(4))
		if n < 4_294_000_000 { // a multiple of 10^6: no modulo bias
			return fmt.Sprintf("%06d", n%1_000_000)
		}
	}
}

// errStepUpPending marks an attempt released while its step-up is pending.
var errStepUpPending = errors.New("auth: step-up pending")

// stepUpLogin handles a right password the defense wants stepped up. An
// account with a second factor goes on to it (the login asks for it in
// any case), and a banned or reset-bound one gets its usual answer: the
// attempt is recorded as a success and done is false. An account without a
// factor gets an emailed code: the attempt is released (the account's
// lanes keep their failures until the code is entered) and done is true.
func (s *Service) stepUpLogin(ctx context.Context, u User, req LoginRequest, att defense.Attempt) (LoginResult, bool, error) {
	methods, _, err := s.secondFactorMethods(ctx, u.ID)
	if err != nil {
		s.guardRecord(ctx, att, false, err)
		return LoginResult{}, true, err
	}
	if len(methods) > 0 || u.Status != StatusActive || u.MustChangePassword {
		s.guardRecord(ctx, att, true, nil)
		return LoginResult{}, false, nil
	}
	s.guardRecord(ctx, att, false, errStepUpPending)
	v, err := s.requireVerification(ctx, u, req, att.DeviceTrusted)
	if err != nil {
		return LoginResult{}, true, err
	}
	return LoginResult{Outcome: LoginVerificationRequired, UserID: u.ID, Verification: v}, true, nil
}

// requireVerification stores a pending login that waits for an emailed
// code, queues the mail (within the mail limits) and returns the answer.
func (s *Service) requireVerification(ctx context.Context, u User, req LoginRequest, deviceTrusted bool) (*Verification, error) {
	if s.deps.MFA == nil {
		return nil, errs.Internal(errors.New("auth: step-up needs the pending-login table (second factors)"))
	}
	tok := verifyTokenPrefix + u.HomeRegion + "_" + base64.RawURLEncoding.EncodeToString(s.randomBytes(32))
	code := s.newLoginCode()
	p := pendingLogin{ClientID: req.ClientID, IP: req.IP, UserAgent: truncate(req.UserAgent, 256), DeviceTrusted: deviceTrusted,
		Kind: pendingEmailCode, CodeMAC: s.codeMAC(tok, code)}
	now := s.now()
	if err := s.savePending(ctx, tok, u.ID, p, now.Add(verifyCodeTTL)); err != nil {
		return nil, err
	}
	if s.mailAllowed(ctx, "login_code", req.IP, u.Email) {
		msg := OutboxMessage{ID: s.newID(), HomeRegion: u.HomeRegion, Kind: "login_code", Recipient: u.Email,
			Payload: map[string]any{"code": code, "expires_at": now.Add(verifyCodeTTL).UTC().Format(time.RFC3339)}, CreatedAt: now}
		if err := s.deps.Store.Enqueue(ctx, msg); err != nil {
			return nil, err
		}
	}
	s.log.InfoContext(ctx, "login needs an emailed code", "user_id", u.ID)
	return &Verification{Token: tok, ExpiresIn: int(verifyCodeTTL / time.Second)}, nil
}

// VerifyLogin completes a login that answered verification_required with
// the emailed code. A wrong code keeps the token for a few more tries
// (verifyMaxAttempts in all); success or too many failures end it. Codes
// are counted on the account's own failure lane too, like second factors.
func (s *Service) VerifyLogin(ctx context.Context, tok, code string, challenge *defense.Solution) (TokenResponse, error) {
	bad := func() error { return invalidMFA("invalid_code", "the code is wrong, expired or already used") }
	if s.deps.MFA == nil {
		return TokenResponse{}, invalidMFA("invalid_verification_token", "the verification_token is invalid or expired")
	}
	if _, err := ParseVerifyToken(tok); err != nil {
		return TokenResponse{}, invalidMFA("invalid_verification_token", "the verification_token is invalid or expired")
	}
	normalised, codeErr := ParseLoginCode(code)
	if codeErr != nil {
		return TokenResponse{}, errs.Invalid("invalid_request", "code must be 6 digits")
	}
	pending, ok, err := s.deps.MFA.Pending.TakeWebAuthnCeremony(ctx, mfaTokenID(tok))
	if err != nil {
		return TokenResponse{}, err
	}
	var p pendingLogin
	if ok && pending.Purpose == purposeMFALogin {
		if err := json.Unmarshal(pending.Data, &p); err != nil {
			return TokenResponse{}, errs.Internal(err)
		}
	}
	if !ok || p.Kind != pendingEmailCode {
		return TokenResponse{}, invalidMFA("invalid_verification_token", "the verification_token is invalid, used or expired")
	}
	uid := pending.UserID
	att := defense.Attempt{IP: parseIP(p.IP), AccountKey: "user:" + uid.String(), Factor: MethodEmailCode,
		DeviceTrusted: p.DeviceTrusted, Challenge: challenge}
	if _, err := s.guardCheck(ctx, att); err != nil {
		if serr := s.savePending(ctx, tok, uid, p, pending.ExpiresAt); serr != nil {
			return TokenResponse{}, serr
		}
		return TokenResponse{}, err
	}
	match := hmac.Equal([]byte(p.CodeMAC), []byte(s.codeMAC(tok, normalised)))
	s.guardRecord(ctx, att, match, nil)
	if !match {
		if p.Attempts+1 < verifyMaxAttempts {
			p.Attempts++
			if serr := s.savePending(ctx, tok, uid, p, pending.ExpiresAt); serr != nil {
				return TokenResponse{}, serr
			}
		}
		s.log.InfoContext(ctx, "emailed login code refused", "user_id", uid)
		return TokenResponse{}, bad()
	}
	return s.finishVerifiedLogin(ctx, uid, p)
}

// finishVerifiedLogin starts the session of a verified login.
func (s *Service) finishVerifiedLogin(ctx context.Context, uid uuid.UUID, p pendingLogin) (TokenResponse, error) {
	user, err := s.deps.Store.User(ctx, uid)
	if err != nil {
		return TokenResponse{}, err
	}
	if user.Status != StatusActive {
		return TokenResponse{}, errs.E(errs.KindForbidden, "account_disabled", "this account is disabled")
	}
	s.deps.Observer.LoginResult("success")
	// The password and the code were right: the password attempt that
	// was held back counts as a success now.
	s.guardRecord(ctx, defense.Attempt{IP: parseIP(p.IP), AccountKey: accountKeyOf(user.Email), DeviceTrusted: p.DeviceTrusted}, true, nil)
	// An emailed code is an out-of-band one-time password (RFC 8176
	// "otp"); it does not raise the assurance level.
	tokens, err := s.startSession(ctx, user, p.ClientID, []string{"pwd", "otp"}, mfa.ACRAAL1, p.IP, p.UserAgent)
	if err != nil {
		return TokenResponse{}, err
	}
	if !p.DeviceTrusted {
		tokens.DeviceToken = s.trustDevice(ctx, user, p.IP, p.UserAgent)
	}
	return tokens, nil
}
