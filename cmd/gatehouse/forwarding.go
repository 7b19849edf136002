package main

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/gatehouse-id/gatehouse/app/metrics"
	"github.com/gatehouse-id/gatehouse/regions"
	"github.com/gatehouse-id/gatehouse/regions/router"
)

// regionForwarding adapts regions/router to httpapi.Forwarding.
type regionForwarding struct {
	verifier  *router.Verifier
	forwarder *router.Forwarder
}

func (rf regionForwarding) Inbound(r *http.Request, body []byte) (string, string, bool) {
	fw, ok := rf.verifier.Verify(r, body)
	return fw.EntryRegion, fw.ClientAddr, ok
}

func (rf regionForwarding) Forward(w http.ResponseWriter, r *http.Request, region, client string, body []byte) (bool, bool, error) {
	handled, err := rf.forwarder.Forward(w, r, region, client, body)
	// Ambiguous: the request reached the home region, which may still be
	// executing it (a timeout after sending). A reset or refused connection
	// means the region is gone, and the entry region may serve it.
	var fe *router.FailoverError
	ambiguous := errors.As(err, &fe) && fe.Sent && fe.Reason == router.ReasonTimeout
	return handled, ambiguous, err
}

// newForwarding builds the inter-region router, or nil when no keys are
// configured (a single-region deployment).
func newForwarding(cfg *Config, topo *regions.Topology, m *metrics.Metrics, logger *slog.Logger) (*regionForwarding, error) {
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
	ver, err := router.NewVerifier(router.VerifierConfig{Self: cfg.Region, Topology: topo, Keys: keys, Logger: logger, Now: time.Now})
	if err != nil {
		return nil, err
	}
	return &regionForwarding{verifier: ver, forwarder: fwd}, nil
}
