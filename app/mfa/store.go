package mfa

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// TOTPRecord is a user's TOTP enrolment as stored. A user has at most one.
type TOTPRecord struct {
	// ID identifies this enrolment; a new enrolment gets a new ID, so a check
	// made against one seed can never be applied to another.
	ID     uuid.UUID
	UserID uuid.UUID
	// SealedSeed is the seed encrypted with AES-256-GCM (format in seal.go); it
	// carries its key version. Never the plain seed.
	SealedSeed []byte
	// Confirmed is false from enrolment until a first valid code is shown.
	Confirmed bool
	// LastStep is the highest TOTP time step (Unix time / 30) accepted so far;
	// a code for a step <= LastStep is a replay. Zero when none.
	LastStep    int64
	CreatedAt   time.Time
	ConfirmedAt time.Time // zero while pending
}

// TOTPStore keeps TOTP enrolments.
type TOTPStore interface {
	// SavePendingTOTP stores rec (Confirmed false) as the user's enrolment,
	// replacing a pending one, in one atomic step that does nothing and
	// returns false when the user has a confirmed enrolment.
	SavePendingTOTP(ctx context.Context, rec TOTPRecord) (bool, error)
	// TOTP returns the user's enrolment, pending or confirmed; false when none.
	TOTP(ctx context.Context, userID uuid.UUID) (TOTPRecord, bool, error)
	// ConfirmTOTP atomically sets Confirmed, ConfirmedAt = at and
	// LastStep = step only when the user's enrolment has this id, is still
	// pending and LastStep < step; otherwise it changes nothing and
	// returns false.
	ConfirmTOTP(ctx context.Context, userID, id uuid.UUID, step int64, at time.Time) (bool, error)
	// AdvanceTOTPStep is the compare-and-set that makes a code single-use:
	// atomically (one statement, or a row lock) it sets LastStep = step only
	// when the user's enrolment has this id, is confirmed and LastStep < step,
	// and returns true; otherwise it changes nothing and returns false. Of
	// two concurrent calls with the same step exactly one returns true.
	AdvanceTOTPStep(ctx context.Context, userID, id uuid.UUID, step int64) (bool, error)
	// ReplaceTOTPSeed atomically swaps the sealed seed of enrolment id from
	// old to new (a re-encryption under a newer key) only when it still
	// equals old; it returns false when it changed nothing.
	ReplaceTOTPSeed(ctx context.Context, userID, id uuid.UUID, old, new []byte) (bool, error)
	// DeleteTOTP removes the user's enrolment, pending or confirmed; false
	// when there was none.
	DeleteTOTP(ctx context.Context, userID uuid.UUID) (bool, error)
}

// RecoveryCodeSet is a user's current set of recovery codes, hashed.
type RecoveryCodeSet struct {
	// ID identifies the set; regenerating makes a new set with a new ID.
	ID     uuid.UUID
	UserID uuid.UUID
	// Salt is random per set and enters every code's hash.
	Salt []byte
	// Hashes are the codes' hashes (see hashRecoveryCode), 32 bytes each.
	Hashes [][]byte
	// Remaining is how many codes are still unused (filled in on read).
	Remaining int
	CreatedAt time.Time
}

// RecoveryStore keeps recovery codes.
type RecoveryStore interface {
	// ReplaceRecoveryCodes atomically replaces the user's whole set (used
	// and unused codes alike) by set, all unused: after it returns no code
	// of an older set is accepted.
	ReplaceRecoveryCodes(ctx context.Context, set RecoveryCodeSet) error
	// RecoveryCodes returns the user's current set with Remaining filled
	// in; false when the user has none.
	RecoveryCodes(ctx context.Context, userID uuid.UUID) (RecoveryCodeSet, bool, error)
	// ConsumeRecoveryCode atomically marks as used the unused code with this
	// hash in set setID of the user, and returns true; when there is no such
	// unused code (wrong, used already, or the set was replaced) it changes
	// nothing and returns false. Of two concurrent calls for one code exactly
	// one returns true.
	ConsumeRecoveryCode(ctx context.Context, userID, setID uuid.UUID, hash []byte, at time.Time) (bool, error)
	// DeleteRecoveryCodes removes the user's set; false when there was none.
	DeleteRecoveryCodes(ctx context.Context, userID uuid.UUID) (bool, error)
}

