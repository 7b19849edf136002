package store

import (
	"context"
	"errors"
	"net"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// Sentinel errors the store returns, wrapped in *errs.Error so that callers
// can test either the kind or the exact sentinel with errors.Is.
var (
	// ErrNotFound: no row matched.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a unique constraint refused the write.
	ErrConflict = errors.New("store: unique constraint violated")
	// ErrUnavailable: the database could not be reached or is overloaded.
	ErrUnavailable = errors.New("store: database unavailable")
	// ErrInvalid: the database refused a value (constraint or data error).
	ErrInvalid = errors.New("store: value refused by the database")
	// ErrRetry: a serialization conflict that outlived every retry.
	ErrRetry = errors.New("store: serialization conflict persisted")
)

// isRetryable reports whether err is a serialization failure (SQLSTATE
// 40001), the one error a transaction is retried for.
func isRetryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "CR000")
}

// mapError turns a pgx error into a Gatehouse error. It is the one place
// that knows SQLSTATE codes.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	if errs.As(err) != nil {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return errs.Wrap(errs.KindNotFound, "not_found", "not found", errors.Join(ErrNotFound, err))
	}
	if errors.Is(err, errFreshTx) {
		return errs.Wrap(errs.KindUnavailable, "database_busy", "the database is busy; retry", errors.Join(ErrRetry, err))
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errs.Wrap(errs.KindUnavailable, "database_unavailable", "the database did not answer in time", errors.Join(ErrUnavailable, err))
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch code := pgErr.Code; {
		case code == "23505": // unique_violation
			return errs.Wrap(errs.KindConflict, "conflict", "already exists", errors.Join(ErrConflict, err))
		case code == "40001" || code == "CR000": // serialization_failure
			return errs.Wrap(errs.KindUnavailable, "database_busy", "the database is busy; retry", errors.Join(ErrRetry, err))
		case code == "23502", code == "23503", code == "23514", len(code) == 5 && code[:2] == "22":
			// not_null, foreign_key, check violations and data exceptions
			return errs.Wrap(errs.KindInvalid, "invalid_value", "a value was refused", errors.Join(ErrInvalid, err))
		case code == "53300", code == "57P01", code == "57P03", len(code) == 5 && code[:2] == "08":
			// too many connections, shutdown, cannot connect now, connection exceptions
			return errs.Wrap(errs.KindUnavailable, "database_unavailable", "the database is unavailable", errors.Join(ErrUnavailable, err))
		}
		return errs.Internal(err)
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	if errors.As(err, &netErr) || errors.As(err, &connectErr) || pgconn.SafeToRetry(err) {
		return errs.Wrap(errs.KindUnavailable, "database_unavailable", "the database is unavailable", errors.Join(ErrUnavailable, err))
	}
	return errs.Internal(err)
}

// uniqueViolation reports whether err is a unique violation (SQLSTATE
// 23505) and returns the server's error so the caller can tell which key
// refused the write (ConstraintName on PostgreSQL, Message on both).
func uniqueViolation(err error) (*pgconn.PgError, bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return pgErr, true
	}
	return nil, false
}

// conflictError is a unique violation reported with a code that names the
// key, e.g. "email_taken", instead of mapError's generic "conflict". It keeps
// ErrConflict and the driver error in the chain.
func conflictError(code, message string, err error) error {
	return errs.Wrap(errs.KindConflict, code, message, errors.Join(ErrConflict, err))
}
