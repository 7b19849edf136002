package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/auth"
)

// RecordEvent writes a security event on its own.
func (db *DB) RecordEvent(ctx context.Context, ev auth.Event) error {
	if err := insertEvent(ctx, db.pool, ev); err != nil {
		return fmt.Errorf("store: record event: %w", mapError(err))
	}
	return nil
}

// insertEvent writes a security event, and the same event to the audit
// trail that the relay publishes (auth_events), in one statement; a nil
// Detail is stored as {}.
func insertEvent(ctx context.Context, q querier, ev auth.Event) error {
	detail, err := jsonObject(ev.Detail)
	if err != nil {
		return fmt.Errorf("marshal event detail: %w", err)
	}
	_, err = q.Exec(ctx, `WITH se AS (INSERT INTO security_events (id, user_id, home_region, kind, created_at, detail)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id)
		INSERT INTO auth_events (id, user_id, home_region, kind, occurred_at, data)
		SELECT id, $2, $3, $4, $5, $6 FROM se`, ev.ID, ev.UserID, ev.HomeRegion, ev.Kind, ev.At, detail)
	return err
}

// Events lists a user's security events, oldest first.
func (db *DB) Events(ctx context.Context, userID uuid.UUID) ([]auth.Event, error) {
	rows, err := db.pool.Query(ctx, `SELECT id, user_id, home_region, kind, created_at, detail
		FROM security_events WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", mapError(err))
	}
	defer rows.Close()
	var out []auth.Event
	for rows.Next() {
		var ev auth.Event
		var detail []byte
		if err := rows.Scan(&ev.ID, &ev.UserID, &ev.HomeRegion, &ev.Kind, &ev.At, &detail); err != nil {
			return nil, fmt.Errorf("store: events: %w", mapError(err))
		}
		if err := json.Unmarshal(detail, &ev.Detail); err != nil {
			return nil, fmt.Errorf("store: events: detail of %s: %w", ev.ID, mapError(err))
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: events: %w", mapError(err))
	}
	return out, nil
}

// Enqueue writes an outbox message on its own.
func (db *DB) Enqueue(ctx context.Context, msg auth.OutboxMessage) error {
	if err := insertOutbox(ctx, db.pool, msg); err != nil {
		return fmt.Errorf("store: enqueue: %w", mapError(err))
	}
	return nil
}

// insertOutbox writes an outbox message; a nil Payload is stored as {}.
func insertOutbox(ctx context.Context, q querier, msg auth.OutboxMessage) error {
	payload, err := jsonObject(msg.Payload)
	if err != nil {
		return fmt.Errorf("marshal outbox payload: %w", err)
	}
	_, err = q.Exec(ctx, `INSERT INTO outbox (id, home_region, kind, recipient, payload, created_at, sent_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		msg.ID, msg.HomeRegion, msg.Kind, msg.Recipient, payload, msg.CreatedAt, msg.SentAt)
	return err
}
