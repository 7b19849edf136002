package router

import (
	"sync"
	"time"
)

// Breaker states, as reported by Forwarder.BreakerState.
const (
	BreakerClosed   = "closed"
	BreakerOpen     = "open"
	BreakerHalfOpen = "half_open"
)

// outcome is what one forwarding attempt tells the breaker.
type outcome int

const (
	outcomeSuccess outcome = iota // the home region answered (any status)
	outcomeFailure                // transport failure or timeout
	outcomeNeutral                // says nothing about the region (client gone, …)
)

// breaker is a per-region circuit breaker: threshold consecutive failures
// open it; after coolDown one probe request is let through (half-open); the
// probe's success closes it, its failure opens it for another coolDown.
// While the probe is in flight every other request fails over at once.
type breaker struct {
	threshold int
	coolDown  time.Duration

	mu       sync.Mutex
	state    string
	failures int
	openedAt time.Time
	probing  bool
}

func newBreaker(threshold int, coolDown time.Duration) *breaker {
	return &breaker{threshold: threshold, coolDown: coolDown, state: BreakerClosed}
}

// allow says whether a request may go to the region now. probe is true when
// this request is the half-open probe; its outcome must be recorded.
func (b *breaker) allow(now time.Time) (ok, probe bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case BreakerClosed:
		return true, false
	case BreakerOpen:
		if now.Sub(b.openedAt) < b.coolDown {
			return false, false
		}
		b.state = BreakerHalfOpen
		b.probing = true
		return true, true
	default: // half-open
		if b.probing {
			return false, false
		}
		b.probing = true
		return true, true
	}
}

// record notes an attempt's outcome and returns the new state when it
// changed ("" otherwise).
func (b *breaker) record(now time.Time, o outcome, probe bool) (changed string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
	}
	switch o {
	case outcomeSuccess:
		b.failures = 0
		if b.state != BreakerClosed {
			b.state = BreakerClosed
			return BreakerClosed
		}
	case outcomeFailure:
		switch b.state {
		case BreakerHalfOpen:
			if probe {
				b.state, b.openedAt = BreakerOpen, now
				return BreakerOpen
			}
		case BreakerClosed:
			b.failures++
			if b.failures >= b.threshold {
				b.state, b.openedAt, b.failures = BreakerOpen, now, 0
				return BreakerOpen
			}
		}
	}
	return ""
}

func (b *breaker) current() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}
