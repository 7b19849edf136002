package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/errs"
)

// CreateDevice stores a newly trusted device.
func (db *DB) CreateDevice(ctx context.Context, d auth.Device) error {
	// The device and its DeviceTrusted event, in one statement.
	data, err := jsonObject(map[string]any{"device_id": d.ID.String(), "device_name": d.Name})
	if err != nil {
		return fmt.Errorf("store: create device: %w", err)
	}
	_, err = db.pool.Exec(ctx, `WITH d AS (INSERT INTO trusted_devices (id, user_id, home_region, token_hash, name, ip, created_at, last_used_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id)
		INSERT INTO auth_events (id, user_id, home_region, kind, occurred_at, ip, data)
		SELECT $9, $2, $3, 'device.trusted', $7, $6, $10 FROM d`,
		d.ID, d.UserID, d.HomeRegion, d.TokenHash, d.Name, d.IP, d.CreatedAt, orTime(d.LastUsedAt, d.CreatedAt), uuid.New(), data)
	if err != nil {
		return fmt.Errorf("store: create device: %w", mapError(err))
	}
	return nil
}

// TrustedDevice reports whether tokenHash is an unrevoked device of the
// user and records its use.
func (db *DB) TrustedDevice(ctx context.Context, userID uuid.UUID, tokenHash []byte, now time.Time) (bool, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE trusted_devices SET last_used_at = $3
		WHERE token_hash = $1 AND user_id = $2 AND revoked_at IS NULL`, tokenHash, userID, now)
	if err != nil {
		return false, fmt.Errorf("store: trusted device: %w", mapError(err))
	}
	return tag.RowsAffected() == 1, nil
}

// ListDevices lists the user's unrevoked devices, most recently used first.
func (db *DB) ListDevices(ctx context.Context, userID uuid.UUID) ([]auth.Device, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, user_id, home_region, name, ip, created_at, last_used_at
		FROM trusted_devices WHERE user_id = $1 AND revoked_at IS NULL ORDER BY last_used_at DESC LIMIT 100`, userID)
	if err != nil {
		return nil, fmt.Errorf("store: list devices: %w", mapError(err))
	}
	defer rows.Close()
	var out []auth.Device
	for rows.Next() {
		var d auth.Device
		if err := rows.Scan(&d.ID, &d.UserID, &d.HomeRegion, &d.Name, &d.IP, &d.CreatedAt, &d.LastUsedAt); err != nil {
			return nil, fmt.Errorf("store: list devices: %w", mapError(err))
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list devices: %w", mapError(err))
	}
	return out, nil
}

// RevokeDevice revokes one of the user's devices.
func (db *DB) RevokeDevice(ctx context.Context, userID, deviceID uuid.UUID, now time.Time) error {
	// The revocation and its DeviceRevoked event, in one statement; the
	// event is written only when a device was revoked.
	data, err := jsonObject(map[string]any{"device_id": deviceID.String()})
	if err != nil {
		return fmt.Errorf("store: revoke device: %w", err)
	}
	tag, err := db.pool.Exec(ctx, `WITH d AS (UPDATE trusted_devices SET revoked_at = $3
		WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING user_id, home_region)
		INSERT INTO auth_events (id, user_id, home_region, kind, occurred_at, data)
		SELECT $4, user_id, home_region, 'device.revoked', $3, $5 FROM d`, deviceID, userID, now, uuid.New(), data)
	if err != nil {
		return fmt.Errorf("store: revoke device: %w", mapError(err))
	}
	if tag.RowsAffected() == 0 {
		return errs.E(errs.KindNotFound, "not_found", "no such device")
	}
	return nil
}

// SetPasswordBreached flags (or clears) a breached password.
func (db *DB) SetPasswordBreached(ctx context.Context, userID uuid.UUID, breached bool, now time.Time) error {
	tag, err := db.pool.Exec(ctx, `UPDATE users SET password_breached = $2, updated_at = $3 WHERE id = $1`, userID, breached, now)
	if err != nil {
		return fmt.Errorf("store: flag breached password: %w", mapError(err))
	}
	if tag.RowsAffected() == 0 {
		return errs.E(errs.KindNotFound, "not_found", "no such user")
	}
	return nil
}

// UseDevice reports whether deviceID is an unrevoked device of the user
// holding tokenHash and last used after idleCutoff (an expired device is
// not trusted), and records its use at now. One statement on the primary
// key.
func (db *DB) UseDevice(ctx context.Context, userID, deviceID uuid.UUID, tokenHash []byte, now, idleCutoff time.Time) (bool, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE trusted_devices SET last_used_at = $4
		WHERE id = $1 AND user_id = $2 AND token_hash = $3 AND revoked_at IS NULL AND last_used_at > $5`,
		deviceID, userID, tokenHash, now, idleCutoff)
	if err != nil {
		return false, fmt.Errorf("store: use device: %w", mapError(err))
	}
	return tag.RowsAffected() == 1, nil
}
