package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// txConn is the crdbpgx.Conn inTx runs its transactions on: it hands out
// pipeTx transactions on a connection of the pool.
type txConn struct {
	pool *pgxpool.Pool
	// commitErr receives the error of a COMMIT that crdb.ExecuteInTx would
	// ignore (see inTx).
	commitErr *error
	// postgres: skip CockroachDB's client-side retry protocol (see inTx).
	postgres bool
}

// Begin begins a transaction with the server's default options.
func (c txConn) Begin(ctx context.Context) (pgx.Tx, error) {
	return c.BeginTx(ctx, pgx.TxOptions{})
}

// BeginTx takes a connection from the pool for a transaction with opts.
// Nothing is sent yet: BEGIN goes out with the first statement.
func (c txConn) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	conn, err := c.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return &pipeTx{conn: conn, opts: opts, postgres: c.postgres, commitErr: c.commitErr}, nil
}

// pipeTx is the pgx.Tx of inTx's closures. It spends no round trip of its
// own on transaction control:
//   - BEGIN, and on CockroachDB the SAVEPOINT cockroach_restart that
//     crdb.ExecuteInTx sets next, go out in front of the transaction's
//     first statement, through pgx's Batch.BeginTx;
//   - commitWith sends a transaction's last statements with COMMIT (on
//     CockroachDB RELEASE SAVEPOINT cockroach_restart and COMMIT) behind
//     them.
//
// Storing a new session is then one round trip instead of four, and a
// refresh-token rotation two instead of four. On a loopback connection a
// round trip costs more CPU, in the server and in the database, than the
// statements of these transactions do.
//
// On PostgreSQL it also stands in for CockroachDB's retry protocol, as inTx
// describes, and records the error of a final COMMIT.
type pipeTx struct {
	conn      *pgxpool.Conn
	opts      pgx.TxOptions
	postgres  bool
	commitErr *error
	// tx is the begun transaction; nil while nothing was sent.
	tx pgx.Tx
	// prefix holds statements that follow BEGIN with the first statement.
	prefix []string
	// committed: commitWith's batch, COMMIT included, succeeded.
	committed bool
	released  bool
}

// errFreshTx ends a PostgreSQL attempt that needs a new transaction.
var errFreshTx = errors.New("store: serialization failure: retry in a fresh transaction")

// The statements of CockroachDB's client-side retry protocol, as
// crdb.ExecuteInTx sends them.
const (
	savepointSQL         = "SAVEPOINT cockroach_restart"
	releaseSavepointSQL  = "RELEASE SAVEPOINT cockroach_restart"
	rollbackSavepointSQL = "ROLLBACK TO SAVEPOINT cockroach_restart"
)

// commitWith sends b as the last statements of tx, the transaction inTx
// handed its closure, with the commit in the same round trip. The closure
// must return commitWith's error and do nothing after it: once it returned
// nil, the transaction is committed. Outside inTx it sends b on tx.
func commitWith(ctx context.Context, tx pgx.Tx, b *pgx.Batch) error {
	if p, ok := tx.(*pipeTx); ok {
		return p.sendFinal(ctx, b)
	}
	return tx.SendBatch(ctx, b).Close()
}

// sendFirst sends BEGIN, the prefix and then b's statements as one batch,
// and returns b's results: those of BEGIN and the prefix are read already.
func (t *pipeTx) sendFirst(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	first := &pgx.Batch{}
	first.BeginTx(t.opts)
	for _, sql := range t.prefix {
		first.Queue(sql)
	}
	first.QueuedQueries = append(first.QueuedQueries, b.QueuedQueries...)
	br := t.conn.SendBatch(ctx, first)
	t.tx = br.Tx()
	for range 1 + len(t.prefix) {
		if _, err := br.Exec(); err != nil {
			break // every later read reports it too
		}
	}
	t.prefix = nil
	return br
}

// begin sends BEGIN and the prefix on their own, for the calls that cannot
// ride in a batch.
func (t *pipeTx) begin(ctx context.Context) error {
	if t.tx != nil {
		return nil
	}
	return t.sendFirst(ctx, &pgx.Batch{}).Close()
}

// sendFinal sends b with the commit behind it.
func (t *pipeTx) sendFinal(ctx context.Context, b *pgx.Batch) error {
	if t.committed {
		return pgx.ErrTxClosed
	}
	final := &pgx.Batch{QueuedQueries: append([]*pgx.QueuedQuery(nil), b.QueuedQueries...)}
	if !t.postgres {
		final.Queue(releaseSavepointSQL)
	}
	final.Queue("COMMIT").Exec(func(tag pgconn.CommandTag) error {
		if tag.String() == "ROLLBACK" {
			return pgx.ErrTxCommitRollback
		}
		return nil
	})
	var br pgx.BatchResults
	if t.tx == nil {
		br = t.sendFirst(ctx, final)
	} else {
		br = t.tx.SendBatch(ctx, final)
	}
	if err := br.Close(); err != nil {
		return err
	}
	t.committed = true
	return nil
}

