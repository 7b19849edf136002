package defense

import (
	"context"
	"fmt"

	"github.com/gatehouse-id/gatehouse/app/ratelimit"
)

// ClearAccount forgets an account's password failures and lifts its lock on
// both lanes (trusted and unknown devices). A completed password reset
// calls it: the owner proved control of the mailbox and set a new password,
// so the failures an attacker earned against the old one no longer count.
func (g *Guard) ClearAccount(ctx context.Context, accountKey string) error {
	if accountKey == "" {
		return nil
	}
	fields := append(ratelimit.LaneFields("t"), ratelimit.LaneFields("u")...)
	if _, err := g.store.Exec(ctx, ratelimit.HDel(g.keys.lanes(g.keys.account("password", accountKey)), fields...)); err != nil {
		return fmt.Errorf("defense: clear account: %w", err)
	}
	return nil
}
