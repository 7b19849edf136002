package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-id/gatehouse/app/cache"
	"github.com/gatehouse-id/gatehouse/app/httpapi"
	"github.com/gatehouse-id/gatehouse/app/metrics"
	"github.com/gatehouse-id/gatehouse/regions"
	"github.com/gatehouse-id/gatehouse/regions/router"
)

// regionForwarding adapts regions/router to httpapi.Forwarding.
type regionForwarding struct {
	verifier  *router.Verifier
	forwarder *router.Forwarder
	keys      router.Keys
	topo      *regions.Topology
	self      string
	m         *metrics.Metrics
}

// Regions is the number of regions in the topology.
func (rf regionForwarding) Regions() int { return len(rf.topo.Regions) }

// PseudoHome routes an email address without an account (router.PseudoHome).
func (rf regionForwarding) PseudoHome(normalisedEmail string) string {
	return router.PseudoHome(rf.keys, rf.topo, normalisedEmail)
}

// Inbound verifies a forwarding header. A refused one is counted in
// gatehouse_forwarded_requests_total{to_region=<this region>} with result
// "refused" (forged, expired, replayed, wrong entry or target) or
// "unverifiable" (the shared replay store did not answer).
func (rf regionForwarding) Inbound(r *http.Request, body []byte) (string, string, bool, error) {
	fw, err := rf.verifier.Check(r, body)
	switch {
	case errors.Is(err, router.ErrNotForwarded):
		return "", "", false, nil
	case errors.Is(err, router.ErrReplayUnavailable):
		rf.m.Forwarded.WithLabelValues(rf.self, resultUnverifiable).Inc()
		return "", "", false, fmt.Errorf("%w: %w", httpapi.ErrForwardingUnavailable, err)
	case err != nil:
		rf.m.Forwarded.WithLabelValues(rf.self, resultRefused).Inc()
		return "", "", false, err
	}
	return fw.EntryRegion, fw.ClientAddr, true, nil
}

// Results of gatehouse_forwarded_requests_total counted by the receiving
// region, besides the router's ok, failover and error.
const (
	resultRefused      = "refused"
	resultUnverifiable = "unverifiable"
)

func (rf regionForwarding) Forward(w http.ResponseWriter, r *http.Request, region, client string, body []byte) (bool, bool, error) {
	handled, err := rf.forwarder.Forward(w, r, region, client, body)
	// Ambiguous: the request reached the home region, which may still be
	// executing it (a timeout after sending). A reset or refused connection
	// means the region is gone, and the entry region may serve it.
	var fe *router.FailoverError
	ambiguous := errors.As(err, &fe) && fe.Sent && fe.Reason == router.ReasonTimeout
	if errors.Is(err, router.ErrFailover) {
		err = fmt.Errorf("%w: %w", httpapi.ErrHomeUnreachable, err)
	}
	return handled, ambiguous, err
}

// newForwarding builds the inter-region router, or nil when no keys are
// configured (a single-region deployment).
func newForwarding(cfg *Config, topo *regions.Topology, rdb redis.UniversalClient, m *metrics.Metrics, logger *slog.Logger) (*regionForwarding, error) {
	if cfg.Forwarding.Keys == "" {
		if len(topo.Regions) > 1 {
			logger.Warn("GATEHOUSE_FORWARDING_KEYS is empty: requests for users homed in other regions are served here")
		}
		return nil, nil
	}
	keys, err := router.ParseKeys(cfg.Forwarding.Keys)
	if err != nil {
		return nil, &configError{key: "GATEHOUSE_FORWARDING_KEYS", msg: err.Error()}
	}
	fwd, err := router.NewForwarder(router.ForwarderConfig{
		Self: cfg.Region, Topology: topo, Keys: keys, Timeout: cfg.Forwarding.Timeout,
		Observer: router.ObserverFunc(func(to, result string) { m.Forwarded.WithLabelValues(to, result).Inc() }),
		Logger:   logger, Now: time.Now,
	})
	if err != nil {
		return nil, err
	}
	// Every instance of the region shares the nonces it has seen (Redis).
	ver, err := router.NewVerifier(router.VerifierConfig{Self: cfg.Region, Topology: topo, Keys: keys,
		Replay: cache.NewNonces(rdb, "gh:"), Logger: logger, Now: time.Now})
	if err != nil {
		return nil, err
	}
	m.Forwarded.WithLabelValues(cfg.Region, resultRefused)
	m.Forwarded.WithLabelValues(cfg.Region, resultUnverifiable)
	return &regionForwarding{verifier: ver, forwarder: fwd, keys: keys, topo: topo, self: cfg.Region, m: m}, nil
}
