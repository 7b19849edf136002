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
// dispatchers never take the same message. The secrets a mail carries
// (outboxSecrets: a reset token, a one-time code) are returned to the
// dispatcher and removed from the stored row, so a sent row keeps no raw
// token. A message whose delivery then fails is handed back, secrets and
// all, with ReleaseOutbox.
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
		_, err = tx.Exec(ctx, `UPDATE outbox SET sent_at = $2, payload = payload - 'token' - 'code'
			WHERE id = ANY($1) AND sent_at IS NULL`, ids, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim outbox: %w", mapError(err))
	}
	return out, nil
}

// ReleaseOutbox hands a claimed message back for another delivery attempt,
// with the payload it was claimed with (ClaimOutbox removed its secrets).
func (db *DB) ReleaseOutbox(ctx context.Context, m auth.OutboxMessage) error {
	payload, err := json.Marshal(m.Payload)
	if err != nil {
		return fmt.Errorf("store: release outbox: %w", err)
	}
	if _, err := db.pool.Exec(ctx, `UPDATE outbox SET sent_at = NULL, payload = $2 WHERE id = $1`, m.ID, payload); err != nil {
		return fmt.Errorf("store: release outbox: %w", mapError(err))
	}
	return nil
}
