package auth

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"

	"github.com/gatehouse-id/gatehouse/app/defense"
	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/legacyhash"
	"github.com/gatehouse-id/gatehouse/app/password"
	"github.com/gatehouse-id/gatehouse/app/token"
)

// NormaliseEmail returns the canonical form of an email address (NFKC,
// trimmed, lower-cased) or an invalid_email error. The directory is keyed
// by the SHA-256 of this form.
func NormaliseEmail(raw string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(norm.NFKC.String(raw)))
	bad := func(why string) (string, error) {
		return "", errs.Invalid("invalid_email", "the email address "+why)
	}
	if e == "" {
		return bad("is missing")
	}
	if len(e) > 254 || !utf8.ValidString(e) {
		return bad("is too long or not valid UTF-8")
	}
	at := strings.LastIndexByte(e, '@')
	if at <= 0 || at == len(e)-1 || strings.Count(e, "@") != 1 {
		return bad("must look like name@example.com")
	}
	local, domain := e[:at], e[at+1:]
	if len(local) > 64 || !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return bad("must look like name@example.com")
	}
	for _, r := range e {
		// U+FFFD is what invalid UTF-8 decodes to: the address that was
		// meant is unknown. Non-printing characters (controls, format
		// characters such as zero-width joiners, unassigned code points)
		// make addresses that look alike but are not.
		if r == utf8.RuneError || !unicode.IsPrint(r) || unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`<>()[]\,;:"`, r) {
			return bad("contains a character that is not allowed")
		}
	}
	return e, nil
}

// EmailHash is the directory key of a normalised email.
func EmailHash(normalised string) []byte { return sha256Sum([]byte(normalised)) }

// SignUpResult is the answer to a sign-up.
type SignUpResult struct {
	UserID     uuid.UUID
	HomeRegion string
}

// SignUp creates an account homed in this region. With the enumeration
// guard on, an email that is taken gets the same answer as a new one (a
// made-up user id) and its owner is told by mail instead.
//
// ip is the client's address: a sign-up costs a hash, so it passes the
// admission lane and the address, subnet and global limits first.
func (s *Service) SignUp(ctx context.Context, email, pw, ip string) (SignUpResult, error) {
	addr, err := NormaliseEmail(email)
	if err != nil {
		return SignUpResult{}, err
	}
	leave, err := s.admitHashing(ctx, ip)
	if err != nil {
		return SignUpResult{}, err
	}
	defer leave()
	encoded, err := s.hashNewPassword(ctx, pw)
	if err != nil {
		return SignUpResult{}, err
	}
	now := s.now()
	u := User{ID: s.newID(), HomeRegion: s.cfg.Region, Email: addr, Status: StatusActive, CreatedAt: now, UpdatedAt: now}
	c := Credential{UserID: u.ID, HomeRegion: u.HomeRegion, Kind: CredentialArgon2id, Hash: encoded, CreatedAt: now, UpdatedAt: now}
	err = s.deps.Store.CreateUser(ctx, u, EmailHash(addr), c)
	if e := errs.As(err); e != nil && e.Code == "email_taken" && s.cfg.EnumerationGuard {
		s.noteExistingSignUp(ctx, addr, ip, now)
		return SignUpResult{UserID: s.newID(), HomeRegion: s.cfg.Region}, nil
	}
	if err != nil {
		return SignUpResult{}, err
	}
	s.log.InfoContext(ctx, "user signed up", "user_id", u.ID)
	return SignUpResult{UserID: u.ID, HomeRegion: u.HomeRegion}, nil
}

// noteExistingSignUp mails the owner of a taken address that someone tried
// to sign up with it, within the mail limits (per address and per email).
func (s *Service) noteExistingSignUp(ctx context.Context, addr, ip string, now time.Time) {
	if !s.mailAllowed(ctx, "signup_existing_account", ip, addr) {
		return
	}
	entry, err := s.deps.Store.LookupEmail(ctx, EmailHash(addr))
	if err != nil {
		s.log.WarnContext(ctx, "sign-up with a taken address: directory lookup failed", "error", err)
		return
	}
	msg := OutboxMessage{ID: s.newID(), HomeRegion: entry.HomeRegion, Kind: "signup_existing_account", Recipient: addr,
		Payload: map[string]any{"user_id": entry.UserID.String()}, CreatedAt: now}
	if err := s.deps.Store.Enqueue(ctx, msg); err != nil {
		s.log.WarnContext(ctx, "sign-up with a taken address: outbox write failed", "error", err)
	}
}

