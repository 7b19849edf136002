package store

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/store/storetest"
)

// roundTrips counts what a connection sends: every query outside a batch
// and every batch is one round trip to the server.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// tracedDB is a store on one connection whose round trips are counted, with
// a table t (k TEXT PRIMARY KEY, n INT8).
func tracedDB(t *testing.T, cockroachProtocol bool) (*DB, *roundTrips) {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(storetest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	trips := &roundTrips{}
	cfg.MaxConns = 1
	cfg.ConnConfig.Tracer = trips
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := pool.Exec(ctx, `CREATE TABLE t (k TEXT PRIMARY KEY, n INT8 NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	// cockroach selects CockroachDB's SAVEPOINT cockroach_restart protocol,
	// whose statements PostgreSQL runs as well.
	return &DB{pool: pool, logger: slog.New(slog.DiscardHandler), cockroach: cockroachProtocol}, trips
}

// count runs fn in inTx twice (the first run fills the connection's
// statement cache) and returns the round trips of the second.
func count(t *testing.T, db *DB, trips *roundTrips, fn func(context.Context, pgx.Tx, int) error) int64 {
	t.Helper()
	ctx := context.Background()
	var before int64
	for run := range 2 {
		before = trips.n.Load()
		if err := db.inTx(ctx, func(tx pgx.Tx) error { return fn(ctx, tx, run) }); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
	}
	return trips.n.Load() - before
}

func value(t *testing.T, db *DB, k string) (int64, bool) {
	t.Helper()
	var n int64
	err := db.pool.QueryRow(context.Background(), `SELECT n FROM t WHERE k = $1`, k).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return n, true
}

func TestTransactionsSpendNoRoundTripOnBeginOrCommit(t *testing.T) {
	for _, cockroach := range []bool{false, true} {
		name := map[bool]string{false: "postgres", true: "cockroach protocol"}[cockroach]
		t.Run(name, func(t *testing.T) {
			db, trips := tracedDB(t, cockroach)
			// Writes only: BEGIN, both inserts and COMMIT in one batch.
			got := count(t, db, trips, func(ctx context.Context, tx pgx.Tx, run int) error {
				b := &pgx.Batch{}
				b.Queue(`INSERT INTO t VALUES ($1, 1)`, name+"-a"+string(rune('0'+run)))
				b.Queue(`INSERT INTO t VALUES ($1, 2)`, name+"-b"+string(rune('0'+run)))
				return commitWith(ctx, tx, b)
			})
			if got != 1 {
				t.Errorf("a batch with its commit took %d round trips, want 1", got)
			}
			if n, ok := value(t, db, name+"-b1"); !ok || n != 2 {
				t.Errorf("second insert: %d, %v; want committed", n, ok)
			}

			// Read, then write with the commit: two.
			got = count(t, db, trips, func(ctx context.Context, tx pgx.Tx, _ int) error {
				var n int64
				if err := tx.QueryRow(ctx, `SELECT n FROM t WHERE k = $1 FOR UPDATE`, name+"-a0").Scan(&n); err != nil {
					return err
				}
				b := &pgx.Batch{}
				b.Queue(`UPDATE t SET n = $2 WHERE k = $1`, name+"-a0", n+10)
				return commitWith(ctx, tx, b)
			})
			if got != 2 {
				t.Errorf("read then write-and-commit took %d round trips, want 2", got)
			}
			if n, _ := value(t, db, name+"-a0"); n != 21 {
				t.Errorf("after two read-modify-writes n = %d, want 21", n)
			}

			// Without commitWith the commit is a round trip of its own (and on
			// CockroachDB the RELEASE before it).
			want := int64(3)
			if cockroach {
				want = 4
			}
			got = count(t, db, trips, func(ctx context.Context, tx pgx.Tx, _ int) error {
				var n int64
				if err := tx.QueryRow(ctx, `SELECT n FROM t WHERE k = $1`, name+"-a0").Scan(&n); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `UPDATE t SET n = $2 WHERE k = $1`, name+"-a0", n+1)
				return err
			})
			if got != want {
				t.Errorf("read, write, commit took %d round trips, want %d", got, want)
			}
			if n, _ := value(t, db, name+"-a0"); n != 23 {
				t.Errorf("n = %d, want 23", n)
			}

			// A transaction that sends nothing costs nothing.
			if got := count(t, db, trips, func(context.Context, pgx.Tx, int) error { return nil }); got != 0 {
				t.Errorf("an empty transaction took %d round trips", got)
			}
		})
	}
}

func TestFailedTransactionsRollBackAndGiveTheConnectionBack(t *testing.T) {
	for _, cockroach := range []bool{false, true} {
		db, _ := tracedDB(t, cockroach)
		ctx := context.Background()
		if _, err := db.pool.Exec(ctx, `INSERT INTO t VALUES ('taken', 1)`); err != nil {
			t.Fatal(err)
		}
		// The first batch fails: nothing of it stays.
		err := db.inTx(ctx, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			b.Queue(`INSERT INTO t VALUES ('new', 1)`)
			b.Queue(`INSERT INTO t VALUES ('taken', 2)`)
			return commitWith(ctx, tx, b)
		})
		if !errs.Is(err, errs.KindConflict) {
			t.Errorf("cockroach=%v: duplicate key: got %v, want a conflict", cockroach, err)
		}
		// The closure fails after a statement: rolled back.
		boom := errors.New("boom")
		err = db.inTx(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO t VALUES ('later', 1)`); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Errorf("cockroach=%v: got %v, want the closure's error", cockroach, err)
		}
		// A statement fails after others succeeded, the closure goes on
		// regardless: its commit must not keep the first insert.
		_ = db.inTx(ctx, func(tx pgx.Tx) error {
			_, _ = tx.Exec(ctx, `INSERT INTO t VALUES ('half', 1)`)
			_, _ = tx.Exec(ctx, `INSERT INTO t VALUES ('taken', 3)`)
			return nil
		})
		for _, k := range []string{"new", "later", "half"} {
			if _, ok := value(t, db, k); ok {
				t.Errorf("cockroach=%v: row %q of a failed transaction was kept", cockroach, k)
			}
		}
		if n, _ := value(t, db, "taken"); n != 1 {
			t.Errorf("cockroach=%v: taken = %d, want 1", cockroach, n)
		}
		// One connection in all: had any transaction kept it, this would block.
		if st := db.pool.Stat(); st.AcquiredConns() != 0 {
			t.Errorf("cockroach=%v: %d connections still taken", cockroach, st.AcquiredConns())
		}
		if err := db.inTx(ctx, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			b.Queue(`INSERT INTO t VALUES ('after', 1)`)
			return commitWith(ctx, tx, b)
		}); err != nil {
			t.Errorf("cockroach=%v: a transaction after the failures: %v", cockroach, err)
		}
	}
}