// Exec runs one statement. The statements of CockroachDB's retry protocol
// are held back (SAVEPOINT, until the first statement), answered (RELEASE
// after commitWith; on PostgreSQL always), or end the attempt (ROLLBACK TO
// SAVEPOINT on PostgreSQL).
func (t *pipeTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	switch {
	case t.postgres && (sql == savepointSQL || sql == releaseSavepointSQL):
		return pgconn.CommandTag{}, nil
	case t.postgres && sql == rollbackSavepointSQL:
		return pgconn.CommandTag{}, errFreshTx
	case sql == savepointSQL && t.tx == nil:
		t.prefix = append(t.prefix, sql)
		return pgconn.CommandTag{}, nil
	case sql == releaseSavepointSQL && (t.committed || t.tx == nil):
		return pgconn.CommandTag{}, nil
	}
	if t.committed {
		return pgconn.CommandTag{}, pgx.ErrTxClosed
	}
	if t.tx != nil {
		return t.tx.Exec(ctx, sql, args...)
	}
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	br := t.sendFirst(ctx, b)
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// QueryRow runs a query that returns at most one row; as the transaction's
// first statement it goes out with BEGIN.
func (t *pipeTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if t.committed {
		return errRow{pgx.ErrTxClosed}
	}
	if t.tx != nil {
		return t.tx.QueryRow(ctx, sql, args...)
	}
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	return batchRow{br: t.sendFirst(ctx, b)}
}

// SendBatch sends b; as the transaction's first statements they go out
// with BEGIN.
func (t *pipeTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if t.committed {
		return pgx.FailedBatchResults(b, pgx.ErrTxClosed)
	}
	if t.tx != nil {
		return t.tx.SendBatch(ctx, b)
	}
	return t.sendFirst(ctx, b)
}

// Query runs a query; as the first statement it waits for BEGIN first.
func (t *pipeTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := t.usable(ctx); err != nil {
		return nil, err
	}
	return t.tx.Query(ctx, sql, args...)
}

// CopyFrom copies rows into a table within the transaction.
func (t *pipeTx) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	if err := t.usable(ctx); err != nil {
		return 0, err
	}
	return t.tx.CopyFrom(ctx, table, columns, src)
}

// Prepare prepares a statement on the transaction's connection.
func (t *pipeTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	if err := t.usable(ctx); err != nil {
		return nil, err
	}
	return t.tx.Prepare(ctx, name, sql)
}

// Begin starts a nested transaction (a savepoint).
func (t *pipeTx) Begin(ctx context.Context) (pgx.Tx, error) {
	if err := t.usable(ctx); err != nil {
		return nil, err
	}
	return t.tx.Begin(ctx)
}

// LargeObjects is not available in inTx's transactions: nothing here
// stores large objects, and it could not begin the transaction without a
// context. It panics.
func (t *pipeTx) LargeObjects() pgx.LargeObjects {
	panic("store: large objects are not supported in inTx transactions")
}

// Conn returns the transaction's connection.
func (t *pipeTx) Conn() *pgx.Conn { return t.conn.Conn() }

// usable begins the transaction if it was not yet, and refuses a committed
// one.
func (t *pipeTx) usable(ctx context.Context) error {
	if t.committed {
		return pgx.ErrTxClosed
	}
	return t.begin(ctx)
}

// Commit commits the transaction, unless commitWith did or nothing was
// sent, and gives the connection back. Its error is recorded for inTx.
func (t *pipeTx) Commit(ctx context.Context) error {
	defer t.release()
	if t.committed || t.tx == nil {
		return nil
	}
	err := t.tx.Commit(ctx)
	if err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		*t.commitErr = err
	}
	return err
}

// Rollback rolls the transaction back, unless it is over already, and
// gives the connection back.
func (t *pipeTx) Rollback(ctx context.Context) error {
	defer t.release()
	if t.released || t.committed || t.tx == nil || t.conn.Conn().PgConn().TxStatus() == 'I' {
		return nil
	}
	return t.tx.Rollback(ctx)
}

// release gives the connection back to the pool, once. The pool closes a
// connection that is still inside a transaction rather than reuse it.
func (t *pipeTx) release() {
	if !t.released {
		t.released = true
		t.conn.Release()
	}
}

// batchRow is the row of a one-query batch: Scan reads it and closes the
// batch.
type batchRow struct{ br pgx.BatchResults }

func (r batchRow) Scan(dest ...any) error {
	err := r.br.QueryRow().Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

// errRow is a row that reports err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