// LoginRequest is a password login.
type LoginRequest struct {
	Email     string
	Password  string
	ClientID  string
	IP        string
	UserAgent string
	// DeviceToken is the trusted-device token the client kept, if any.
	DeviceToken string
	// Challenge is the solution to a challenge the server set, if any.
	Challenge *defense.Solution
}

// LoginOutcome is what became of a login. A wrong password is an outcome,
// not an error.
type LoginOutcome int

// Login outcomes.
const (
	LoginSucceeded LoginOutcome = iota + 1
	// LoginInvalid: unknown email or wrong password; indistinguishable.
	LoginInvalid
	// LoginDisabled: the password was right but the account is banned.
	LoginDisabled
	// LoginResetRequired: the password was right but an administrator
	// forced a reset; only the reset flow logs in now.
	LoginResetRequired
	// LoginMFARequired: the password was right and the account has a
	// second factor; MFA carries the mfa_token.
	LoginMFARequired
	// LoginVerificationRequired: the password was right, the defense asked
	// for a step-up and the account has no second factor: a one-time code
	// was mailed; Verification carries the verification_token.
	LoginVerificationRequired
)

// TokenResponse is RFC 6749 §5.1's successful token response.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	SessionID    string `json:"session_id"`
	// DeviceToken is set when this login trusted a new device.
	DeviceToken string `json:"device_token,omitempty"`
}

// LoginResult is the answer to a login.
type LoginResult struct {
	Outcome LoginOutcome
	Tokens  TokenResponse
	UserID  uuid.UUID
	MFA     *MFAChallenge
	// Verification is set for LoginVerificationRequired.
	Verification *Verification
}

// Login checks an email and password. Unknown emails are checked against a
// dummy hash of the current parameters, so the answer and its timing are
// the same as for a wrong password.
func (s *Service) Login(ctx context.Context, req LoginRequest) (LoginResult, error) {
	ctx, end := s.span(ctx, "login")
	defer end()
	res, err := s.login(ctx, req)
	var result string
	switch {
	case err != nil && errs.Is(err, errs.KindUnavailable) && errs.As(err).Code == password.CodeOverloaded:
		result = "overloaded"
	case errs.Is(err, errs.KindRateLimited):
		result = "rate_limited"
	case errs.Is(err, errs.KindLocked):
		result = "locked"
	case errs.Is(err, errs.KindForbidden) && errs.As(err).Code == "challenge_required":
		result = "challenge_required"
	case err != nil:
		result = "error"
	case res.Outcome == LoginSucceeded:
		result = "success"
	case res.Outcome == LoginMFARequired, res.Outcome == LoginVerificationRequired:
		result = "mfa_required"
	default:
		result = "invalid_credentials"
	}
	s.deps.Observer.LoginResult(result)
	s.emitLogin(ctx, req, res, result)
	return res, err
}

