package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-id/gatehouse/app/auth"
)

// CreateSession inserts a session and its first refresh token in one
// transaction. The token is bound to the session: its session, user, home
// region and client are the session's, whatever rt says.
func (db *DB) CreateSession(ctx context.Context, s auth.Session, rt auth.RefreshToken) error {
	// Both rows, BEGIN and COMMIT travel as one batch: one round trip.
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO sessions (id, user_id, home_region, client_id, amr, acr, auth_time,
				created_at, last_seen_at, expires_at, ip, user_agent)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			s.ID, s.UserID, s.HomeRegion, s.ClientID, joinAMR(s.AMR), s.ACR, s.AuthTime,
			s.CreatedAt, orTime(s.LastSeenAt, s.CreatedAt), s.ExpiresAt, s.IP, s.UserAgent)
		b.Queue(insertRefreshSQL, refreshTokenArgs(s, rt)...)
		b.Queue(insertAuthEventSQL, sessionStartedEvent(s)...)
		return commitWith(ctx, tx, b)
	})
	if err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	return nil
}

// insertRefreshSQL stores an unused refresh token of a session, with
// refreshTokenArgs.
const insertRefreshSQL = `INSERT INTO refresh_tokens (token_hash, session_id, user_id, home_region, client_id,
		created_at, expires_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7)`

// refreshTokenArgs are insertRefreshSQL's arguments, the expiry capped at
// the session's.
func refreshTokenArgs(s auth.Session, rt auth.RefreshToken) []any {
	expires := rt.ExpiresAt
	if expires.After(s.ExpiresAt) {
		expires = s.ExpiresAt
	}
	return []any{rt.Hash, s.ID, s.UserID, s.HomeRegion, s.ClientID, rt.CreatedAt, expires}
}

// Session reads one session; KindNotFound when there is none.
func (db *DB) Session(ctx context.Context, id uuid.UUID) (auth.Session, error) {
	var sr sessionRow
	err := db.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.id = $1`, id).Scan(sr.dest()...)
	if err != nil {
		return auth.Session{}, fmt.Errorf("store: session: %w", mapError(err))
	}
	return sr.session(), nil
}

// RefreshTokenInfo reads a refresh token, used or not, with its session and
// user; KindNotFound when the token is unknown.
func (db *DB) RefreshTokenInfo(ctx context.Context, tokenHash []byte) (auth.RefreshToken, auth.Session, auth.User, error) {
	var (
		rt auth.RefreshToken
		sr sessionRow
		ur userRow
	)
	dest := append([]any{&rt.Hash, &rt.SessionID, &rt.UserID, &rt.HomeRegion, &rt.ClientID, &rt.CreatedAt,
		&rt.ExpiresAt, &rt.UsedAt, &rt.ReplacedBy}, append(sr.dest(), ur.dest()...)...)
	err := db.pool.QueryRow(ctx, `SELECT rt.token_hash, rt.session_id, rt.user_id, rt.home_region, rt.client_id,
			rt.created_at, rt.expires_at, rt.used_at, rt.replaced_by, `+sessionColumns+`, `+userColumns+`
		FROM refresh_tokens rt
		JOIN sessions s ON s.id = rt.session_id
		JOIN users u ON u.id = s.user_id
		WHERE rt.token_hash = $1`, tokenHash).Scan(dest...)
	if err != nil {
		return auth.RefreshToken{}, auth.Session{}, auth.User{}, fmt.Errorf("store: refresh token info: %w", mapError(err))
	}
	return rt, sr.session(), ur.user(), nil
}

// ListSessions lists the user's sessions that are neither revoked nor past
// their absolute expiry at now, newest first.
func (db *DB) ListSessions(ctx context.Context, userID uuid.UUID, now time.Time) ([]auth.Session, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+sessionColumns+` FROM sessions s
		WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2
		ORDER BY s.created_at DESC, s.id DESC`, userID, now)
	if err != nil {
		return nil, fmt.Errorf("store: list sessions: %w", mapError(err))
	}
	defer rows.Close()
	var out []auth.Session
	for rows.Next() {
		var sr sessionRow
		if err := rows.Scan(sr.dest()...); err != nil {
			return nil, fmt.Errorf("store: list sessions: %w", mapError(err))
		}
		out = append(out, sr.session())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list sessions: %w", mapError(err))
	}
	return out, nil
}

// RevokeSession revokes one session of the user; KindNotFound when the
// session does not exist or is another user's. It reports whether the
// session was active (not revoked, not expired) before. A session that was
// revoked already keeps its first revocation time and reason.
func (db *DB) RevokeSession(ctx context.Context, userID, sessionID uuid.UUID, reason string, now time.Time) (bool, error) {
	var wasActive bool
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var s sessionRow
		err := tx.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions s WHERE s.id = $1 AND s.user_id = $2`,
			sessionID, userID).Scan(s.dest()...)
		if err != nil {
			return err
		}
		wasActive = s.session().Active(now)
		if s.s.RevokedAt != nil {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE sessions SET revoked_at = $2, revoke_reason = $3
			WHERE id = $1 AND revoked_at IS NULL`, sessionID, now, reason)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: revoke session: %w", err)
	}
	return wasActive, nil
}

// RevokeUserSessions revokes every active session of the user except keep
// (uuid.Nil keeps none), records ev when non-nil, all in one transaction,
// and returns the ids it revoked.
func (db *DB) RevokeUserSessions(ctx context.Context, userID, keep uuid.UUID, reason string, now time.Time, ev *auth.Event) ([]uuid.UUID, error) {
	var revoked []uuid.UUID
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if revoked, err = revokeSessions(ctx, tx, userID, keep, reason, now); err != nil {
			return err
		}
		if ev != nil {
			return insertEvent(ctx, tx, *ev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: revoke user sessions: %w", err)
	}
	return revoked, nil
}

// revokeSessions revokes the user's sessions that are active at now, except
// keep, and returns their ids. Expired sessions are left as they are: they
// cannot be used anyway. Every trusted device of the user is revoked with
// them (password change and reset, logout everywhere, a ban, a removed
// factor): a device trusted under the old state must log in in full again.
func revokeSessions(ctx context.Context, q querier, userID, keep uuid.UUID, reason string, now time.Time) ([]uuid.UUID, error) {
	rows, err := q.Query(ctx, `UPDATE sessions SET revoked_at = $3, revoke_reason = $4
		WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL AND expires_at > $3
		RETURNING id`, userID, keep, now, reason)
	if err != nil {
		return nil, err
	}
	ids, err := collectIDs(rows)
	if err != nil {
		return nil, err
	}
	if _, err := q.Exec(ctx, `UPDATE trusted_devices SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`, userID, now); err != nil {
		return nil, err
	}
	return ids, nil
}

// RecentlyRevokedSessions lists the sessions of a region revoked since
// since (at most limit), for re-publishing their revocation marks.
func (db *DB) RecentlyRevokedSessions(ctx context.Context, region string, since time.Time, limit int) ([]uuid.UUID, error) {
	rows, err := db.pool.Query(ctx, `SELECT id FROM sessions
		WHERE home_region = $1 AND revoked_at IS NOT NULL AND revoked_at >= $2
		ORDER BY revoked_at DESC LIMIT $3`, region, since, limit)
	if err != nil {
		return nil, fmt.Errorf("store: recently revoked sessions: %w", mapError(err))
	}
	defer rows.Close()
	var ids []uuid.UUID
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: recently revoked sessions: %w", mapError(err))
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: recently revoked sessions: %w", mapError(err))
	}
	return ids, nil
}
