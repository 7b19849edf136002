package defense

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/gatehouse-id/gatehouse/app/ratelimit"
)

// Mail limits: a reset request or a sign-up with a taken address sends a
// mail, so each is limited per source address and per target account, or
// anyone could bomb a mailbox (or flood the mail queue until real resets
// are dropped). The answers stay the same either way; only the mail is
// skipped.
var (
	mailPerAddress = ratelimit.Limit{Rate: 20, Burst: 20, Period: time.Hour}
	mailPerAccount = ratelimit.Limit{Rate: 3, Burst: 3, Period: time.Hour}
)

// AllowMail reports whether a mail of kind ("password_reset",
// "signup_existing_account", "login_code") caused by a request from ip
// about accountKey may be sent, counting it when it may. The address
// bucket is checked first, so a flood from one address spends no account's
// budget.
func (g *Guard) AllowMail(ctx context.Context, kind string, ip netip.Addr, accountKey string) (bool, error) {
	addr, err := normaliseIP(ip)
	if err != nil {
		return false, err
	}
	src := addr.String()
	if addr.Is6() { // one subscriber's /64 is one address
		p, _ := addr.Prefix(64)
		src = p.String()
	}
	res, err := g.store.Allow(ctx, g.keys.prefix+"mail:a:"+kind+":"+src, mailPerAddress)
	if err != nil {
		return false, fmt.Errorf("defense: mail limit: %w", err)
	}
	if !res.Allowed {
		g.obs.Decision(LayerAddress, OutcomeDeny)
		return false, nil
	}
	if accountKey == "" {
		return true, nil
	}
	res, err = g.store.Allow(ctx, g.keys.prefix+"mail:e:"+kind+":"+g.keys.account(kind, accountKey), mailPerAccount)
	if err != nil {
		return false, fmt.Errorf("defense: mail limit: %w", err)
	}
	if !res.Allowed {
		g.obs.Decision(LayerAccount, OutcomeDeny)
	}
	return res.Allowed, nil
}
