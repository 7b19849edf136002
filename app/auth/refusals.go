package auth

import (
	"sync"
	"time"
)

// refusalEventsPerSecond bounds the login.rate_limited events one server
// appends to the audit trail. A refusal by the limits changes nothing and
// costs the server a few Redis round trips; writing a row for each one
// would make a stuffing burst (thousands of refusals a second) cost the
// database as much as the attack costs Redis, on the same machines that
// serve real users. Beyond the bound, refusals are counted into the next
// event that is written (its "refusals" detail), so the trail still says
// when the limiter tripped and how hard; gatehouse_login_attempts_total
// counts every one.
const refusalEventsPerSecond = 50

// refusalSampler lets through at most perSecond events a second and counts
// the rest into the next one let through. It is safe for concurrent use.
type refusalSampler struct {
	perSecond int

	mu         sync.Mutex
	second     int64 // unix second of the current window
	sent       int   // events let through in it
	suppressed int   // refusals not written since the last event
}

// admit reports whether a refusal at now is written, and if so how many
// refusals (this one included) the event stands for.
func (r *refusalSampler) admit(now time.Time) (ok bool, refusals int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sec := now.Unix(); sec != r.second {
		r.second, r.sent = sec, 0
	}
	if r.sent >= r.perSecond {
		r.suppressed++
		return false, 0
	}
	r.sent++
	refusals, r.suppressed = r.suppressed+1, 0
	return true, refusals
}
