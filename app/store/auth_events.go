package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/events"
)

// authEventColumns are the auth_events columns scanAuthEvent reads.
const authEventColumns = `id, user_id, home_region, kind, occurred_at, ip, user_agent, data, published_at`

// insertAuthEventSQL appends one row to the audit trail; args: id,
// user_id, home_region, kind, occurred_at, ip, user_agent, data.
const insertAuthEventSQL = `INSERT INTO auth_events (id, user_id, home_region, kind, occurred_at, ip, user_agent, data)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

// AppendEvents writes a batch of events that record no state change (a
// failed login, a rate-limited attempt) in one statement. Appending the
// same batch twice writes it once.
func (db *DB) AppendEvents(ctx context.Context, recs []events.Record) error {
	if len(recs) == 0 {
		return nil
	}
	n := len(recs)
	ids, users := make([]uuid.UUID, n), make([]uuid.UUID, n)
	regions, kinds, ips, uas, data := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	ats := make([]time.Time, n)
	for i, r := range recs {
		d, err := jsonObject(r.Data)
		if err != nil {
			return fmt.Errorf("store: append events: %s: %w", r.ID, err)
		}
		ids[i], users[i], regions[i], kinds[i], ats[i], ips[i], uas[i], data[i] = r.ID, r.UserID, r.HomeRegion, r.Kind, r.At, r.IP, r.UserAgent, string(d)
	}
	_, err := db.pool.Exec(ctx, `INSERT INTO auth_events (id, user_id, home_region, kind, occurred_at, ip, user_agent, data)
		SELECT i, u, r, k, o, a, ua, d::JSONB
		  FROM unnest($1::UUID[], $2::UUID[], $3::TEXT[], $4::TEXT[], $5::TIMESTAMPTZ[], $6::TEXT[], $7::TEXT[], $8::TEXT[])
		    AS t (i, u, r, k, o, a, ua, d)
		ON CONFLICT (user_id, occurred_at, id) DO NOTHING`, ids, users, regions, kinds, ats, ips, uas, data)
	if err != nil {
		return fmt.Errorf("store: append events: %w", mapError(err))
	}
	return nil
}

// AcquireRelayLease takes or renews the region's relay lease for holder
// until now+ttl. It reports false when another holder's lease is still
// running. One conditional upsert: no advisory lock, valid on CockroachDB.
func (db *DB) AcquireRelayLease(ctx context.Context, region, holder string, now time.Time, ttl time.Duration) (bool, error) {
	var got string
	err := db.pool.QueryRow(ctx, `INSERT INTO event_relay_leases (region, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (region) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		  WHERE event_relay_leases.holder = excluded.holder OR event_relay_leases.expires_at < $4
		RETURNING holder`, region, holder, now.Add(ttl), now).Scan(&got)
	if err == pgx.ErrNoRows {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: relay lease: %w", mapError(err))
	}
	return got == holder, nil
}

// ReleaseRelayLease gives the lease up (at shutdown) if holder has it.
func (db *DB) ReleaseRelayLease(ctx context.Context, region, holder string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM event_relay_leases WHERE region = $1 AND holder = $2`, region, holder); err != nil {
		return fmt.Errorf("store: release relay lease: %w", mapError(err))
	}
	return nil
}

// UnpublishedEvents lists up to limit unpublished events of a region that
// occurred at or before until, oldest first (ties by id).
func (db *DB) UnpublishedEvents(ctx context.Context, region string, until time.Time, limit int) ([]events.Record, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+authEventColumns+` FROM auth_events
		WHERE home_region = $1 AND published_at IS NULL AND occurred_at <= $2
		ORDER BY occurred_at, id LIMIT $3`, region, until, limit)
	if err != nil {
		return nil, fmt.Errorf("store: unpublished events: %w", mapError(err))
	}
	return collectAuthEvents(rows)
}

