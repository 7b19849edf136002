package httpapi

import (
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// FuzzParseEventQuery: any limit and before parameters either parse into
// a limit of 1 to 200 and a time, or are refused as invalid_request.
func FuzzParseEventQuery(f *testing.F) {
	f.Add("50", "2026-05-01T10:00:00Z")
	f.Add("", "")
	f.Add("0", "")
	f.Add("201", "yesterday")
	f.Add("-1", "2026-05-01T10:00:00.123456789+02:00")
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, limit, before string) {
		n, at, err := parseEventQuery(limit, before, now)
		if err != nil {
			if e := errs.As(err); e == nil || e.Kind != errs.KindInvalid || e.Code != "invalid_request" {
				t.Fatalf("%q %q: %v, want invalid_request", limit, before, err)
			}
			return
		}
		if n < 1 || n > 200 || at.IsZero() {
			t.Fatalf("%q %q: limit %d, before %v", limit, before, n, at)
		}
		if limit == "" && n != 50 || before == "" && !at.Equal(now) {
			t.Fatalf("defaults: %d %v", n, at)
		}
	})
}
