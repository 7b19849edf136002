package mfa

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // RFC 6238 TOTP as deployed by authenticator apps is HMAC-SHA-1.
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// TOTP parameters (RFC 6238 defaults, what every authenticator app knows).
const (
	totpPeriod     = 30 // seconds
	totpDigits     = 6
	totpSeedBytes  = 20 // 160 bits, RFC 4226 §4 R6
	totpSkew       = 1  // steps accepted either side of now
	qrSize         = 256
	defaultPending = 15 * time.Minute
)

// Outcome is the result of checking a one-time credential. Only Accepted
// means the factor was shown; the others are results, not errors.
type Outcome uint8

// The outcomes.
const (
	Rejected Outcome = iota // wrong, malformed or too old
	Accepted                // valid and now used up
	Replayed                // was valid once but has been used already
)

// OK reports whether the outcome is Accepted.
func (o Outcome) OK() bool { return o == Accepted }

// String names the outcome for logs and metrics.
func (o Outcome) String() string {
	switch o {
	case Accepted:
		return "accepted"
	case Replayed:
		return "replayed"
	default:
		return "rejected"
	}
}

// TOTPConfig configures TOTP.
type TOTPConfig struct {
	// Issuer names the service in authenticator apps, e.g. "Gatehouse".
	Issuer string
	// PendingTTL is how long an enrolment may wait for its confirming code;
	// 15 minutes when zero.
	PendingTTL time.Duration
}

// TOTP enrols and checks TOTP second factors.
type TOTP struct {
	store TOTPStore
	keys  SeedKeys
	cfg   TOTPConfig
	now   func() time.Time
}

// NewTOTP returns the TOTP service. now is the clock.
func NewTOTP(store TOTPStore, keys SeedKeys, cfg TOTPConfig, now func() time.Time) (*TOTP, error) {
	if store == nil || keys == nil || now == nil {
		return nil, fmt.Errorf("mfa: NewTOTP needs a store, seed keys and a clock")
	}
	if cfg.Issuer == "" || strings.Contains(cfg.Issuer, ":") {
		return nil, fmt.Errorf("mfa: TOTP issuer must be non-empty and without ':'")
	}
	if v, k := keys.SeedKey(); v <= 0 || len(k) != 32 {
		return nil, fmt.Errorf("mfa: current seed key must have a positive version and 32 bytes")
	}
	if cfg.PendingTTL <= 0 {
		cfg.PendingTTL = defaultPending
	}
	return &TOTP{store: store, keys: keys, cfg: cfg, now: now}, nil
}

