package auth

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Store is what the service needs from the database. app/store implements
// it; every method that writes several rows does so in one transaction.
// Errors are *errs.Error: KindNotFound when a row is missing, KindConflict
// on a unique violation.
type Store interface {
	// CreateUser inserts the user, their directory entry and their
	// credential together. A taken email is KindConflict with code
	// "email_taken"; nothing is written then.
	CreateUser(ctx context.Context, u User, emailHash []byte, c Credential) error
	// LookupEmail reads the global directory.
	LookupEmail(ctx context.Context, emailHash []byte) (DirectoryEntry, error)
	// UserWithCredential reads a user and their credential (Credential is
	// zero-valued with Kind "" when the user has none).
	UserWithCredential(ctx context.Context, userID uuid.UUID) (User, Credential, error)
	// User reads one user.
	User(ctx context.Context, userID uuid.UUID) (User, error)
	// ReplaceCredential swaps the user's credential for next, but only if
	// the stored hash is still oldHash (a compare-and-swap, so a concurrent
	// password change is never overwritten by a login's re-hash). It
	// reports whether it swapped. ev, when non-nil, is recorded in the same
	// transaction.
	ReplaceCredential(ctx context.Context, oldHash string, next Credential, ev *Event) (bool, error)

	// CreateSession inserts a session and its first refresh token.
	CreateSession(ctx context.Context, s Session, rt RefreshToken) error
	// RotateRefresh redeems a refresh token (see Rotation).
	RotateRefresh(ctx context.Context, r Rotation) (RotationResult, error)
	// Session reads one session.
	Session(ctx context.Context, id uuid.UUID) (Session, error)
	// RefreshTokenInfo reads a refresh token by hash with its session and
	// user (for introspection and revocation); KindNotFound when unknown.
	RefreshTokenInfo(ctx context.Context, tokenHash []byte) (RefreshToken, Session, User, error)
	// ListSessions lists a user's sessions that are active at now, newest first.
	ListSessions(ctx context.Context, userID uuid.UUID, now time.Time) ([]Session, error)
	// RevokeSession revokes one session of a user (and so every refresh
	// token of it); KindNotFound when the session is not the user's. It
	// reports whether the session was active before.
	RevokeSession(ctx context.Context, userID, sessionID uuid.UUID, reason string, now time.Time) (bool, error)
	// RecentlyRevokedSessions lists the sessions of a region revoked since
	// since, newest first, at most limit.
	RecentlyRevokedSessions(ctx context.Context, region string, since time.Time, limit int) ([]uuid.UUID, error)
	// RevokeUserSessions revokes every active session of the user except
	// keep (uuid.Nil keeps none) and returns the ids it revoked. ev, when
	// non-nil, is recorded in the same transaction.
	RevokeUserSessions(ctx context.Context, userID, keep uuid.UUID, reason string, now time.Time, ev *Event) ([]uuid.UUID, error)

	// SetUserStatus bans or unbans; banning also revokes every session,
	// all in one transaction with the event. Returns the revoked ids.
	SetUserStatus(ctx context.Context, userID uuid.UUID, status string, now time.Time, ev Event) ([]uuid.UUID, error)
	// ChangePassword, in one transaction: swaps the credential if the
	// stored hash is still oldHash (otherwise KindConflict, code
	// "credential_changed", and nothing is written), clears
	// must_change_password, revokes every active session but keep, and
	// records ev. Returns the revoked session ids.
	ChangePassword(ctx context.Context, oldHash string, next Credential, keep uuid.UUID, now time.Time, ev Event) ([]uuid.UUID, error)
	// ForcePasswordReset, in one transaction: sets must_change_password
	// (the old password no longer logs in; only a reset does), revokes
	// every session and records ev. Returns the revoked session ids.
	ForcePasswordReset(ctx context.Context, userID uuid.UUID, now time.Time, ev Event) ([]uuid.UUID, error)

	// CreatePasswordReset stores a reset and its outbox message together.
	CreatePasswordReset(ctx context.Context, r PasswordReset, msg OutboxMessage) error
	// PendingPasswordReset returns the user of an unused reset that is
	// still valid at now; KindNotFound for an unknown, used or expired one.
	PendingPasswordReset(ctx context.Context, tokenHash []byte, now time.Time) (uuid.UUID, error)
	// CompletePasswordReset redeems an unused, unexpired reset: in one
	// transaction it marks it used, replaces the credential, clears
	// must_change_password, revokes every session and records ev. A used,
	// expired or unknown token is KindNotFound. Returns the user id and the
	// revoked session ids.
	CompletePasswordReset(ctx context.Context, tokenHash []byte, next Credential, now time.Time, ev Event) (uuid.UUID, []uuid.UUID, error)

	// SetPasswordBreached flags (or clears) a breached password.
	SetPasswordBreached(ctx context.Context, userID uuid.UUID, breached bool, now time.Time) error

	// CreateDevice stores a newly trusted device.
	CreateDevice(ctx context.Context, d Device) error
	// TrustedDevice reports whether tokenHash is an unrevoked device of the
	// user, and if so records its use at now.
	TrustedDevice(ctx context.Context, userID uuid.UUID, tokenHash []byte, now time.Time) (bool, error)
	// UseDevice reports whether deviceID is an unrevoked device of the user
	// holding tokenHash and last used after idleCutoff, and if so records
	// its use at now (one statement, looked up by the device's id).
	UseDevice(ctx context.Context, userID, deviceID uuid.UUID, tokenHash []byte, now, idleCutoff time.Time) (bool, error)
	// ListDevices lists the user's unrevoked devices, most recently used first.
	ListDevices(ctx context.Context, userID uuid.UUID) ([]Device, error)
	// RevokeDevice revokes one of the user's devices; KindNotFound when it
	// is not theirs or already revoked.
	RevokeDevice(ctx context.Context, userID, deviceID uuid.UUID, now time.Time) error

	// Enqueue writes an outbox message on its own.
	Enqueue(ctx context.Context, msg OutboxMessage) error
	// RecordEvent writes a security event on its own.
	RecordEvent(ctx context.Context, ev Event) error
	// Events lists a user's events, oldest first (for tests and audit).
	Events(ctx context.Context, userID uuid.UUID) ([]Event, error)
}

// Rotation is a refresh-token redemption. In one serialisable transaction
// the store:
//   - finds the presented token by hash (missing → RotationInvalid);
//   - if it was used already: when it was used within Grace of Now and its
//     session is active, issues Next as a sibling successor
//     (RotationRotated); otherwise revokes the whole session (the family),
//     records EventRefreshReuse and returns RotationReused;
//   - if it expired, or its session is revoked or past its absolute expiry,
//     or the user is banned, or ClientID does not match → RotationInvalid
//     (RotationExpired for an expired token);
//   - else marks it used (replaced by Next), inserts Next and touches the
//     session's last_seen_at → RotationRotated.
type Rotation struct {
	PresentedHash []byte
	ClientID      string
	Next          RefreshToken // Hash, CreatedAt and ExpiresAt set; the store fills session and user
	Now           time.Time
	Grace         time.Duration
	IP, UserAgent string
}

// RotationOutcome is what became of a redemption.
type RotationOutcome int

// The outcomes of RotateRefresh.
const (
	RotationRotated RotationOutcome = iota + 1
	RotationReused
	RotationInvalid
	RotationExpired
)

// RotationResult carries the outcome and, when rotated, the session and
// user the new token belongs to.
type RotationResult struct {
	Outcome RotationOutcome
	Session Session
	User    User
}
