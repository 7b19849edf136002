package main

// The shared-address phase: the stuffing burst of the contract's section 7
// (same server, same leaked list, same 20 × capacity from ≥ 20,000
// addresses), while every legitimate user returns from behind ONE address,
// as subscribers of a carrier-grade NAT, an office or a VPN do, and a share
// of the attack (5 % by default) comes from that same address. Each user
// first logs in once from an address of its own, which trusts its device;
// then all of them come back from the shared address with their device
// tokens. Figure:
//
//	shared_address_legit_success_ratio  legit logins ending in 200 / legit logins started during the attack

import (
	"context"
	"errors"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
)

// sharedAddressFlags are the phase's own settings; the rest are the
// stuffing phase's (-stuffing-*).
type sharedAddressFlags struct {
	addr        *string
	attackShare *float64
}

var sharedAddressOpts = sharedAddressFlags{
	addr:        flag.String("shared-address", "100.64.7.7", "the address every legit user returns from in the shared-address phase (X-Forwarded-For)"),
	attackShare: flag.Float64("shared-address-attack-share", 0.05, "share of the attack's attempts sent from the shared address"),
}

// sharedAddressPlan is the phase's settings.
type sharedAddressPlan struct {
	addr        string
	attackShare float64
}

// measureSharedAddress runs the phase and prints its figure.
func measureSharedAddress(ctx context.Context, cfg benchConfig, rep *reporter, base serverSetup) error {
	o := sharedAddressOpts
	if *o.attackShare < 0 || *o.attackShare > 1 {
		return errors.New("shared-address: -shared-address-attack-share must be within 0–1")
	}
	if err := checkSharedAddr(*o.addr); err != nil {
		return err
	}
	rep.comment("shared-address: the stuffing burst again, legit users all returning from %s with their device tokens and %s of the attack from there too; the \"stuffing:\" lines up to this phase's figure describe this run",
		*o.addr, pct(*o.attackShare, 1))
	return stuffingPhase(ctx, cfg, rep, base, &sharedAddressPlan{addr: *o.addr, attackShare: *o.attackShare})
}

// checkSharedAddr refuses an address the server would not take as a
// client address.
func checkSharedAddr(s string) error {
	if _, err := netip.ParseAddr(s); err != nil {
		return fmt.Errorf("shared-address: -shared-address %q: %w", s, err)
	}
	return nil
}

// mix moves every legit user (after the warm-up that trusted their device
// from an address of their own) behind the shared address, and returns the
// attack's address for each of its n attempts: the shared one for a share
// of them, the others' in turn for the rest; and how many came from the
// shared address.
func (p *sharedAddressPlan) mix(rng *mrand.Rand, users []*legitUser, addrs []string, n int) ([]string, int) {
	for _, u := range users {
		u.ip = p.addr
	}
	out := make([]string, n)
	fromShared, next := 0, 0
	for i := range out {
		if rng.Float64() < p.attackShare {
			out[i] = p.addr
			fromShared++
			continue
		}
		out[i] = addrs[next%len(addrs)]
		next++
	}
	return out, fromShared
}

// report prints the phase's figure and what it depends on.
func (p *sharedAddressPlan) report(rep *reporter, r *stuffingResult, successRatio float64) {
	dOK, _, dSolved := r.during.successes()
	rep.comment("shared-address: %d legit users behind %s (trusted devices: %d), %d of %d logins during the attack ok, %d challenges solved%s",
		r.legitUsers, p.addr, r.withDevice, dOK, len(r.during.outcomes)+r.during.dropped, dSolved, failureNote(r.during.failures()))
	rep.comment("shared-address: %d of %d attack attempts from %s (%s)", r.fromShared, r.attempts, p.addr, pct(float64(r.fromShared), float64(max(r.attempts, 1))))
	rep.figure("shared_address_legit_success_ratio", successRatio, "ratio")
}

// phaseName is the phase a stuffing plan belongs to, for its comments.
func (p stuffingPlan) phaseName() string {
	if p.shared != nil {
		return "shared-address"
	}
	return "stuffing"
}
