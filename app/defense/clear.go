package defense

import (
	"context"
	"fmt"

	"github.com/gatehouse-id/gatehouse/app/ratelimit"
)

// ClearAccount forgets an account's password failures and lifts its lock on
// both lanes (trusted and unknown devices), and reports whether a lock was
// in force (so the caller can record AccountUnlocked). A completed password
// reset calls it: the owner proved control of the mailbox and set a new
// password, so the failures an attacker earned against the old one no
// longer count. The lock is read and lifted in one round trip.
func (g *Guard) ClearAccount(ctx context.Context, accountKey string) (unlocked bool, err error) {
	if accountKey == "" {
		return false, nil
	}
	key := g.keys.lanes(g.keys.account("password", accountKey))
	fields := append(ratelimit.LaneFields("t"), ratelimit.LaneFields("u")...)
	res, err := g.store.Exec(ctx, ratelimit.HGet(key, "tlu", "ulu"), ratelimit.HDel(key, fields...))
	if err != nil {
		return false, fmt.Errorf("defense: clear account: %w", err)
	}
	now := g.now().UnixMilli()
	for _, lockedUntil := range res[0].Ints {
		if lockedUntil > now {
			unlocked = true
		}
	}
	return unlocked, nil
}
