package mfa

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// Recovery codes: RecoveryCodeCount codes of three groups of four characters
// ("7h3k-q9xm-2fwa") from a 32-character alphabet without i, l, o and u,
// i.e. 60 random bits each.
//
// They are stored as SHA-256(domain || per-set salt || user ID || code). A
// fast hash is enough because the input is 60 uniformly random bits, not a
// human-chosen secret: online guessing is bounded by the defense throttle
// (at 2^60 candidates per code nothing realistic gets close), and offline an
// attacker holding the database must still brute-force about 2^59 SHA-256
// per code per user, since the salt rules out precomputed tables and
// batching across users. A slow hash would only make each login dearer.
const (
	RecoveryCodeCount = 10
	recoveryGroups    = 3
	recoveryGroupLen  = 4
	recoveryChars     = recoveryGroups * recoveryGroupLen
	recoveryAlphabet  = "0123456789abcdefghjkmnpqrstvwxyz" // Crockford base32, lower case
	recoveryDomain    = "gatehouse/mfa/recovery-code/v1"
	recoverySaltBytes = 16
)

// RecoveryCodes issues and checks recovery codes.
type RecoveryCodes struct {
	store RecoveryStore
	now   func() time.Time
}

// NewRecoveryCodes returns the recovery-code service. now is the clock.
func NewRecoveryCodes(store RecoveryStore, now func() time.Time) (*RecoveryCodes, error) {
	if store == nil || now == nil {
		return nil, fmt.Errorf("mfa: NewRecoveryCodes needs a store and a clock")
	}
	return &RecoveryCodes{store: store, now: now}, nil
}

// Generate makes a new set of codes for userID, voiding every older code,
// and returns them formatted. They are shown once: only hashes are kept.
func (r *RecoveryCodes) Generate(ctx context.Context, userID uuid.UUID) ([]string, error) {
	salt := make([]byte, recoverySaltBytes)
	if _, err := rand.Read(salt); err != nil {
		return nil, errs.Internal(fmt.Errorf("mfa: salt: %w", err))
	}
	set := RecoveryCodeSet{ID: uuid.New(), UserID: userID, Salt: salt, CreatedAt: r.now(), Remaining: RecoveryCodeCount}
	codes := make([]string, 0, RecoveryCodeCount)
	seen := make(map[string]bool, RecoveryCodeCount)
	for len(codes) < RecoveryCodeCount {
		raw, err := randomRecoveryCode()
		if err != nil {
			return nil, errs.Internal(err)
		}
		if seen[raw] {
			continue
		}
		seen[raw] = true
		codes = append(codes, formatRecoveryCode(raw))
		set.Hashes = append(set.Hashes, hashRecoveryCode(salt, userID, raw))
	}
	if err := r.store.ReplaceRecoveryCodes(ctx, set); err != nil {
		return nil, errs.Internal(fmt.Errorf("mfa: save recovery codes: %w", err))
	}
	return codes, nil
}

// Use consumes one of the user's codes. Accepted means it was unused and is
// now used; of two concurrent uses of one code exactly one is Accepted. A
// malformed, wrong or used code is Rejected. It fails with KindNotFound when
// the user has no codes.
func (r *RecoveryCodes) Use(ctx context.Context, userID uuid.UUID, code string) (Outcome, error) {
	set, ok, err := r.store.RecoveryCodes(ctx, userID)
	if err != nil {
		return Rejected, errs.Internal(fmt.Errorf("mfa: load recovery codes: %w", err))
	}
	if !ok {
		return Rejected, errs.E(errs.KindNotFound, "recovery_codes_not_set", "no recovery codes were generated")
	}
	raw, valid := NormalizeRecoveryCode(code)
	if !valid {
		return Rejected, nil
	}
	won, err := r.store.ConsumeRecoveryCode(ctx, userID, set.ID, hashRecoveryCode(set.Salt, userID, raw), r.now())
	if err != nil {
		return Rejected, errs.Internal(fmt.Errorf("mfa: consume recovery code: %w", err))
	}
	if !won {
		return Rejected, nil
	}
	return Accepted, nil
}

// Remaining returns how many unused codes the user has (0 when none).
func (r *RecoveryCodes) Remaining(ctx context.Context, userID uuid.UUID) (int, error) {
	set, ok, err := r.store.RecoveryCodes(ctx, userID)
	if err != nil {
		return 0, errs.Internal(fmt.Errorf("mfa: load recovery codes: %w", err))
	}
	if !ok {
		return 0, nil
	}
	return set.Remaining, nil
}

// NormalizeRecoveryCode turns what a user typed into the code's canonical
// 12 characters: case and the separators '-' and ' ' are ignored, and i, l
// become 1 and o becomes 0 (Crockford). False when it is not a code.
func NormalizeRecoveryCode(s string) (string, bool) {
	if len(s) > 64 {
		return "", false
	}
	out := make([]byte, 0, recoveryChars)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		switch c {
		case '-', ' ':
			continue
		case 'i', 'l':
			c = '1'
		case 'o':
			c = '0'
		}
		if !inRecoveryAlphabet(c) || len(out) == recoveryChars {
			return "", false
		}
		out = append(out, c)
	}
	if len(out) != recoveryChars {
		return "", false
	}
	return string(out), true
}

func inRecoveryAlphabet(c byte) bool {
	for i := 0; i < len(recoveryAlphabet); i++ {
		if recoveryAlphabet[i] == c {
			return true
		}
	}
	return false
}

func randomRecoveryCode() (string, error) {
	b := make([]byte, recoveryChars)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("mfa: recovery code: %w", err)
	}
	for i := range b {
		b[i] = recoveryAlphabet[b[i]&31] // 256 is a multiple of 32: no bias
	}
	return string(b), nil
}

func formatRecoveryCode(raw string) string {
	out := make([]byte, 0, recoveryChars+recoveryGroups-1)
	for i := 0; i < len(raw); i++ {
		if i > 0 && i%recoveryGroupLen == 0 {
			out = append(out, '-')
		}
		out = append(out, raw[i])
	}
	return string(out)
}

func hashRecoveryCode(salt []byte, userID uuid.UUID, raw string) []byte {
	h := sha256.New()
	h.Write([]byte(recoveryDomain))
	h.Write(salt)
	h.Write(userID[:])
	h.Write([]byte(raw))
	return h.Sum(nil)
}