func (s *Service) login(ctx context.Context, req LoginRequest) (LoginResult, error) {
	// Admission first: a login without an authentic device token waits
	// for nothing. Its lane is bounded, and under a flood it is shed
	// before any Redis, database or hashing work, since its hash would be
	// refused anyway. The answer is the same whatever the email.
	//
	// A device token counts only when its MAC verifies for this account
	// (no I/O); any other is ignored, as if none had been sent, so a
	// forged or foreign token costs no database read and no trusted lane.
	addr, key := accountKey(req.Email)
	var device *DeviceToken
	if addr != "" {
		if t, ok := s.authenticDeviceToken(req.DeviceToken, EmailHash(addr)); ok {
			device = &t
		}
	}
	_, endAdmission := s.span(ctx, "login.admission")
	leave, err := s.admitLogin(device != nil)
	endAdmission()
	if err != nil {
		return LoginResult{}, err
	}
	defer leave()
	if s.deps.Pool != nil && s.deps.Pool.Busy() && device == nil {
		return LoginResult{}, errLoginsBusy()
	}
	secret := password.Normalise(req.Password)
	invalid := LoginResult{Outcome: LoginInvalid}
	// The defense layers run before any hashing — and before any database
	// work, so that refusing a flood costs a few Redis round trips: limits,
	// lockout, challenges and detection cost attackers, not our capacity.
	// Only an authentic device token needs the account first, to be checked.
	att := defense.Attempt{IP: parseIP(req.IP), AccountKey: key, Challenge: req.Challenge, PasswordFingerprintInput: secret}
	att.Device = deviceRef(req.DeviceToken)
	var acct account
	if device != nil {
		if acct, err = s.lookupAccount(ctx, addr); err != nil {
			return LoginResult{}, err
		}
		if acct.known {
			if att.DeviceTrusted, err = s.deviceTrusted(ctx, acct.user.ID, *device, req.DeviceToken); err != nil {
				return LoginResult{}, err
			}
		}
	}
	decision, err := s.guardCheck(ctx, att)
	if err != nil {
		return LoginResult{}, err
	}
	if device == nil {
		if acct, err = s.lookupAccount(ctx, addr); err != nil {
			s.guardRecord(ctx, att, false, err)
			return LoginResult{}, err
		}
	}
	ok := false
	if acct.known {
		if att.DeviceTrusted {
			// The user's usual device waits in the hashing pool's
			// priority lane, ahead of unknown clients.
			ctx = password.WithPriority(ctx)
		}
		ok, err = s.checkPassword(ctx, acct.cred, req.Password)
	} else {
		// Unknown email (or no credential): spend the same hash, so the
		// answer's timing says nothing.
		_, err = s.deps.Hasher.VerifyDummy(ctx, secret)
	}
	// A right password the defense wants stepped up counts neither as a
	// failure nor as a success (which would clear the account's lanes and
	// let the next attempt through without the step-up) until the step-up
	// is done.
	stepUp := ok && err == nil && decision.Action == defense.ActionStepUp
	if !stepUp {
		s.guardRecord(ctx, att, ok, err)
	}
	if err != nil || !ok {
		invalid.UserID = acct.user.ID // for the audit trail only; never answered
		return invalid, err
	}
	user := acct.user
	if stepUp {
		if res, done, err := s.stepUpLogin(ctx, user, req, att); done || err != nil {
			return res, err
		}
	}
	switch {
	case user.Status == StatusBanned:
		return LoginResult{Outcome: LoginDisabled, UserID: user.ID}, nil
	case user.MustChangePassword:
		return LoginResult{Outcome: LoginResetRequired, UserID: user.ID}, nil
	}
	if s.breachedAtLogin(ctx, user, secret, req.IP) {
		return LoginResult{Outcome: LoginResetRequired, UserID: user.ID}, nil
	}
	s.flagIfBreached(user.ID, secret)
	// Second factors are looked up only once the password is right: a
	// user who has one always completes the login with it.
	methods, webauthn, err := s.secondFactorMethods(ctx, user.ID)
	if err != nil {
		return LoginResult{}, err
	}
	if len(methods) > 0 {
		ch, err := s.challengeMFA(ctx, user, req, methods, webauthn, att.DeviceTrusted)
		if err != nil {
			return LoginResult{}, err
		}
		return LoginResult{Outcome: LoginMFARequired, UserID: user.ID, MFA: ch}, nil
	}
	tokens, err := s.startSession(ctx, user, req.ClientID, []string{"pwd"}, "aal1", req.IP, req.UserAgent)
	if err != nil {
		return LoginResult{}, err
	}
	if !att.DeviceTrusted {
		tokens.DeviceToken = s.trustDevice(ctx, user, req.IP, req.UserAgent)
	}
	s.log.InfoContext(ctx, "login succeeded", "user_id", user.ID, "session_id", tokens.SessionID)
	return LoginResult{Outcome: LoginSucceeded, Tokens: tokens, UserID: user.ID}, nil
}

