package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// PartitionReport says what MaintainEventPartitions did.
type PartitionReport struct {
	// Skipped: the database is CockroachDB, where auth_events is REGIONAL
	// BY ROW and expires by row-level TTL (schema/cockroach/0020).
	Skipped bool
	// Converted: auth_events was a plain table and is now partitioned.
	Converted bool
	// Created and Dropped name the day partitions made and removed.
	Created, Dropped []string
	// Partitions lists the day partitions after the run, oldest first.
	Partitions []string
}

// eventPartitionPrefix names auth_events' day partitions:
// auth_events_p20260310 holds 2026-03-10 (UTC). auth_events_default takes
// any row outside them (a clock far off), so no insert ever fails.
const (
	eventPartitionPrefix  = "auth_events_p"
	eventPartitionDefault = "auth_events_default"
	eventPartitionLayout  = "20060102"
)

// MaintainEventPartitions is one run of the audit trail's partition job on
// PostgreSQL: it makes auth_events partitioned by day (once), creates the
// day partitions from yesterday to ahead days after now's day, and drops
// those that end before now-retention. Rows of a new partition's day that
// sat in the default partition are moved into it. On CockroachDB it does
// nothing: PARTITION BY RANGE is PostgreSQL syntax.
func (db *DB) MaintainEventPartitions(ctx context.Context, now time.Time, ahead int, retention time.Duration) (PartitionReport, error) {
	var rep PartitionReport
	if db.cockroach {
		rep.Skipped = true
		return rep, nil
	}
	converted, err := db.partitionAuthEvents(ctx)
	if err != nil {
		return rep, fmt.Errorf("store: partition auth_events: %w", err)
	}
	rep.Converted = converted
	have, err := db.eventPartitions(ctx)
	if err != nil {
		return rep, err
	}
	today := now.UTC().Truncate(24 * time.Hour)
	cut := now.Add(-retention)
	for d := -1; d <= ahead; d++ {
		day := today.AddDate(0, 0, d)
		if !day.AddDate(0, 0, 1).After(cut) || slices.Contains(have, day) {
			continue
		}
		if err := db.createEventPartition(ctx, day); err != nil {
			return rep, fmt.Errorf("store: create partition %s: %w", day.Format(eventPartitionLayout), err)
		}
		rep.Created = append(rep.Created, eventPartitionPrefix+day.Format(eventPartitionLayout))
	}
	for _, day := range have {
		if day.AddDate(0, 0, 1).After(cut) {
			continue
		}
		name := eventPartitionPrefix + day.Format(eventPartitionLayout)
		if _, err := db.pool.Exec(ctx, `DROP TABLE IF EXISTS `+QuoteIdent(name)); err != nil {
			return rep, fmt.Errorf("store: drop partition %s: %w", name, mapError(err))
		}
		rep.Dropped = append(rep.Dropped, name)
	}
	if _, err := db.pool.Exec(ctx, `DELETE FROM `+eventPartitionDefault+` WHERE occurred_at < $1`, cut); err != nil {
		return rep, fmt.Errorf("store: expire default partition: %w", mapError(err))
	}
	after, err := db.eventPartitions(ctx)
	if err != nil {
		return rep, err
	}
	for _, d := range after {
		rep.Partitions = append(rep.Partitions, eventPartitionPrefix+d.Format(eventPartitionLayout))
	}
	return rep, nil
}

// partitionAuthEvents turns the plain auth_events of migration 0020 into a
// table partitioned by range of occurred_at, with the same columns, key
// and index, and a default partition holding the existing rows; all in one
// transaction (PostgreSQL's DDL is transactional), under an exclusive lock
// so that two servers starting at once convert it once.
func (db *DB) partitionAuthEvents(ctx context.Context) (bool, error) {
	converted := false
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		converted = false
		if _, err := tx.Exec(ctx, `LOCK TABLE auth_events IN ACCESS EXCLUSIVE MODE`); err != nil {
			return err
		}
		var kind string
		if err := tx.QueryRow(ctx, `SELECT relkind::TEXT FROM pg_class WHERE oid = 'auth_events'::regclass`).Scan(&kind); err != nil {
			return err
		}
		if kind == "p" {
			return nil
		}
		for _, stmt := range []string{
			`ALTER TABLE auth_events RENAME TO auth_events_unpartitioned`,
			`ALTER TABLE auth_events_unpartitioned RENAME CONSTRAINT auth_events_pkey TO auth_events_unpartitioned_pkey`,
			`ALTER INDEX auth_events_unpublished_idx RENAME TO auth_events_unpartitioned_unpublished_idx`,
			`CREATE TABLE auth_events (LIKE auth_events_unpartitioned INCLUDING DEFAULTS) PARTITION BY RANGE (occurred_at)`,
			`ALTER TABLE auth_events ADD CONSTRAINT auth_events_pkey PRIMARY KEY (user_id, occurred_at, id)`,
			`CREATE INDEX auth_events_unpublished_idx ON auth_events (home_region, occurred_at, id) WHERE published_at IS NULL`,
			`CREATE TABLE ` + eventPartitionDefault + ` PARTITION OF auth_events DEFAULT`,
			`INSERT INTO auth_events SELECT * FROM auth_events_unpartitioned`,
			`DROP TABLE auth_events_unpartitioned`,
		} {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("%s: %w", strings.SplitN(stmt, " (", 2)[0], err)
			}
		}
		converted = true
		return nil
	})
	if err != nil {
		return false, mapError(err)
	}
	return converted, nil
}

// eventPartitions lists the days that have a partition, oldest first.
func (db *DB) eventPartitions(ctx context.Context) ([]time.Time, error) {
	rows, err := db.pool.Query(ctx, `SELECT c.relname::TEXT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'auth_events'::regclass`)
	if err != nil {
		return nil, fmt.Errorf("store: list partitions: %w", mapError(err))
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: list partitions: %w", mapError(err))
	}
	var days []time.Time
	for _, n := range names {
		d, err := time.Parse(eventPartitionLayout, strings.TrimPrefix(n, eventPartitionPrefix))
		if err != nil || !strings.HasPrefix(n, eventPartitionPrefix) {
			continue // the default partition
		}
		days = append(days, d)
	}
	slices.SortFunc(days, func(a, b time.Time) int { return a.Compare(b) })
	return days, nil
}

// createEventPartition makes day's partition: a table like auth_events,
// filled with the day's rows from the default partition, then attached
// (the attach checks the bounds and builds the indexes), in one
// transaction. A concurrent run that made it first wins: duplicate_table
// is success.
func (db *DB) createEventPartition(ctx context.Context, day time.Time) error {
	name := QuoteIdent(eventPartitionPrefix + day.Format(eventPartitionLayout))
	from, to := day.Format(time.RFC3339), day.AddDate(0, 0, 1).Format(time.RFC3339)
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		for _, stmt := range []string{
			`CREATE TABLE ` + name + ` (LIKE auth_events INCLUDING DEFAULTS)`,
			`WITH moved AS (DELETE FROM ` + eventPartitionDefault + ` WHERE occurred_at >= '` + from + `' AND occurred_at < '` + to + `' RETURNING *)
				INSERT INTO ` + name + ` SELECT * FROM moved`,
			`ALTER TABLE auth_events ATTACH PARTITION ` + name + ` FOR VALUES FROM ('` + from + `') TO ('` + to + `')`,
		} {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && !isDuplicateObject(err) {
		return mapError(err)
	}
	return nil
}
