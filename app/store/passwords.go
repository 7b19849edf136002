package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/errs"
)

// ChangePassword, in one transaction, swaps the credential of next.UserID
// for next if the stored hash is still oldHash, clears
// must_change_password, revokes every active session but keep (reason
// "password_changed") and records ev. When the hash changed meanwhile it is
// KindConflict "credential_changed" and nothing is written. It returns the
// revoked session ids.
func (db *DB) ChangePassword(ctx context.Context, oldHash string, next auth.Credential, keep uuid.UUID, now time.Time, ev auth.Event) ([]uuid.UUID, error) {
	var revoked []uuid.UUID
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		revoked = nil
		tag, err := tx.Exec(ctx, `UPDATE credentials SET kind = $3, hash = $4, recipe = $5, updated_at = $6
			WHERE user_id = $1 AND hash = $2`,
			next.UserID, oldHash, next.Kind, next.Hash, jsonOrNull(next.Recipe), orTime(next.UpdatedAt, now))
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return errs.E(errs.KindConflict, "credential_changed", "the password was changed meanwhile; try again")
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET must_change_password = false, password_breached = false, updated_at = $2 WHERE id = $1`,
			next.UserID, now); err != nil {
			return err
		}
		if revoked, err = revokeSessions(ctx, tx, next.UserID, keep, reasonPasswordChange, now); err != nil {
			return err
		}
		return insertEvent(ctx, tx, fillEvent(ev, next.UserID, next.HomeRegion))
	})
	if err != nil {
		return nil, fmt.Errorf("store: change password: %w", err)
	}
	return revoked, nil
}

// ForcePasswordReset, in one transaction, sets must_change_password,
// revokes every active session (reason "password_reset_forced") and records
// ev; KindNotFound when there is no such user. It returns the revoked
// session ids.
func (db *DB) ForcePasswordReset(ctx context.Context, userID uuid.UUID, now time.Time, ev auth.Event) ([]uuid.UUID, error) {
	var revoked []uuid.UUID
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		revoked = nil
		var homeRegion string
		err := tx.QueryRow(ctx, `UPDATE users SET must_change_password = true, updated_at = $2 WHERE id = $1
			RETURNING home_region`, userID, now).Scan(&homeRegion)
		if err != nil {
			return err
		}
		if revoked, err = revokeSessions(ctx, tx, userID, uuid.Nil, reasonForcedReset, now); err != nil {
			return err
		}
		return insertEvent(ctx, tx, fillEvent(ev, userID, homeRegion))
	})
	if err != nil {
		return nil, fmt.Errorf("store: force password reset: %w", err)
	}
	return revoked, nil
}

// CreatePasswordReset stores a reset and its outbox message together.
func (db *DB) CreatePasswordReset(ctx context.Context, r auth.PasswordReset, msg auth.OutboxMessage) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO password_resets (token_hash, user_id, home_region, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5)`, r.Hash, r.UserID, r.HomeRegion, r.CreatedAt, r.ExpiresAt); err != nil {
			return err
		}
		data, err := jsonObject(map[string]any{"reason": msg.Kind, "expires_at": r.ExpiresAt.UTC().Format(time.RFC3339)})
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, insertAuthEventSQL, uuid.New(), r.UserID, r.HomeRegion, auth.EventPasswordResetRequested,
			r.CreatedAt, "", "", data); err != nil {
			return err
		}
		return insertOutbox(ctx, tx, msg)
	})
	if err != nil {
		return fmt.Errorf("store: create password reset: %w", err)
	}
	return nil
}

// CompletePasswordReset redeems an unused, unexpired reset in one
// transaction: it marks it (and every other pending reset of the user)
// used, writes next as the user's credential, clears must_change_password,
// revokes every active session (reason "password_reset") and records ev.
// The user and home region of next and ev are the reset's. An unknown, used
// or expired token is KindNotFound "invalid_token". It returns the user id
// and the revoked session ids.
func (db *DB) CompletePasswordReset(ctx context.Context, tokenHash []byte, next auth.Credential, now time.Time, ev auth.Event) (uuid.UUID, []uuid.UUID, error) {
	var (
		userID  uuid.UUID
		revoked []uuid.UUID
	)
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		userID, revoked = uuid.Nil, nil
		var (
			homeRegion string
			expiresAt  time.Time
			usedAt     *time.Time
		)
		err := tx.QueryRow(ctx, `SELECT user_id, home_region, expires_at, used_at FROM password_resets
			WHERE token_hash = $1 FOR UPDATE`, tokenHash).Scan(&userID, &homeRegion, &expiresAt, &usedAt)
		if isNoRows(err) {
			return errInvalidToken()
		}
		if err != nil {
			return err
		}
		if usedAt != nil || !now.Before(expiresAt) {
			return errInvalidToken()
		}
		if _, err := tx.Exec(ctx, `UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL`,
			userID, now); err != nil {
			return err
		}
		next.UserID, next.HomeRegion = userID, homeRegion
		next.CreatedAt, next.UpdatedAt = orTime(next.CreatedAt, now), orTime(next.UpdatedAt, now)
		if err := insertCredential(ctx, tx, userID, homeRegion, next); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET must_change_password = false, password_breached = false, updated_at = $2 WHERE id = $1`,
			userID, now); err != nil {
			return err
		}
		if revoked, err = revokeSessions(ctx, tx, userID, uuid.Nil, reasonPasswordReset, now); err != nil {
			return err
		}
		ev.UserID, ev.HomeRegion = userID, homeRegion
		return insertEvent(ctx, tx, ev)
	})
	if err != nil {
		return uuid.Nil, nil, fmt.Errorf("store: complete password reset: %w", err)
	}
	return userID, revoked, nil
}

// PendingPasswordReset returns the user of an unused reset that is still
// valid at now, or KindNotFound "invalid_token": a confirm looks its token
// up before it spends a hash on the new password.
func (db *DB) PendingPasswordReset(ctx context.Context, tokenHash []byte, now time.Time) (uuid.UUID, error) {
	var userID uuid.UUID
	err := db.pool.QueryRow(ctx, `SELECT user_id FROM password_resets
		WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2`, tokenHash, now).Scan(&userID)
	if isNoRows(err) {
		return uuid.Nil, errInvalidToken()
	}
	if err != nil {
		return uuid.Nil, fmt.Errorf("store: pending password reset: %w", mapError(err))
	}
	return userID, nil
}