// account is what a login knows about the email before the password.
type account struct {
	known bool
	user  User
	cred  Credential
}

// accountKey normalises the email and derives the defense layers' account
// key (hex of the email hash) without touching the database; a malformed
// email gets a key of its own and addr "".
func accountKey(email string) (addr, key string) {
	addr, err := NormaliseEmail(email)
	if err != nil {
		return "", "malformed"
	}
	return addr, hex.EncodeToString(EmailHash(addr))
}

// lookupAccount reads the account behind a normalised email. A malformed
// (addr "") or unknown email, or an account without a password, is "not
// known": the login goes on against a dummy hash.
func (s *Service) lookupAccount(ctx context.Context, addr string) (account, error) {
	var a account
	if addr == "" {
		return a, nil
	}
	ctx, end := s.span(ctx, "login.store")
	defer end()
	entry, err := s.deps.Store.LookupEmail(ctx, EmailHash(addr))
	if errs.Is(err, errs.KindNotFound) {
		// Make the same second query a known email makes (for a user id
		// that cannot exist), so the two paths take the same round trips
		// and their timing does not tell them apart.
		_, _, _ = s.deps.Store.UserWithCredential(ctx, uuid.Nil)
		return a, nil
	}
	if err != nil {
		return a, err
	}
	user, cred, err := s.deps.Store.UserWithCredential(ctx, entry.UserID)
	if errs.Is(err, errs.KindNotFound) || (err == nil && cred.Kind == "") {
		return a, nil
	}
	if err != nil {
		return a, err
	}
	a.known, a.user, a.cred = true, user, cred
	return a, nil
}

// checkPassword verifies a password against a credential of any kind and,
// when the credential is not a current Argon2id hash (legacy or wrapped
// import, old parameters, old pepper), replaces it with one. The
// replacement is a compare-and-swap, so it never overwrites a concurrent
// password change.
//
// raw is the password as typed: legacy systems hashed those bytes, so
// legacy checks use them; Gatehouse's own hashes use the NFKC form.
func (s *Service) checkPassword(ctx context.Context, cred Credential, raw string) (bool, error) {
	secret := password.Normalise(raw)
	switch cred.Kind {
	case CredentialArgon2id:
		res, err := s.deps.Hasher.Verify(ctx, secret, cred.Hash)
		if err != nil || !res.OK {
			return false, err
		}
		if res.NeedsRehash {
			s.upgradeCredential(ctx, cred, secret, "rehash")
		}
		return true, nil
	case CredentialLegacy:
		ok, err := s.verifyLegacy(ctx, cred, []byte(raw))
		if err != nil || !ok {
			return false, err
		}
		s.upgradeCredential(ctx, cred, secret, "legacy")
		return true, nil
	case CredentialWrapped:
		var recipe legacyhash.Recipe
		if err := json.Unmarshal(cred.Recipe, &recipe); err != nil {
			return false, errs.Internal(fmt.Errorf("auth: wrapped credential of %s has a bad recipe: %w", cred.UserID, err))
		}
		digest, err := legacyhash.RecipeDerive(recipe, []byte(raw))
		if err != nil {
			return false, errs.Internal(fmt.Errorf("auth: wrapped credential of %s: %w", cred.UserID, err))
		}
		res, err := s.deps.Hasher.Verify(ctx, digest, cred.Hash)
		if err != nil || !res.OK {
			return false, err
		}
		s.upgradeCredential(ctx, cred, secret, "wrapped")
		return true, nil
	}
	return false, errs.Internal(errors.New("auth: unknown credential kind " + cred.Kind))
}

// verifyLegacy checks an imported hash with the algorithm it came from.
// Slow legacy algorithms (bcrypt, scrypt, PBKDF2…) cost CPU like Argon2id,
// so they run in the same bounded pool.
func (s *Service) verifyLegacy(ctx context.Context, cred Credential, raw []byte) (bool, error) {
	h, err := legacyhash.Parse(cred.Hash)
	if err != nil {
		return false, errs.Internal(fmt.Errorf("auth: legacy credential of %s does not parse: %w", cred.UserID, err))
	}
	var ok bool
	run := func() { ok = h.Verify(raw) }
	if s.deps.Pool == nil || h.Fast() {
		run()
		return ok, nil
	}
	if err := s.deps.Pool.Do(ctx, run); err != nil {
		return false, err
	}
	return ok, nil
}

