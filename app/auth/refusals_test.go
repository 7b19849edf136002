package auth

import (
	"testing"
	"time"
)

// A flood of refusals writes at most perSecond events a second, and the
// refusals it does not write are counted into the next event written.
func TestRefusalSamplerBoundsEventsAndCountsTheRest(t *testing.T) {
	r := &refusalSampler{perSecond: 3}
	t0 := time.Unix(1_800_000_000, 0)
	var written, standsFor int
	for i := range 1000 {
		if ok, n := r.admit(t0.Add(time.Duration(i) * time.Millisecond)); ok {
			written++
			standsFor += n
		}
	}
	if written != 3 {
		t.Fatalf("1,000 refusals in one second wrote %d events, want 3", written)
	}
	ok, n := r.admit(t0.Add(time.Second))
	if !ok || standsFor+n != 1001 {
		t.Fatalf("next second: ok=%v, events stand for %d+%d refusals, want 1001 in all", ok, standsFor, n)
	}
	if ok, n := r.admit(t0.Add(time.Second + time.Millisecond)); !ok || n != 1 {
		t.Fatalf("a refusal right after an event stands for itself: ok=%v n=%d", ok, n)
	}
}
