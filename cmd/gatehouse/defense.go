package main

import (
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-id/gatehouse/app/defense"
	"github.com/gatehouse-id/gatehouse/app/metrics"
	"github.com/gatehouse-id/gatehouse/app/ratelimit"
	"github.com/gatehouse-id/gatehouse/keys"
)

// defenseObserver adapts the metrics to defense.Observer.
type defenseObserver struct{ metrics.DefenseObserver }

func (o defenseObserver) Decision(l defense.Layer, out defense.Outcome) {
	o.DefenseObserver.Decision(string(l), string(out))
}

// defenseModes adapts the guard to httpapi.DefenseModes.
type defenseModes struct{ g *defense.Guard }

func (d defenseModes) Mode(ctx context.Context) (any, error) { return d.g.Mode(ctx) }

func (d defenseModes) SetMode(ctx context.Context, mode string) error {
	m, err := defense.ParseMode(mode)
	if err != nil {
		return err
	}
	return d.g.SetMode(ctx, m)
}

// newGuard builds the login defense from the configuration; nil when it is
// turned off.
//
// The global limit for unknown devices is sized to the hashing capacity
// (hashesPerSecond): what the pool can hash each second, with a burst of
// one second's worth. Beyond it, a flood from devices nobody has seen
// before is answered with a cheap 429 before any lookup, instead of an
// expensive 503 from a full hashing queue. (Twice the capacity, with a
// burst of four seconds' worth, let a burst's first seconds fill the
// hashing queue: trusted-device logins started then waited 120-150 ms at
// p95, against 35 ms later on.)
func newGuard(cfg *Config, rdb redis.UniversalClient, ring *keys.Ring, m *metrics.Metrics, logger *slog.Logger, hashesPerSecond float64) (*defense.Guard, error) {
	if !cfg.Defense.Enabled {
		logger.Warn("the login defense layers are OFF (GATEHOUSE_DEFENSE_ENABLED=false)")
		return nil, nil
	}
	dc := defense.DefaultConfig()
	if cfg.Defense.KeyPrefix != "" {
		dc.KeyPrefix = cfg.Defense.KeyPrefix
	}
	if cfg.Defense.ChallengeAfter > 0 {
		dc.Account.ChallengeAfter = cfg.Defense.ChallengeAfter
	}
	if cfg.Defense.LockAfter > 0 {
		dc.Account.LockAfter = cfg.Defense.LockAfter
	}
	if cfg.Defense.AddressPerMinute > 0 {
		dc.Unknown.Address.Rate, dc.Unknown.Address.Burst = cfg.Defense.AddressPerMinute, 2*cfg.Defense.AddressPerMinute
	}
	if cfg.Defense.GlobalPerSecond > 0 {
		dc.Unknown.Global = ratelimit.PerSecond(cfg.Defense.GlobalPerSecond, 2*cfg.Defense.GlobalPerSecond)
	} else if hashesPerSecond > 0 {
		n := max(10, int(math.Ceil(hashesPerSecond)))
		dc.Unknown.Global = ratelimit.PerSecond(n, n)
	}
	dc.Shared.Ranges = sharedRanges(cfg, dc)
	logger.Info("login defense", "unknown_device_global_per_second", dc.Unknown.Global.Rate, "hashes_per_second", math.Round(hashesPerSecond))
	if err := dc.Validate(); err != nil {
		return nil, &configError{key: "GATEHOUSE_DEFENSE_*", msg: err.Error()}
	}
	return defense.New(dc, rdb, ring.DefenseKey(), defenseObserver{metrics.DefenseObserver{M: m}}, logger, time.Now)
}
