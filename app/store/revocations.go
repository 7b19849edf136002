package store

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/revocation"
)

// RecordRevocations inserts revoked sessions into the GLOBAL
// session_revocations table; a session recorded already keeps its row.
func (db *DB) RecordRevocations(ctx context.Context, revs []revocation.Revocation) error {
	if len(revs) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(revs))
	revoked := make([]time.Time, len(revs))
	expires := make([]time.Time, len(revs))
	for i, r := range revs {
		ids[i], revoked[i], expires[i] = r.SessionID, r.RevokedAt, r.ExpiresAt
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO session_revocations (session_id, revoked_at, expires_at)
		SELECT t.id, t.r, t.e FROM unnest($1::UUID[], $2::TIMESTAMPTZ[], $3::TIMESTAMPTZ[]) AS t(id, r, e)
		ON CONFLICT (session_id) DO NOTHING`, ids, revoked, expires)
	if err != nil {
		return fmt.Errorf("store: record revocations: %w", mapError(err))
	}
	return nil
}

// RevocationsSince lists the rows revoked at or after since that have not
// expired at now, oldest first, at most limit.
func (db *DB) RevocationsSince(ctx context.Context, since, now time.Time, limit int) ([]revocation.Revocation, error) {
	rows, err := db.pool.Query(ctx, `SELECT session_id, revoked_at, expires_at FROM session_revocations
		WHERE revoked_at >= $1 AND expires_at > $2 ORDER BY revoked_at LIMIT $3`, since, now, limit)
	if err != nil {
		return nil, fmt.Errorf("store: revocations since: %w", mapError(err))
	}
	defer rows.Close()
	var out []revocation.Revocation
	for rows.Next() {
		var r revocation.Revocation
		if err := rows.Scan(&r.SessionID, &r.RevokedAt, &r.ExpiresAt); err != nil {
			return nil, fmt.Errorf("store: revocations since: %w", mapError(err))
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: revocations since: %w", mapError(err))
	}
	return out, nil
}

// DeleteExpiredRevocations removes up to limit rows that expired before t.
func (db *DB) DeleteExpiredRevocations(ctx context.Context, before time.Time, limit int) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM session_revocations WHERE session_id IN (
		SELECT session_id FROM session_revocations WHERE expires_at < $1 LIMIT $2)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("store: delete expired revocations: %w", mapError(err))
	}
	return tag.RowsAffected(), nil
}
