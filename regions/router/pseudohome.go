package router

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"slices"

	"github.com/gatehouse-id/gatehouse/regions"
)

// PseudoHome is the region an email address that has no account is routed
// to, as if it lived there: a keyed hash of the (normalised) address picks
// one region of the topology. Every region computes the same answer (same
// keys, same topology), the same address always goes to the same region,
// and without the key nobody can tell a pseudo-home from a real one, so an
// unknown address is answered with the same headers and the same number of
// inter-region hops as an address homed elsewhere.
//
// The hash is HMAC-SHA256 under the current forwarding key; rotating that
// key moves unknown addresses to other pseudo-homes (all at once, which
// says nothing about any one address).
func PseudoHome(keys Keys, topo *regions.Topology, normalisedEmail string) string {
	names := make([]string, 0, len(topo.Regions))
	for _, r := range topo.Regions {
		names = append(names, r.Name)
	}
	if len(names) == 0 {
		return ""
	}
	slices.Sort(names)
	h := hmac.New(sha256.New, keys.Current().Secret)
	writeField(h, "gatehouse-pseudo-home-v1")
	writeField(h, normalisedEmail)
	sum := h.Sum(nil)
	return names[binary.BigEndian.Uint64(sum[:8])%uint64(len(names))]
}
