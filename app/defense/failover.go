package defense

import "context"

// Account-protecting limits are decided where the account lives: a login
// for an account homed in another region is forwarded there, and that
// region's Redis holds the one budget of the account. When the home region
// does not answer, the entry region serves the login itself (failover)
// against its own Redis, which knows nothing of the budget spent at home.
// It then applies a budget that can only be stricter: the thresholds of
// unknown devices divided by the number of regions, so that every other
// region serving the account at once still allows fewer guesses together
// than the home region alone. Trusted devices keep their own lane.

type failoverKey struct{}

// WithFailoverBudget marks ctx as a login served for an account whose home
// region is unreachable, in a deployment of regions regions.
func WithFailoverBudget(ctx context.Context, regions int) context.Context {
	if regions <= 1 {
		return ctx
	}
	return context.WithValue(ctx, failoverKey{}, regions)
}

// failoverDivisor is the divisor WithFailoverBudget recorded, or 1.
func failoverDivisor(ctx context.Context) int {
	if n, ok := ctx.Value(failoverKey{}).(int); ok && n > 1 {
		return n
	}
	return 1
}
