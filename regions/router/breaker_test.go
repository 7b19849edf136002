package router

import (
	"testing"
	"time"
)

func TestBreakerHalfOpenLetsOneProbe(t *testing.T) {
	b := newBreaker(2, time.Second)
	now := time.Unix(0, 0)
	b.record(now, outcomeFailure, false)
	b.record(now, outcomeSuccess, false) // a success resets the count
	b.record(now, outcomeFailure, false)
	if b.current() != BreakerClosed {
		t.Fatal("opened on non-consecutive failures")
	}
	if b.record(now, outcomeFailure, false) != BreakerOpen {
		t.Fatal("not opened after 2 consecutive failures")
	}
	if ok, _ := b.allow(now.Add(999 * time.Millisecond)); ok {
		t.Fatal("allowed during the cool-down")
	}
	later := now.Add(time.Second)
	ok, probe := b.allow(later)
	if !ok || !probe || b.current() != BreakerHalfOpen {
		t.Fatal("no probe after the cool-down")
	}
	if ok, _ := b.allow(later); ok {
		t.Fatal("second request let through while probing")
	}
	b.record(later, outcomeNeutral, true) // probe abandoned: the next request probes
	if ok, probe := b.allow(later); !ok || !probe {
		t.Fatal("no new probe after an abandoned one")
	}
	if b.record(later, outcomeSuccess, true) != BreakerClosed {
		t.Fatal("good probe did not close")
	}
}
