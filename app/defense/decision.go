package defense

import (
	"time"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// Action is what a login attempt may do.
type Action int

// Actions. Only ActionAllow and ActionStepUp let the attempt check its credential.
const (
	// ActionAllow: check the credential.
	ActionAllow Action = iota + 1
	// ActionChallenge: answer 403 challenge_required with Decision.Challenge.
	ActionChallenge
	// ActionStepUp: check the credential; when it is right, require the second
	// factor even where it would otherwise be skipped.
	ActionStepUp
	// ActionLock: answer 423 account_locked.
	ActionLock
	// ActionRateLimit: answer 429 rate_limited.
	ActionRateLimit
	// ActionBlock: detection refuses the attempt; answered as 429 rate_limited.
	ActionBlock
)

var actionNames = [...]string{ActionAllow: "allow", ActionChallenge: "challenge", ActionStepUp: "step_up", ActionLock: "lock",
	ActionRateLimit: "rate_limit", ActionBlock: "block"}

// String names the action.
func (a Action) String() string {
	if a > 0 && int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "unknown"
}

// Layer names a defense layer in gatehouse_ratelimit_decisions_total.
type Layer string

// Layers.
const (
	LayerAddress   Layer = "address"
	LayerSubnet    Layer = "subnet"
	LayerGlobal    Layer = "global"
	LayerAccount   Layer = "account"
	LayerChallenge Layer = "challenge"
	LayerDetection Layer = "detection"
	// LayerDevice is a trusted device's own limit.
	LayerDevice Layer = "device"
	// LayerShared is the budget a shared address earned (shared.go).
	LayerShared Layer = "shared_address"
)

// Outcome names a decision in gatehouse_ratelimit_decisions_total.
type Outcome string

// Outcomes.
const (
	OutcomeAllow     Outcome = "allow"
	OutcomeDeny      Outcome = "deny"
	OutcomeChallenge Outcome = "challenge"
	OutcomeStepUp    Outcome = "step_up"
	OutcomeLock      Outcome = "lock"
)

// Observer receives the defense's metrics; the server implements it with
// Prometheus (gatehouse_ratelimit_decisions_total{layer, decision}).
type Observer interface {
	// Decision counts one decision of one layer.
	Decision(layer Layer, outcome Outcome)
	// Fallback reports that limits moved to the in-process fallback (true)
	// or back to the shared Redis (false).
	Fallback(active bool)
}

// Decision is the defense's answer to an attempt.
type Decision struct {
	Action Action
	// Layer is the layer that decided.
	Layer Layer
	// RetryAfter is set for ActionRateLimit, ActionBlock and ActionLock.
	RetryAfter time.Duration
	// Challenge is set for ActionChallenge.
	Challenge *Challenge
	// Reason is a short machine-readable cause, for logs.
	Reason string
	// Risk is the attempt's risk score.
	Risk int
	// Failures is the account lane's failure count after the attempt.
	Failures int
	// Mode is the effective defense mode.
	Mode Mode
	// Shared is false when some answer came from the in-process fallback.
	Shared bool
}

// Proceed reports whether the credential may be checked (ActionAllow,
// ActionStepUp).
func (d Decision) Proceed() bool { return d.Action == ActionAllow || d.Action == ActionStepUp }

// Err is the client-facing error of a refusing decision, nil for
// ActionAllow and ActionStepUp: 429 rate_limited, 423 account_locked (both with RetryAfter) or
// 403 challenge_required with {"challenge": {...}}.
func (d Decision) Err() error {
	switch d.Action {
	case ActionRateLimit, ActionBlock:
		return &errs.Error{Kind: errs.KindRateLimited, Code: "rate_limited",
			Message: "too many attempts; try again later", RetryAfter: retryAfter(d.RetryAfter)}
	case ActionLock:
		return &errs.Error{Kind: errs.KindLocked, Code: "account_locked",
			Message: "too many failed attempts; try again later", RetryAfter: retryAfter(d.RetryAfter)}
	case ActionChallenge:
		return &errs.Error{Kind: errs.KindForbidden, Code: "challenge_required",
			Message: "solve the challenge and try again", Details: map[string]any{"challenge": d.Challenge}}
	default:
		return nil
	}
}

// retryAfter rounds up to whole seconds (Retry-After has no fractions).
func retryAfter(d time.Duration) time.Duration {
	return max(time.Second, (d+time.Second-1)/time.Second*time.Second)
}

// nopObserver drops everything.
type nopObserver struct{}

func (nopObserver) Decision(Layer, Outcome) {}
func (nopObserver) Fallback(bool)           {}
