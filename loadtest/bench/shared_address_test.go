package main

import (
	mrand "math/rand/v2"
	"testing"
)

// The shared-address phase moves every legit user behind the one address
// and sends about its share of the attack from there, the rest from the
// other addresses in turn.
func TestSharedAddressMix(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	users := []*legitUser{{ip: "172.16.0.1"}, {ip: "172.16.0.2"}}
	p := &sharedAddressPlan{addr: "100.64.7.7", attackShare: 0.05}
	addrs, from := p.mix(rng, users, []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}, 20_000)
	if users[0].ip != p.addr || users[1].ip != p.addr || len(addrs) != 20_000 {
		t.Fatalf("users %v %v, %d addresses", users[0].ip, users[1].ip, len(addrs))
	}
	counted := 0
	for _, a := range addrs {
		if a == p.addr {
			counted++
		}
	}
	if counted != from || from < 850 || from > 1150 {
		t.Fatalf("%d (reported %d) of 20,000 from the shared address, want about 1,000", counted, from)
	}
}