// Enrolment is what the user needs to add a TOTP seed to an app. It is shown
// once and never stored in the clear.
type Enrolment struct {
	Secret     string // base32, no padding
	OTPAuthURI string // otpauth://totp/Issuer:account?...
	QRPNG      []byte // the URI as a QR code, PNG
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Enroll creates a pending TOTP enrolment for userID, labelled account (its
// email, say). It replaces a pending enrolment; when TOTP is already enabled
// it fails with a KindConflict error (disable it first).
func (t *TOTP) Enroll(ctx context.Context, userID uuid.UUID, account string) (Enrolment, error) {
	if account == "" || strings.Contains(account, ":") {
		return Enrolment{}, errs.Invalid("invalid_account_label", "the account label must be non-empty and without ':'")
	}
	seed := make([]byte, totpSeedBytes)
	if _, err := rand.Read(seed); err != nil {
		return Enrolment{}, errs.Internal(fmt.Errorf("mfa: seed: %w", err))
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: t.cfg.Issuer, AccountName: account, Period: totpPeriod,
		Secret: seed, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return Enrolment{}, errs.Internal(fmt.Errorf("mfa: otpauth key: %w", err))
	}
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return Enrolment{}, errs.Internal(fmt.Errorf("mfa: qr code: %w", err))
	}
	var qr bytes.Buffer
	if err := png.Encode(&qr, img); err != nil {
		return Enrolment{}, errs.Internal(fmt.Errorf("mfa: qr png: %w", err))
	}
	sealed, err := sealSeed(t.keys, userID, seed)
	if err != nil {
		return Enrolment{}, errs.Internal(err)
	}
	rec := TOTPRecord{ID: uuid.New(), UserID: userID, SealedSeed: sealed, CreatedAt: t.now()}
	ok, err := t.store.SavePendingTOTP(ctx, rec)
	if err != nil {
		return Enrolment{}, errs.Internal(fmt.Errorf("mfa: save totp: %w", err))
	}
	if !ok {
		return Enrolment{}, errs.E(errs.KindConflict, "totp_already_enabled", "TOTP is already enabled; remove it first")
	}
	return Enrolment{Secret: b32.EncodeToString(seed), OTPAuthURI: key.URL(), QRPNG: qr.Bytes()}, nil
}

// Confirm activates a pending enrolment when code is valid now; the code is
// used up. It fails with KindNotFound when nothing is pending, KindConflict
// when TOTP is already enabled and KindInvalid when the enrolment expired.
func (t *TOTP) Confirm(ctx context.Context, userID uuid.UUID, code string) (Outcome, error) {
	rec, ok, err := t.store.TOTP(ctx, userID)
	if err != nil {
		return Rejected, errs.Internal(fmt.Errorf("mfa: load totp: %w", err))
	}
	switch {
	case !ok:
		return Rejected, errs.E(errs.KindNotFound, "totp_not_enrolled", "no TOTP enrolment is pending")
	case rec.Confirmed:
		return Rejected, errs.E(errs.KindConflict, "totp_already_enabled", "TOTP is already enabled")
	case t.now().Sub(rec.CreatedAt) > t.cfg.PendingTTL:
		return Rejected, errs.Invalid("totp_enrolment_expired", "the TOTP enrolment expired; start again")
	}
	out, step, err := t.match(rec, code)
	if err != nil || out != Accepted {
		return out, err
	}
	won, err := t.store.ConfirmTOTP(ctx, userID, rec.ID, step, t.now())
	if err != nil {
		return Rejected, errs.Internal(fmt.Errorf("mfa: confirm totp: %w", err))
	}
	if !won {
		return Replayed, nil
	}
	return Accepted, nil
}

// Verify checks a code of the user's enabled TOTP. A code is accepted once:
// the step it belongs to (now ±1) must be later than the last accepted step
// and the store's compare-and-set must succeed, so a replayed code, also a
// concurrent one, is Replayed. It fails with KindNotFound when TOTP is not
// enabled. A seed sealed with an old key is re-sealed with the current one.
func (t *TOTP) Verify(ctx context.Context, userID uuid.UUID, code string) (Outcome, error) {
	rec, ok, err := t.store.TOTP(ctx, userID)
	if err != nil {
		return Rejected, errs.Internal(fmt.Errorf("mfa: load totp: %w", err))
	}
	if !ok || !rec.Confirmed {
		return Rejected, errs.E(errs.KindNotFound, "totp_not_enabled", "TOTP is not enabled")
	}
	out, step, err := t.match(rec, code)
	if err != nil || out != Accepted {
		return out, err
	}
	won, err := t.store.AdvanceTOTPStep(ctx, userID, rec.ID, step)
	if err != nil {
		return Rejected, errs.Internal(fmt.Errorf("mfa: advance totp step: %w", err))
	}
	if !won {
		return Replayed, nil
	}
	// Best effort: a failed re-seal leaves the old, still valid ciphertext.
	_, _ = t.rewrap(ctx, rec)
	return Accepted, nil
}

// Enabled reports whether the user has a confirmed TOTP.
func (t *TOTP) Enabled(ctx context.Context, userID uuid.UUID) (bool, error) {
	rec, ok, err := t.store.TOTP(ctx, userID)
	if err != nil {
		return false, errs.Internal(fmt.Errorf("mfa: load totp: %w", err))
	}
	return ok && rec.Confirmed, nil
}

// Disable removes the user's TOTP, pending or enabled; false when none.
func (t *TOTP) Disable(ctx context.Context, userID uuid.UUID) (bool, error) {
	ok, err := t.store.DeleteTOTP(ctx, userID)
	if err != nil {
		return false, errs.Internal(fmt.Errorf("mfa: delete totp: %w", err))
	}
	return ok, nil
}

// RewrapSeed re-seals the user's seed with the current key when it is sealed
// with an older one (key rotation); true when it did.
func (t *TOTP) RewrapSeed(ctx context.Context, userID uuid.UUID) (bool, error) {
	rec, ok, err := t.store.TOTP(ctx, userID)
	if err != nil {
		return false, errs.Internal(fmt.Errorf("mfa: load totp: %w", err))
	}
	if !ok {
		return false, nil
	}
	return t.rewrap(ctx, rec)
}

func (t *TOTP) rewrap(ctx context.Context, rec TOTPRecord) (bool, error) {
	seed, stale, err := openSeed(t.keys, rec.UserID, rec.SealedSeed)
	if err != nil {
		return false, errs.Internal(err)
	}
	defer clear(seed)
	if !stale {
		return false, nil
	}
	sealed, err := sealSeed(t.keys, rec.UserID, seed)
	if err != nil {
		return false, errs.Internal(err)
	}
	ok, err := t.store.ReplaceTOTPSeed(ctx, rec.UserID, rec.ID, rec.SealedSeed, sealed)
	if err != nil {
		return false, errs.Internal(fmt.Errorf("mfa: replace totp seed: %w", err))
	}
	return ok, nil
}

// match finds the step within now ±1 whose code equals code. Accepted comes
// with the lowest matching step later than rec.LastStep; a code matching
// only steps already used is Replayed.
func (t *TOTP) match(rec TOTPRecord, code string) (Outcome, int64, error) {
	if !validTOTPCode(code) {
		return Rejected, 0, nil
	}
	seed, _, err := openSeed(t.keys, rec.UserID, rec.SealedSeed)
	if err != nil {
		return Rejected, 0, errs.Internal(err)
	}
	defer clear(seed)
	now := t.now().Unix() / totpPeriod
	var found int64
	replay := false
	for step := now - totpSkew; step <= now+totpSkew; step++ {
		if step < 1 {
			continue
		}
		// Every candidate is computed and compared; no early exit.
		eq := subtle.ConstantTimeCompare([]byte(hotp(seed, uint64(step))), []byte(code)) == 1
		switch {
		case eq && step > rec.LastStep && found == 0:
			found = step
		case eq && step <= rec.LastStep:
			replay = true
		}
	}
	switch {
	case found != 0:
		return Accepted, found, nil
	case replay:
		return Replayed, 0, nil
	}
	return Rejected, 0, nil
}

// hotp is RFC 4226 HOTP with HMAC-SHA-1 and six digits.
func hotp(key []byte, counter uint64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", totpDigits, v%1_000_000)
}

// validTOTPCode reports whether code is exactly six ASCII digits.
func validTOTPCode(code string) bool {
	if len(code) != totpDigits {
		return false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}
