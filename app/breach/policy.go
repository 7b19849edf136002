package breach

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// Policy decides whether a new password is refused for appearing in
// breaches. The zero value refuses any password seen at least once and
// fails open.
//
// Failing open is the default because the breach check is one of several
// screens on a new password: when the corpus cannot be consulted (endpoint
// down, file missing), the length rules and the common-password blocklist
// of package password still apply, and refusing every sign-up and password
// change while a third-party API is down would be an outage of our own.
// Each such pass is logged as a warning. Set FailClosed where policy
// demands the check.
type Policy struct {
	// Threshold is the count at which a password is refused; <= 0 means 1.
	Threshold int
	// FailClosed makes Refuse return the checker's error (KindUnavailable)
	// instead of passing the password.
	FailClosed bool
	// Logger receives the fail-open warning; nil discards it.
	Logger *slog.Logger
}

// Refuse returns nil when password may be used and otherwise an
// *errs.Error: KindInvalid with CodePasswordBreached when checker counts it
// at least Threshold times (Details["breach_count"] holds the count), or,
// with FailClosed, KindUnavailable with CodeUnavailable when checker fails.
// A cancelled or expired ctx is always returned as an error, never passed.
// Pass the password as it will be hashed (normalised).
func (p Policy) Refuse(ctx context.Context, checker Checker, password string) error {
	n, err := checker.Breached(ctx, password)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return unavailable(fmt.Errorf("breach: %w", ctxErr))
		}
		if p.FailClosed {
			return unavailable(err)
		}
		log := p.Logger
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		log.WarnContext(ctx, "breach: check unavailable; accepting password unchecked (fail-open)", "err", err)
		return nil
	}
	threshold := p.Threshold
	if threshold <= 0 {
		threshold = 1
	}
	if n < threshold {
		return nil
	}
	noun := "breaches"
	if n == 1 {
		noun = "breach"
	}
	e := errs.E(errs.KindInvalid, CodePasswordBreached,
		fmt.Sprintf("this password appears in %d known data %s; choose another", n, noun))
	e.Details = map[string]any{"breach_count": n}
	return e
}
