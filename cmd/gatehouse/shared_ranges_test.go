package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/app/defense"
)

// GATEHOUSE_DEFENSE_SHARED_RANGES: parsed once, bare CIDRs get ten times
// the per-address budget, a bad value stops the start naming the key.
func TestSharedRangesConfig(t *testing.T) {
	env := map[string]string{"GATEHOUSE_DEFENSE_SHARED_RANGES": "100.64.0.0/10, 2001:db8::/48=900",
		"GATEHOUSE_DEFENSE_ADDRESS_PER_MINUTE": "40"}
	cfg, err := loadConfig("", lookup(env), 0)
	if err != nil {
		t.Fatal(err)
	}
	dc := defense.DefaultConfig()
	dc.Unknown.Address.Rate = cfg.Defense.AddressPerMinute
	got := sharedRanges(cfg, dc)
	want := []defense.SharedRange{{Prefix: netip.MustParsePrefix("100.64.0.0/10"), PerMinute: 400},
		{Prefix: netip.MustParsePrefix("2001:db8::/48"), PerMinute: 900}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %v, want %v", got, want)
	}
	dc.Shared.Ranges = got
	if err := dc.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"100.64.0.1/10", "100.64.0.0/10=lots", "not-a-cidr"} {
		_, err := loadConfig("", lookup(map[string]string{"GATEHOUSE_DEFENSE_SHARED_RANGES": bad}), 0)
		if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_DEFENSE_SHARED_RANGES") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
