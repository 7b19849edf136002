package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/errs"
)

// Revoke reasons the store writes itself.
const (
	reasonRefreshReuse   = "refresh_token_reuse"
	reasonUserBanned     = "user_banned"
	reasonPasswordReset  = "password_reset"
	reasonPasswordChange = "password_changed"
	reasonForcedReset    = "password_reset_forced"
)

// CreateUser inserts the directory entry, the user and the credential in
// one transaction. A taken email is KindConflict "email_taken", a taken
// external id KindConflict "external_id_taken"; nothing is written then.
func (db *DB) CreateUser(ctx context.Context, u auth.User, emailHash []byte, c auth.Credential) error {
	status := u.Status
	if status == "" {
		status = auth.StatusActive
	}
	updated := orTime(u.UpdatedAt, u.CreatedAt)
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO email_directory (email_hash, user_id, home_region, created_at)
			VALUES ($1, $2, $3, $4)`, emailHash, u.ID, u.HomeRegion, u.CreatedAt); err != nil {
			if _, ok := uniqueViolation(err); ok {
				return conflictError("email_taken", "an account with this email exists", err)
			}
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO users (id, home_region, email, email_verified, external_id, status,
				must_change_password, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			u.ID, u.HomeRegion, u.Email, u.EmailVerified, nullIfEmpty(u.ExternalID), status,
			u.MustChangePassword, u.CreatedAt, updated); err != nil {
			if pgErr, ok := uniqueViolation(err); ok && u.ExternalID != "" &&
				strings.Contains(pgErr.ConstraintName+" "+pgErr.Message, "external_id") {
				return conflictError("external_id_taken", "an account with this external id exists", err)
			}
			return err
		}
		if err := insertCredential(ctx, tx, u.ID, u.HomeRegion, c); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, insertAuthEventSQL, userRegisteredEvent(u)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: create user: %w", err)
	}
	return nil
}

// insertCredential writes the user's credential, replacing one that exists.
func insertCredential(ctx context.Context, q querier, userID uuid.UUID, homeRegion string, c auth.Credential) error {
	_, err := q.Exec(ctx, `INSERT INTO credentials (user_id, home_region, kind, hash, recipe, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (user_id) DO UPDATE SET kind = excluded.kind, hash = excluded.hash,
			recipe = excluded.recipe, updated_at = excluded.updated_at`,
		userID, homeRegion, c.Kind, c.Hash, jsonOrNull(c.Recipe), c.CreatedAt, orTime(c.UpdatedAt, c.CreatedAt))
	return err
}

// LookupEmail reads the global directory's entry for an email hash;
// KindNotFound when there is none.
func (db *DB) LookupEmail(ctx context.Context, emailHash []byte) (auth.DirectoryEntry, error) {
	e := auth.DirectoryEntry{EmailHash: emailHash}
	err := db.pool.QueryRow(ctx, `SELECT user_id, home_region FROM email_directory WHERE email_hash = $1`,
		emailHash).Scan(&e.UserID, &e.HomeRegion)
	if err != nil {
		return auth.DirectoryEntry{}, fmt.Errorf("store: lookup email: %w", mapError(err))
	}
	return e, nil
}

// User reads one user; KindNotFound when there is none.
func (db *DB) User(ctx context.Context, userID uuid.UUID) (auth.User, error) {
	var ur userRow
	err := db.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.id = $1`, userID).Scan(ur.dest()...)
	if err != nil {
		return auth.User{}, fmt.Errorf("store: user: %w", mapError(err))
	}
	return ur.user(), nil
}

// UserWithCredential reads a user and their credential; the credential is
// zero-valued (Kind "") when the user has none.
func (db *DB) UserWithCredential(ctx context.Context, userID uuid.UUID) (auth.User, auth.Credential, error) {
	var (
		ur         userRow
		credUser   *uuid.UUID
		credRegion *string
		kind, hash *string
		recipe     []byte
		credTimes  [2]*time.Time
	)
	dest := append(ur.dest(), &credUser, &credRegion, &kind, &hash, &recipe, &credTimes[0], &credTimes[1])
	err := db.pool.QueryRow(ctx, `SELECT `+userColumns+`,
			c.user_id, c.home_region, c.kind, c.hash, c.recipe, c.created_at, c.updated_at
		FROM users u LEFT JOIN credentials c ON c.user_id = u.id
		WHERE u.id = $1`, userID).Scan(dest...)
	if err != nil {
		return auth.User{}, auth.Credential{}, fmt.Errorf("store: user with credential: %w", mapError(err))
	}
	var c auth.Credential
	if credUser != nil {
		c = auth.Credential{UserID: *credUser, HomeRegion: *credRegion, Kind: *kind, Hash: *hash,
			Recipe: recipe, CreatedAt: *credTimes[0], UpdatedAt: *credTimes[1]}
	}
	return ur.user(), c, nil
}

// ReplaceCredential swaps the credential of next.UserID for next only if
// the stored hash is still oldHash, and records ev (when non-nil) with the
// swap. It reports whether it swapped; a missing credential is "not swapped".
func (db *DB) ReplaceCredential(ctx context.Context, oldHash string, next auth.Credential, ev *auth.Event) (bool, error) {
	var swapped bool
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE credentials SET kind = $3, hash = $4, recipe = $5, updated_at = $6
			WHERE user_id = $1 AND hash = $2`,
			next.UserID, oldHash, next.Kind, next.Hash, jsonOrNull(next.Recipe), orTime(next.UpdatedAt, next.CreatedAt))
		if err != nil {
			return err
		}
		swapped = tag.RowsAffected() == 1
		if swapped && ev != nil {
			return insertEvent(ctx, tx, *ev)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: replace credential: %w", err)
	}
	return swapped, nil
}

// SetUserStatus sets a user's status and records ev in one transaction;
// banning also revokes every active session (reason "user_banned") and
// returns their ids. KindNotFound when there is no such user.
func (db *DB) SetUserStatus(ctx context.Context, userID uuid.UUID, status string, now time.Time, ev auth.Event) ([]uuid.UUID, error) {
	var revoked []uuid.UUID
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		revoked = nil
		var homeRegion string
		err := tx.QueryRow(ctx, `UPDATE users SET status = $2, updated_at = $3 WHERE id = $1 RETURNING home_region`,
			userID, status, now).Scan(&homeRegion)
		if err != nil {
			return err
		}
		if status == auth.StatusBanned {
			if revoked, err = revokeSessions(ctx, tx, userID, uuid.Nil, reasonUserBanned, now); err != nil {
				return err
			}
		}
		return insertEvent(ctx, tx, fillEvent(ev, userID, homeRegion))
	})
	if err != nil {
		return nil, fmt.Errorf("store: set user status: %w", err)
	}
	return revoked, nil
}

// fillEvent gives an event the user and home region it lacks.
func fillEvent(ev auth.Event, userID uuid.UUID, homeRegion string) auth.Event {
	if ev.UserID == uuid.Nil {
		ev.UserID = userID
	}
	if ev.HomeRegion == "" {
		ev.HomeRegion = homeRegion
	}
	return ev
}

// errInvalidToken is a password reset that is unknown, used or expired.
func errInvalidToken() error {
	return errs.Wrap(errs.KindNotFound, "invalid_token", "the link is invalid or has expired", ErrNotFound)
}

// isNoRows reports whether err is pgx's "no rows".
func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