// Writers read a counter and write it back plus one with commitWith, so
// that PostgreSQL reports their serialization failures in the batch that
// carries the COMMIT. Every increment must still land exactly once.
func TestCommitWithRetriesSerializationFailuresWithoutLosingWrites(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, storetest.NewDatabase(t), Options{MaxConns: 25})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.pool.Exec(ctx, `CREATE TABLE t (k TEXT PRIMARY KEY, n INT8 NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, `INSERT INTO t VALUES ('c', 0)`); err != nil {
		t.Fatal(err)
	}
	const writers, each = 20, 5
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				err := db.inTx(ctx, func(tx pgx.Tx) error {
					var n int64
					if err := tx.QueryRow(ctx, `SELECT n FROM t WHERE k = 'c'`).Scan(&n); err != nil {
						return err
					}
					b := &pgx.Batch{}
					b.Queue(`UPDATE t SET n = $1 WHERE k = 'c'`, n+1)
					return commitWith(ctx, tx, b)
				})
				if err != nil {
					failed.Add(1)
					t.Logf("transaction failed: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if n, _ := value(t, db, "c"); n != writers*each-failed.Load() || failed.Load() != 0 {
		t.Errorf("counter = %d with %d failed transactions, want %d and none failed", n, failed.Load(), writers*each)
	}
	if st := db.pool.Stat(); st.AcquiredConns() != 0 {
		t.Errorf("%d connections still taken", st.AcquiredConns())
	}
}
