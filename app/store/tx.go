package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/cockroachdb/cockroach-go/v2/crdb"
	"github.com/cockroachdb/cockroach-go/v2/crdb/crdbpgxv5"
	"github.com/jackc/pgx/v5"
)

// maxTxAttempts bounds how often inTx starts a fresh transaction after a
// serialization failure. Rows are per user, so real contention is rare; the
// bound is for the pathological hot row, where waiters must desynchronise.
const maxTxAttempts = 30

// serializable is the isolation every read-write transaction uses, on
// PostgreSQL as on CockroachDB.
var serializable = pgx.TxOptions{IsoLevel: pgx.Serializable}

// inTx runs fn in one SERIALIZABLE transaction and retries it on SQLSTATE
// 40001. fn may run several times, so it must do nothing but database work:
// no Redis, Vault or HTTP calls inside it.
//
// crdbpgx.ExecuteTx retries inside the transaction with CockroachDB's
// SAVEPOINT cockroach_restart protocol, where RELEASE is the commit; it
// ignores the error of the final COMMIT. On PostgreSQL that COMMIT is where
// serializable conflicts are often reported, so inTx records it (through
// txConn) and starts a fresh transaction instead of losing the write.
// On PostgreSQL a failed serializable transaction cannot recover inside a
// savepoint either: it must start again from a fresh snapshot. So there the
// transaction skips the SAVEPOINT cockroach_restart protocol (two round
// trips of every transaction) and answers crdb's ROLLBACK TO SAVEPOINT with
// errFreshTx, which ends the attempt; inTx then starts a new transaction.
// On CockroachDB the protocol runs unchanged.
//
// fn's transaction (a pipeTx) sends BEGIN with fn's first statement, and fn
// can send its last ones with the commit through commitWith.
func (db *DB) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	txCtx := ctx
	if !db.cockroach {
		txCtx = crdb.WithMaxRetries(ctx, 1)
	}
	var err error
	for attempt := 1; attempt <= maxTxAttempts; attempt++ {
		var commitErr error
		conn := txConn{pool: db.pool, commitErr: &commitErr, postgres: !db.cockroach}
		err = crdbpgx.ExecuteTx(txCtx, conn, serializable, fn)
		if err == nil {
			err = commitErr
		}
		if err == nil || !(isRetryable(err) || errors.Is(err, errFreshTx)) {
			break
		}
		db.logger.DebugContext(ctx, "store: serialization conflict, retrying transaction", "attempt", attempt)
		if werr := sleepCtx(ctx, backoff(attempt)); werr != nil {
			return fmt.Errorf("store: transaction: %w", werr)
		}
	}
	if err != nil {
		return mapError(err)
	}
	return nil
}

// backoff is a growing pause between attempts, capped at 50 ms and fully
// jittered (anywhere from zero to twice the base) so that transactions
// that collided do not collide again in step.
func backoff(attempt int) time.Duration {
	base := min(time.Duration(attempt*attempt)*time.Millisecond, 50*time.Millisecond)
	return time.Duration(rand.Int64N(2*int64(base) + 1))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
