package breach

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// stubChecker answers a fixed count or error.
type stubChecker struct {
	n   int
	err error
}

func (s stubChecker) Breached(context.Context, string) (int, error) { return s.n, s.err }

func TestPolicyRefuse(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		p       Policy
		n       int
		refused bool
		msg     string
	}{
		{Policy{}, 0, false, ""},
		{Policy{}, 1, true, "this password appears in 1 known data breach; choose another"},
		{Policy{}, 42, true, "this password appears in 42 known data breaches; choose another"},
		{Policy{Threshold: 10}, 9, false, ""},
		{Policy{Threshold: 10}, 10, true, "this password appears in 10 known data breaches; choose another"},
	} {
		err := tc.p.Refuse(ctx, stubChecker{n: tc.n}, "x")
		if !tc.refused {
			if err != nil {
				t.Errorf("threshold %d count %d: %v", tc.p.Threshold, tc.n, err)
			}
			continue
		}
		e := errs.As(err)
		if e == nil || e.Kind != errs.KindInvalid || e.Code != CodePasswordBreached || e.Message != tc.msg || e.Details["breach_count"] != tc.n {
			t.Errorf("threshold %d count %d: %#v", tc.p.Threshold, tc.n, e)
		}
	}
}

func TestPolicyFailOpenAndClosed(t *testing.T) {
	ctx := context.Background()
	down := stubChecker{err: unavailable(errors.New("boom"))}
	log, buf := logBuffer()
	if err := (Policy{Logger: log}).Refuse(ctx, down, "x"); err != nil {
		t.Fatalf("fail-open: %v", err)
	}
	if !strings.Contains(buf.String(), `"level":"WARN"`) {
		t.Fatalf("no warning logged: %q", buf.String())
	}
	if err := (Policy{}).Refuse(ctx, down, "x"); err != nil {
		t.Fatalf("fail-open without logger: %v", err)
	}
	err := (Policy{FailClosed: true}).Refuse(ctx, stubChecker{err: errors.New("plain")}, "x")
	if e := errs.As(err); e == nil || e.Kind != errs.KindUnavailable || e.Code != CodeUnavailable {
		t.Fatalf("fail-closed: %v", err)
	}
	// A cancelled request is never passed, even fail-open.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := (Policy{}).Refuse(cctx, stubChecker{err: context.Canceled}, "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
