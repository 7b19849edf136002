package main

import (
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/app/defense"
)

// sharedRangesPerAddressBudget is how many times the per-address budget of
// unknown devices (GATEHOUSE_DEFENSE_ADDRESS_PER_MINUTE) each address of a
// shared range listed without a budget gets.
const sharedRangesPerAddressBudget = 10

// sharedRangesSetting reads GATEHOUSE_DEFENSE_SHARED_RANGES: known shared
// ranges (carrier-grade NAT pools, office and VPN egress), comma-separated
// "CIDR" or "CIDR=attempts-per-minute" (defense.ParseSharedRanges).
func sharedRangesSetting() setting {
	return setting{yaml: "defense.shared_ranges", env: "GATEHOUSE_DEFENSE_SHARED_RANGES",
		help: "shared ranges with their own unknown-device budget: CIDR[=per-minute],…",
		set: func(c *Config, v string) error {
			r, err := defense.ParseSharedRanges(v, 0)
			if err != nil {
				return err
			}
			c.Defense.SharedRanges = r
			return nil
		},
		get: func(c *Config) string {
			var s []string
			for _, r := range c.Defense.SharedRanges {
				e := r.Prefix.String()
				if r.PerMinute > 0 {
					e += "=" + strconv.Itoa(r.PerMinute)
				}
				s = append(s, e)
			}
			return strings.Join(s, ",")
		}}
}

// sharedRanges are the configured ranges, bare CIDRs given
// sharedRangesPerAddressBudget times the per-address budget a minute.
func sharedRanges(cfg *Config, dc defense.Config) []defense.SharedRange {
	a := dc.Unknown.Address
	perMinute := max(1, int(float64(a.Rate)*float64(time.Minute)/float64(a.Period))) * sharedRangesPerAddressBudget
	out := make([]defense.SharedRange, len(cfg.Defense.SharedRanges))
	for i, r := range cfg.Defense.SharedRanges {
		if r.PerMinute == 0 {
			r.PerMinute = perMinute
		}
		out[i] = r
	}
	return out
}
