package main

import (
	"context"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-id/gatehouse/app/breach"
)

// breachCheck adapts app/breach to auth.BreachCheck.
type breachCheck struct {
	checker breach.Checker
	policy  breach.Policy
}

func (b breachCheck) Refuse(ctx context.Context, pw string) error {
	return b.policy.Refuse(ctx, b.checker, pw)
}

func (b breachCheck) Breached(ctx context.Context, pw string) (int, error) {
	return b.checker.Breached(ctx, pw)
}

// newBreachCheck builds the breached-password check the configuration
// names; nil when it is off.
func newBreachCheck(cfg *Config, rdb redis.UniversalClient, logger *slog.Logger) (*breachCheck, error) {
	var checker breach.Checker
	switch cfg.Breach.Mode {
	case "range":
		r, err := breach.NewRange(breach.RangeConfig{BaseURL: cfg.Breach.URL, Cache: breach.NewRedisCache(rdb, "gh:breach:"), Logger: logger})
		if err != nil {
			return nil, &configError{key: "GATEHOUSE_BREACH_URL", msg: err.Error()}
		}
		checker = r
	case "offline":
		o, err := breach.NewOffline(cfg.Breach.Dir)
		if err != nil {
			return nil, &configError{key: "GATEHOUSE_BREACH_DIR", msg: err.Error()}
		}
		checker = o
	default:
		return nil, nil
	}
	return &breachCheck{checker: checker, policy: breach.Policy{Logger: logger}}, nil
}