// WebAuthnCredential is a registered WebAuthn credential (a security key or
// a passkey). Credential IDs are globally unique.
type WebAuthnCredential struct {
	ID                []byte // the credential ID, at most 1023 bytes
	UserID            uuid.UUID
	PublicKey         []byte // COSE key
	AttestationType   string
	AttestationFormat string
	Transports        []string
	AAGUID            []byte
	// Flags are the authenticator data flags (UP, UV, BE, BS bits) as last
	// seen; BE never changes after registration.
	Flags byte
	// SignCount is the highest signature counter accepted so far.
	SignCount uint32
	// CloneWarning is set once a signature counter went backwards; a
	// flagged credential is refused until it is deleted.
	CloneWarning bool
	Attachment   string
	CreatedAt    time.Time
	LastUsedAt   time.Time // zero when never used
}

// WebAuthnUse is what a successful assertion changes on a credential.
type WebAuthnUse struct {
	UserID       uuid.UUID
	CredentialID []byte
	SignCount    uint32
	Flags        byte
	At           time.Time
}

// WebAuthnCeremony is the server side of one WebAuthn ceremony (its
// challenge), kept between begin and finish.
type WebAuthnCeremony struct {
	// ID is the random handle the client sends back (43 base64url chars).
	ID string
	// UserID is the user the ceremony belongs to; uuid.Nil for a
	// passwordless (discoverable) login.
	UserID    uuid.UUID
	Purpose   string // one of PurposeRegister, PurposeLogin, PurposePasskey
	Data      []byte // the library's session data, JSON
	ExpiresAt time.Time
}

// Ceremony purposes.
const (
	PurposeRegister = "register"
	PurposeLogin    = "login"
	PurposePasskey  = "passkey"
)

// WebAuthnStore keeps WebAuthn credentials and ceremonies.
type WebAuthnStore interface {
	// AddWebAuthnCredential inserts c; when a credential with the same ID
	// exists (for any user) it changes nothing and returns false. The check
	// and the insert are one atomic step (a unique key on the ID).
	AddWebAuthnCredential(ctx context.Context, c WebAuthnCredential) (bool, error)
	// WebAuthnCredentials returns the user's credentials (none: empty).
	WebAuthnCredentials(ctx context.Context, userID uuid.UUID) ([]WebAuthnCredential, error)
	// WebAuthnCredential returns the credential with this ID whoever owns
	// it; false when none.
	WebAuthnCredential(ctx context.Context, id []byte) (WebAuthnCredential, bool, error)
	// RecordWebAuthnUse atomically sets SignCount, Flags and LastUsedAt of
	// the user's credential only when it is not flagged as a clone and
	// either u.SignCount > SignCount or both are zero (authenticators
	// without a counter); otherwise it changes nothing and returns false.
	RecordWebAuthnUse(ctx context.Context, u WebAuthnUse) (bool, error)
	// MarkWebAuthnClone sets CloneWarning on the user's credential.
	MarkWebAuthnClone(ctx context.Context, userID uuid.UUID, credentialID []byte) error
	// DeleteWebAuthnCredential removes the user's credential; false when the
	// user has no credential with this ID.
	DeleteWebAuthnCredential(ctx context.Context, userID uuid.UUID, credentialID []byte) (bool, error)
	// SaveWebAuthnCeremony stores c until c.ExpiresAt (it may be purged
	// after that).
	SaveWebAuthnCeremony(ctx context.Context, c WebAuthnCeremony) error
	// TakeWebAuthnCeremony atomically deletes and returns the ceremony with
	// this ID (a DELETE … RETURNING, or GETDEL): of two concurrent calls at
	// most one gets it. False when there is none. The caller checks expiry.
	TakeWebAuthnCeremony(ctx context.Context, id string) (WebAuthnCeremony, bool, error)
}

// Store is everything this package needs from storage; the lead's SQL store
// implements it.
type Store interface {
	TOTPStore
	RecoveryStore
	WebAuthnStore
}