// upgradeCredential stores a fresh Argon2id hash of secret in place of
// cred. A failure is logged, never fatal: the login has succeeded.
func (s *Service) upgradeCredential(ctx context.Context, cred Credential, secret []byte, why string) {
	encoded, err := s.deps.Hasher.Hash(ctx, secret)
	if err != nil {
		s.log.WarnContext(ctx, "credential upgrade skipped", "user_id", cred.UserID, "error", err)
		return
	}
	now := s.now()
	next := Credential{UserID: cred.UserID, HomeRegion: cred.HomeRegion, Kind: CredentialArgon2id, Hash: encoded, CreatedAt: cred.CreatedAt, UpdatedAt: now}
	ev := &Event{ID: s.newID(), UserID: cred.UserID, HomeRegion: cred.HomeRegion, Kind: EventCredentialUpgrade, At: now,
		Detail: map[string]any{"from": cred.Kind, "reason": why}}
	swapped, err := s.deps.Store.ReplaceCredential(ctx, cred.Hash, next, ev)
	if err != nil {
		s.log.WarnContext(ctx, "credential upgrade failed", "user_id", cred.UserID, "error", err)
		return
	}
	if swapped {
		s.log.InfoContext(ctx, "credential upgraded", "user_id", cred.UserID, "from", cred.Kind, "reason", why)
	}
}

// startSession creates a session with its first refresh token and mints
// the token response.
func (s *Service) startSession(ctx context.Context, u User, clientID string, amr []string, acr, ip, ua string) (TokenResponse, error) {
	if clientID == "" {
		clientID = FirstPartyClient
	}
	now := s.now()
	sess := Session{ID: s.newID(), UserID: u.ID, HomeRegion: u.HomeRegion, ClientID: clientID, AMR: amr, ACR: acr,
		AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL), IP: ip, UserAgent: truncate(ua, 256)}
	rt, rtHash := s.newRefreshToken(u.HomeRegion)
	stored := RefreshToken{Hash: rtHash, SessionID: sess.ID, UserID: u.ID, HomeRegion: u.HomeRegion, ClientID: clientID,
		CreatedAt: now, ExpiresAt: sess.ExpiresAt}
	if err := s.deps.Store.CreateSession(ctx, sess, stored); err != nil {
		return TokenResponse{}, err
	}
	_, end := s.span(ctx, "login.token")
	defer end()
	return s.tokenResponse(sess, rt)
}

// tokenResponse signs an access token for a session.
func (s *Service) tokenResponse(sess Session, refresh string) (TokenResponse, error) {
	at, err := s.deps.Issuer.Issue(token.Claims{
		Subject:    sess.UserID.String(),
		Audience:   token.Audience{s.cfg.Audience},
		ClientID:   sess.ClientID,
		SessionID:  sess.ID.String(),
		AMR:        sess.AMR,
		ACR:        sess.ACR,
		AuthTime:   sess.AuthTime,
		HomeRegion: sess.HomeRegion,
	})
	if err != nil {
		return TokenResponse{}, err
	}
	return TokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int(s.cfg.AccessTTL / time.Second),
		RefreshToken: refresh, SessionID: sess.ID.String()}, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// HomeRegionOf returns the home region of the account an email belongs
// to, from the global directory (a local read in every region). ok is false
// when there is no such account or the address is malformed: the request
// is then served where it landed.
func (s *Service) HomeRegionOf(ctx context.Context, email string) (region string, ok bool, err error) {
	addr, err := NormaliseEmail(email)
	if err != nil {
		return "", false, nil
	}
	entry, err := s.deps.Store.LookupEmail(ctx, EmailHash(addr))
	if errs.Is(err, errs.KindNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return entry.HomeRegion, true, nil
}
