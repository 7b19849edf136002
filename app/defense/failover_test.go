package defense

import (
	"context"
	"testing"
	"time"
)

// A region serving an account whose home region is down locks it after a
// third of the failures (three regions): its budget is only ever stricter.
func TestFailoverBudgetIsStricter(t *testing.T) {
	rdb := testRedis(t, testRedisURL)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	g := newGuard(t, testConfig(t), rdb, &recorder{}, clock.Now)
	failures := func(ctx context.Context, acct string) int {
		for i := range 40 {
			a := Attempt{IP: ip4(1, i, 1), AccountKey: acct}
			d, err := g.Check(ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			switch d.Action {
			case ActionLock:
				return i
			case ActionChallenge:
				sol, err := SolveChallenge(ctx, d.Challenge)
				if err != nil {
					t.Fatal(err)
				}
				a.Challenge = &sol
				if d, err = g.Check(ctx, a); err != nil {
					t.Fatal(err)
				}
				if d.Action == ActionLock {
					return i
				}
			}
			if d.Proceed() {
				if err := g.Record(ctx, a, false); err != nil {
					t.Fatal(err)
				}
			}
			clock.Advance(time.Second)
		}
		return 40
	}
	home := failures(context.Background(), account(1))
	away := failures(WithFailoverBudget(context.Background(), 3), account(2))
	if home != 20 || away != 20/3 {
		t.Fatalf("failures before the lock: home region %d, failover %d; want 20 and %d", home, away, 20/3)
	}
}
