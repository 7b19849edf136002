package defense

import (
	"time"

	"github.com/gatehouse-id/gatehouse/app/ratelimit"
)

// Trusted devices: a login that presents an authentic trusted-device token
// for the account it names draws from that device's and that account's
// budgets (and the region's), never from its address's. Behind a
// carrier-grade NAT, an office proxy or a VPN thousands of returning users
// share one address; an address budget would lock them out on a busy
// evening, while the attacker it is meant for only needs more addresses.
//
// The address still sees their failures: trusted-device failures from one
// address (and subnet) are counted over a sliding minute, and past
// Trusted.AddressFailures (SubnetFailures) every trusted device there must
// solve a challenge before its password is checked. A few stolen device
// tokens therefore cannot guess at the pace the address's real users log
// in, and those users are slowed by a proof of work, not locked out.

// trustedFailureWindow is the sliding window of trusted-device failures.
const trustedFailureWindow = time.Minute

// trustedLayers are the GCRA limits of a trusted-device attempt.
func (g *Guard) trustedLayers(at *attempt) []limitLayer {
	var ls []limitLayer
	if at.device != "" {
		ls = append(ls, limitLayer{LayerDevice, g.keys.deviceLimit(at.device), g.cfg.Trusted.Device})
	}
	if at.person != "" {
		ls = append(ls, limitLayer{LayerAccount, g.keys.personLimit(at.person), g.cfg.Trusted.Account})
	}
	return append(ls, limitLayer{LayerGlobal, g.keys.globalLimit(at.class), g.cfg.Trusted.Global})
}

// trustedFailureReads are the reads of trustedFailuresExceeded: the
// address's and the subnet's failures in this and the previous window.
func (g *Guard) trustedFailureReads(at *attempt) []ratelimit.Op {
	idx, _ := windowAt(g.now(), trustedFailureWindow)
	a, n := at.ip.String(), at.subnet.String()
	return []ratelimit.Op{
		ratelimit.HGet(g.keys.trustedFailures("a", a, idx), "f"), ratelimit.HGet(g.keys.trustedFailures("a", a, idx-1), "f"),
		ratelimit.HGet(g.keys.trustedFailures("n", n, idx), "f"), ratelimit.HGet(g.keys.trustedFailures("n", n, idx-1), "f"),
	}
}

// trustedFailuresExceeded names the layer (address or subnet) whose
// trusted-device failures over the last minute reached their bound, or "".
func (g *Guard) trustedFailuresExceeded(at *attempt, res []ratelimit.OpResult) Layer {
	_, elapsed := windowAt(g.now(), trustedFailureWindow)
	first := func(r ratelimit.OpResult) int64 {
		if len(r.Ints) == 0 {
			return 0
		}
		return r.Ints[0]
	}
	switch {
	case slide(first(res[0]), first(res[1]), elapsed) >= float64(g.cfg.Trusted.AddressFailures):
		return LayerAddress
	case slide(first(res[2]), first(res[3]), elapsed) >= float64(g.cfg.Trusted.SubnetFailures):
		return LayerSubnet
	}
	return ""
}

// trustedFailureOps count a trusted-device failure for its address and
// subnet.
func (g *Guard) trustedFailureOps(at *attempt) []ratelimit.Op {
	idx, _ := windowAt(g.now(), trustedFailureWindow)
	ttl := 3 * trustedFailureWindow
	return []ratelimit.Op{
		ratelimit.HIncr(g.keys.trustedFailures("a", at.ip.String(), idx), "f", 1, ttl),
		ratelimit.HIncr(g.keys.trustedFailures("n", at.subnet.String(), idx), "f", 1, ttl),
	}
}
