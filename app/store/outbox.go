package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-id/gatehouse/app/auth"
)

// ClaimOutbox takes up to limit unsent messages of a region for delivery:
// in one serialisable transaction it reads them and stamps sent_at, so two
// dispatchers never take the same message. A message whose delivery then
// fails is handed back with ReleaseOutbox.
func (db *DB) ClaimOutbox(ctx context.Context, region string, limit int, now time.Time) ([]auth.OutboxMessage, error) {
	var out []auth.OutboxMessage
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, `SELECT id, home_region, kind, recipient, payload, created_at
			FROM outbox WHERE home_region = $1 AND sent_at IS NULL ORDER BY created_at LIMIT $2`, region, limit)
		if err != nil {
			return err
		}
		var ids []uuid.UUID
		for rows.Next() {
			var m auth.OutboxMessage
			var payload []byte
			if err := rows.Scan(&m.ID, &m.HomeRegion, &m.Kind, &m.Recipient, &payload, &m.CreatedAt); err != nil {
				rows.Close()
				return err
			}
			if err := json.Unmarshal(payload, &m.Payload); err != nil {
				rows.Close()
				return fmt.Errorf("outbox %s: payload: %w", m.ID, err)
			}
			sent := now
			m.SentAt = &sent
			out = append(out, m)
			ids = append(ids, m.ID)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE outbox SET sent_at = $2 WHERE id = ANY($1) AND sent_at IS NULL`, ids, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim outbox: %w", mapError(err))
	}
	return out, nil
}

// ReleaseOutbox hands a claimed message back for another delivery attempt.
func (db *DB) ReleaseOutbox(ctx context.Context, id uuid.UUID) error {
	if _, err := db.pool.Exec(ctx, `UPDATE outbox SET sent_at = NULL WHERE id = $1`, id); err != nil {
		return fmt.Errorf("store: release outbox: %w", mapError(err))
	}
	return nil
}
