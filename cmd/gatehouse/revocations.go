package main

import (
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-id/gatehouse/app/cache"
	"github.com/gatehouse-id/gatehouse/app/metrics"
	"github.com/gatehouse-id/gatehouse/app/revocation"
	"github.com/gatehouse-id/gatehouse/app/store"
	"github.com/gatehouse-id/gatehouse/regions"
)

// newRevocations wires revocation propagation: this region's Redis, every
// other region's Redis (its redis_url in the regions file) for the direct
// fan-out, and the GLOBAL session_revocations table. close releases the
// other regions' clients.
func newRevocations(cfg *Config, topo *regions.Topology, db *store.DB, rdb redis.UniversalClient, m *metrics.Metrics, logger *slog.Logger) (*revocation.Propagator, func(), error) {
	remote := map[string]revocation.Marks{}
	var clients []redis.UniversalClient
	closeAll := func() {
		for _, c := range clients {
			_ = c.Close()
		}
	}
	for _, r := range topo.Regions {
		if r.Name == cfg.Region {
			continue
		}
		c, err := cache.NewRemoteClient(r.RedisURL)
		if err != nil {
			closeAll()
			return nil, nil, &configError{key: "GATEHOUSE_REGIONS_FILE", msg: "region " + r.Name + ": redis_url: " + err.Error()}
		}
		clients = append(clients, c)
		remote[r.Name] = cache.NewSessions(c, "gh:")
	}
	p, err := revocation.New(revocation.Config{
		Local:    cache.NewSessions(rdb, "gh:"),
		Remote:   remote,
		Log:      db,
		Lifetime: cfg.Tokens.AccessTTL + time.Minute,
		Observer: m,
		Logger:   logger,
		Now:      time.Now,
	})
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	return p, closeAll, nil
}