// MarkPublished stamps the events published at now.
func (db *DB) MarkPublished(ctx context.Context, keys []events.Key, now time.Time) error {
	if len(keys) == 0 {
		return nil
	}
	users, ids := make([]uuid.UUID, len(keys)), make([]uuid.UUID, len(keys))
	ats := make([]time.Time, len(keys))
	for i, k := range keys {
		users[i], ats[i], ids[i] = k.UserID, k.At, k.ID
	}
	_, err := db.pool.Exec(ctx, `UPDATE auth_events SET published_at = $1
		FROM unnest($2::UUID[], $3::TIMESTAMPTZ[], $4::UUID[]) AS k (u, o, i)
		WHERE auth_events.user_id = k.u AND auth_events.occurred_at = k.o AND auth_events.id = k.i
		  AND auth_events.published_at IS NULL`, now, users, ats, ids)
	if err != nil {
		return fmt.Errorf("store: mark published: %w", mapError(err))
	}
	return nil
}

// EventBacklog counts a region's unpublished events and finds the oldest
// (zero when there is none).
func (db *DB) EventBacklog(ctx context.Context, region string) (int64, time.Time, error) {
	var n int64
	var oldest *time.Time
	err := db.pool.QueryRow(ctx, `SELECT count(*), min(occurred_at) FROM auth_events
		WHERE home_region = $1 AND published_at IS NULL`, region).Scan(&n, &oldest)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("store: event backlog: %w", mapError(err))
	}
	if oldest == nil {
		return n, time.Time{}, nil
	}
	return n, *oldest, nil
}

// UserEvents lists a user's events that occurred before before, newest
// first, at most limit: one range of the primary key.
func (db *DB) UserEvents(ctx context.Context, userID uuid.UUID, before time.Time, limit int) ([]events.Record, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+authEventColumns+` FROM auth_events
		WHERE user_id = $1 AND occurred_at < $2 ORDER BY occurred_at DESC, id DESC LIMIT $3`, userID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("store: user events: %w", mapError(err))
	}
	return collectAuthEvents(rows)
}

// EventsSince lists events of every user that occurred after since,
// oldest first, at most limit (gatehouse events tail).
func (db *DB) EventsSince(ctx context.Context, since time.Time, limit int) ([]events.Record, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+authEventColumns+` FROM auth_events
		WHERE occurred_at > $1 ORDER BY occurred_at, id LIMIT $2`, since, limit)
	if err != nil {
		return nil, fmt.Errorf("store: events since: %w", mapError(err))
	}
	return collectAuthEvents(rows)
}

func collectAuthEvents(rows pgx.Rows) ([]events.Record, error) {
	defer rows.Close()
	var out []events.Record
	for rows.Next() {
		var r events.Record
		var data []byte
		if err := rows.Scan(&r.ID, &r.UserID, &r.HomeRegion, &r.Kind, &r.At, &r.IP, &r.UserAgent, &data, &r.PublishedAt); err != nil {
			return nil, fmt.Errorf("store: events: %w", mapError(err))
		}
		if err := json.Unmarshal(data, &r.Data); err != nil {
			return nil, fmt.Errorf("store: events: data of %s: %w", r.ID, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: events: %w", mapError(err))
	}
	return out, nil
}

// sessionStartedEvent is insertAuthEventSQL's arguments for a new session.
func sessionStartedEvent(s auth.Session) []any {
	data, _ := jsonObject(map[string]any{"session_id": s.ID.String(), "client_id": s.ClientID, "amr": s.AMR, "acr": s.ACR})
	return []any{uuid.New(), s.UserID, s.HomeRegion, auth.EventSessionStarted, s.CreatedAt, s.IP, s.UserAgent, data}
}

// userRegisteredEvent is insertAuthEventSQL's arguments for a new user:
// never the email.
func userRegisteredEvent(u auth.User) []any {
	data, _ := jsonObject(map[string]any{"email_verified": u.EmailVerified, "imported": u.ExternalID != ""})
	return []any{uuid.New(), u.ID, u.HomeRegion, auth.EventUserRegistered, u.CreatedAt, "", "", data}
}
