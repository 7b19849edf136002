// Package auth is Gatehouse's account and session service: sign-up, password
// login, refresh-token rotation with reuse detection, logout, password change
// and reset, bans and introspection. It is the application core: it decides,
// and calls the adapters it is given (the store, the session cache, the key
// ring, the hasher, the token issuer) through the small interfaces declared
// here.
package auth

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// User statuses.
const (
	StatusActive = "active"
	StatusBanned = "banned"
)

// User is an account.
type User struct {
	ID                 uuid.UUID
	HomeRegion         string
	Email              string
	EmailVerified      bool
	ExternalID         string // empty when none
	Status             string
	MustChangePassword bool
	// PasswordBreached: a login used a password found in a breach corpus;
	// the user is asked to change it (a change clears the flag).
	PasswordBreached bool
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Credential kinds.
const (
	CredentialArgon2id = "argon2id" // Gatehouse's own PHC string
	CredentialLegacy   = "legacy"   // an imported hash kept as it was
	CredentialWrapped  = "wrapped"  // argon2id(pepper(legacy digest))
)

// Credential is a user's password credential.
type Credential struct {
	UserID     uuid.UUID
	HomeRegion string
	Kind       string
	Hash       string
	// Recipe re-derives the legacy digest for legacy and wrapped
	// credentials; nil for argon2id.
	Recipe    json.RawMessage
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DirectoryEntry is the global email directory's row for one email.
type DirectoryEntry struct {
	EmailHash  []byte
	UserID     uuid.UUID
	HomeRegion string
}

// Session is one login; its refresh tokens form one family.
type Session struct {
	ID           uuid.UUID
	UserID       uuid.UUID
	HomeRegion   string
	ClientID     string
	AMR          []string
	ACR          string
	AuthTime     time.Time
	CreatedAt    time.Time
	LastSeenAt   time.Time
	ExpiresAt    time.Time // absolute: no refresh extends a session past it
	IP           string
	UserAgent    string
	RevokedAt    *time.Time
	RevokeReason string
}

// Active reports whether the session can still be used at now.
func (s Session) Active(now time.Time) bool {
	return s.RevokedAt == nil && now.Before(s.ExpiresAt)
}

// RefreshToken is the stored side of a refresh token: only its hash.
type RefreshToken struct {
	Hash       []byte // SHA-256 of the token string
	SessionID  uuid.UUID
	UserID     uuid.UUID
	HomeRegion string
	ClientID   string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	UsedAt     *time.Time
	ReplacedBy []byte
}

// Security event kinds recorded in the audit table.
const (
	EventRefreshReuse      = "refresh.reuse_detected"
	EventPasswordChanged   = "password.changed"
	EventPasswordReset     = "password.reset"
	EventUserBanned        = "user.banned"
	EventUserUnbanned      = "user.unbanned"
	EventSessionsRevoked   = "sessions.revoked"
	EventForceReset        = "password.force_reset"
	EventCredentialUpgrade = "credential.migrated"
)

// Event is a security event row.
type Event struct {
	ID         uuid.UUID
	UserID     uuid.UUID
	HomeRegion string
	Kind       string
	At         time.Time
	Detail     map[string]any
}

// OutboxMessage is a message for the mailer, written in the same
// transaction as the change that causes it.
type OutboxMessage struct {
	ID         uuid.UUID
	HomeRegion string
	Kind       string // e.g. "password_reset", "signup_existing_account"
	Recipient  string
	Payload    map[string]any
	CreatedAt  time.Time
	SentAt     *time.Time
}

// PasswordReset is a pending reset: only the token's hash is stored.
type PasswordReset struct {
	Hash       []byte
	UserID     uuid.UUID
	HomeRegion string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	UsedAt     *time.Time
}

// Device is a trusted device: only the hash of its token is stored.
type Device struct {
	ID         uuid.UUID
	UserID     uuid.UUID
	HomeRegion string
	TokenHash  []byte
	Name       string // from the user agent, for the device list
	IP         string
	CreatedAt  time.Time
	LastUsedAt time.Time
	RevokedAt  *time.Time
}
