package store

import (
	"context"
	"fmt"
	"time"
)

// PurgeOptions bound one purge.
type PurgeOptions struct {
	// Batch is the most rows one statement deletes (default 1,000), so a
	// purge never holds long locks or writes one huge transaction.
	Batch int
	// SentOutboxAge is how long a sent outbox row is kept (default 7 days).
	SentOutboxAge time.Duration
}

// PurgeResult counts the rows a purge deleted, by table.
type PurgeResult map[string]int64

// purgeStatements delete, in bounded batches, the rows nothing reads any
// more. Each deletes at most $3 rows of the region $1 that are dead at $2
// (for the outbox, $2 is the oldest sent time kept). DELETE ... WHERE key
// IN (SELECT ... LIMIT n) runs the same on PostgreSQL and CockroachDB.
var purgeStatements = []struct{ table, sql string }{
	{"webauthn_ceremonies", `DELETE FROM webauthn_ceremonies WHERE id IN (
		SELECT id FROM webauthn_ceremonies WHERE home_region = $1 AND expires_at <= $2 LIMIT $3)`},
	{"refresh_tokens", `DELETE FROM refresh_tokens WHERE token_hash IN (
		SELECT r.token_hash FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
		WHERE r.home_region = $1 AND (r.expires_at <= $2 OR s.revoked_at IS NOT NULL OR s.expires_at <= $2) LIMIT $3)`},
	{"sessions", `DELETE FROM sessions WHERE id IN (
		SELECT id FROM sessions WHERE home_region = $1 AND expires_at <= $2 LIMIT $3)`},
	{"outbox", `DELETE FROM outbox WHERE id IN (
		SELECT id FROM outbox WHERE home_region = $1 AND sent_at IS NOT NULL AND sent_at <= $2 LIMIT $3)`},
	{"password_resets", `DELETE FROM password_resets WHERE token_hash IN (
		SELECT token_hash FROM password_resets WHERE home_region = $1 AND (used_at IS NOT NULL OR expires_at <= $2) LIMIT $3)`},
}

// Purge deletes a region's dead rows as of now: expired WebAuthn
// ceremonies and pending MFA logins, sessions past their absolute expiry,
// refresh tokens that expired or whose session ended, sent outbox rows
// older than SentOutboxAge, and used or expired password resets. It works
// table by table in batches of opts.Batch until a batch comes back short,
// and stops early when ctx ends. Orphans are deleted before what they
// point to (refresh tokens before sessions).
func (db *DB) Purge(ctx context.Context, region string, now time.Time, opts PurgeOptions) (PurgeResult, error) {
	if opts.Batch <= 0 {
		opts.Batch = 1000
	}
	if opts.SentOutboxAge <= 0 {
		opts.SentOutboxAge = 7 * 24 * time.Hour
	}
	res := PurgeResult{}
	for _, st := range purgeStatements {
		for {
			tag, err := db.pool.Exec(ctx, st.sql, region, cutoff(st.table, now, opts), opts.Batch)
			if err != nil {
				return res, fmt.Errorf("store: purge %s: %w", st.table, mapError(err))
			}
			res[st.table] += tag.RowsAffected()
			if tag.RowsAffected() < int64(opts.Batch) {
				break
			}
		}
	}
	return res, nil
}

// AcquireLease takes or renews the lease name for holder until now+ttl,
// and reports whether holder has it: a lease another holder still has is
// left alone. One statement, so two instances never both win.
func (db *DB) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	var got string
	err := db.pool.QueryRow(ctx, `INSERT INTO maintenance_leases (name, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE maintenance_leases.holder = excluded.holder OR maintenance_leases.expires_at <= $4
		RETURNING holder`, name, holder, now.Add(ttl), now).Scan(&got)
	if isNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: acquire lease %s: %w", name, mapError(err))
	}
	return got == holder, nil
}

// RetentionCounts counts, per table the purge looks after, the rows of a
// region that a purge at now would delete (for tests and operators).
func (db *DB) RetentionCounts(ctx context.Context, region string, now time.Time, opts PurgeOptions) (map[string]int64, error) {
	if opts.SentOutboxAge <= 0 {
		opts.SentOutboxAge = 7 * 24 * time.Hour
	}
	out := map[string]int64{}
	for _, st := range purgeStatements {
		// The purge's own condition, as a count: the inner SELECT of its
		// DELETE without the LIMIT.
		var n int64
		q := "SELECT count(*) FROM (" + selectOf(st.sql) + ") AS dead"
		if err := db.pool.QueryRow(ctx, q, region, cutoff(st.table, now, opts), int64(1)<<40).Scan(&n); err != nil {
			return nil, fmt.Errorf("store: count %s: %w", st.table, mapError(err))
		}
		out[st.table] = n
	}
	return out, nil
}

// cutoff is a purge statement's $2: now, or for the outbox the oldest sent
// time kept.
func cutoff(table string, now time.Time, opts PurgeOptions) time.Time {
	if table == "outbox" {
		return now.Add(-opts.SentOutboxAge)
	}
	return now
}

// selectOf extracts the inner SELECT of a purge statement.
func selectOf(del string) string {
	for i := 0; i+6 <= len(del); i++ {
		if del[i:i+6] == "SELECT" {
			return del[i : len(del)-1]
		}
	}
	return del
}

// CountRows counts the rows of one of the tables the purge looks after.
func (db *DB) CountRows(ctx context.Context, table string) (int64, error) {
	ok := false
	for _, st := range purgeStatements {
		ok = ok || st.table == table
	}
	if !ok {
		return 0, fmt.Errorf("store: count rows: %q is not a table the purge looks after", table)
	}
	var n int64
	if err := db.pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count rows of %s: %w", table, mapError(err))
	}
	return n, nil
}

// OutboxPayloadsWithKey counts the sent outbox rows whose payload still
// holds key (e.g. "token"): after ClaimOutbox there should be none.
func (db *DB) OutboxPayloadsWithKey(ctx context.Context, key string) (int64, error) {
	var n int64
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL AND payload ? $1`, key).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: outbox payloads: %w", mapError(err))
	}
	return n, nil
}
