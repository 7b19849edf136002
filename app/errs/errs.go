// Package errs defines Gatehouse's single error type. Every failure that
// crosses a package boundary is an *Error with a Kind; the HTTP layer maps
// kinds to status codes in one table. Results that are not failures (a wrong
// password, say) are never errors.
package errs

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error by what the caller can do about it.
type Kind uint8

// The kinds of error. KindInternal is the zero value so that an error nobody
// classified is treated as the server's fault.
const (
	KindInternal        Kind = iota // a bug or an unexpected failure
	KindInvalid                     // the request is malformed or breaks a rule
	KindUnauthenticated             // credentials or token missing or wrong
	KindForbidden                   // authenticated but not allowed, or a challenge is due
	KindNotFound                    // no such thing (or not the caller's)
	KindConflict                    // the thing exists already or changed under us
	KindTooLarge                    // the request body is over the limit
	KindRateLimited                 // too many requests; RetryAfter says when to come back
	KindLocked                      // the account is locked for now
	KindUnavailable                 // a dependency is down or capacity is exhausted
)

var kindNames = [...]string{
	KindInternal:        "internal",
	KindInvalid:         "invalid",
	KindUnauthenticated: "unauthenticated",
	KindForbidden:       "forbidden",
	KindNotFound:        "not_found",
	KindConflict:        "conflict",
	KindTooLarge:        "too_large",
	KindRateLimited:     "rate_limited",
	KindLocked:          "locked",
	KindUnavailable:     "unavailable",
}

// String names the kind in snake_case.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Error is Gatehouse's error type.
type Error struct {
	Kind Kind
	// Code is the snake_case code clients see, e.g. "email_taken".
	Code string
	// Message is safe to show to the client; it never holds secrets.
	Message string
	// RetryAfter, when set, becomes the Retry-After header.
	RetryAfter time.Duration
	// Details are extra fields merged into the JSON error body.
	Details map[string]any
	// Err is the underlying cause; it is logged, never shown.
	Err error
}

// Error describes the error with its cause.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// E builds an error of a kind with a client-facing code and message.
func E(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// Wrap builds an error of a kind around a cause.
func Wrap(kind Kind, code, message string, err error) *Error {
	return &Error{Kind: kind, Code: code, Message: message, Err: err}
}

// Invalid is shorthand for a KindInvalid error.
func Invalid(code, message string) *Error { return E(KindInvalid, code, message) }

// Internal wraps an unexpected failure; the client sees only "internal_error".
func Internal(err error) *Error {
	return &Error{Kind: KindInternal, Code: "internal_error", Message: "internal error", Err: err}
}

// As returns the first *Error in err's chain, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// KindOf returns the kind of the first *Error in err's chain, KindInternal
// when there is none.
func KindOf(err error) Kind {
	if e := As(err); e != nil {
		return e.Kind
	}
	return KindInternal
}

// Is reports whether err carries the given kind.
func Is(err error, kind Kind) bool { return err != nil && KindOf(err) == kind }
