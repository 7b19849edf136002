// Package metrics defines every Prometheus series Gatehouse exports (all
// prefixed gatehouse_) on a registry of its own, so tests and several
// servers in one process never collide on a global registry.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the collectors. Their names and labels are part of the
// public contract (contract §4).
type Metrics struct {
	Registry *prometheus.Registry

	HTTPDuration       *prometheus.HistogramVec // route, method, code
	LoginAttempts      *prometheus.CounterVec   // result
	PasswordHash       prometheus.Histogram
	PasswordInflight   prometheus.Gauge
	RateLimitDecisions *prometheus.CounterVec // layer, decision
	Refresh            *prometheus.CounterVec // result
	Forwarded          *prometheus.CounterVec // to_region, result
	SecurityEvents     *prometheus.CounterVec // kind
	DefenseFallback    prometheus.Gauge

	// RevocationPropagation: from a revocation anywhere to this region
	// refusing the session's access tokens (issue 14 feeds it).
	RevocationPropagation prometheus.Histogram
	// Ops are the series of the events pipeline, keys and defense mode
	// (ops.go).
	Ops *Ops
}

// LoginResults are the values of gatehouse_login_attempts_total{result}.
var LoginResults = []string{"success", "invalid_credentials", "mfa_required", "challenge_required", "locked", "rate_limited", "overloaded", "error"}

// RefreshResults are the values of gatehouse_refresh_total{result}.
var RefreshResults = []string{"rotated", "reuse_detected", "invalid", "expired"}

// New registers every collector, plus the Go runtime and process ones.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route template, method and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method", "code"}),
		LoginAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_login_attempts_total",
			Help: "Password logins by result.",
		}, []string{"result"}),
		PasswordHash: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatehouse_password_hash_seconds",
			Help:    "Time spent in one Argon2id computation.",
			Buckets: []float64{.01, .025, .05, .1, .15, .2, .3, .5, 1, 2},
		}),
		PasswordInflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_password_hash_inflight",
			Help: "Argon2id computations running now.",
		}),
		RateLimitDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_ratelimit_decisions_total",
			Help: "Rate-limit decisions by layer and decision.",
		}, []string{"layer", "decision"}),
		Refresh: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_refresh_total",
			Help: "Refresh-token grants by result.",
		}, []string{"result"}),
		Forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_forwarded_requests_total",
			Help: "Requests forwarded to a user's home region, by region and result.",
		}, []string{"to_region", "result"}),
		SecurityEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_security_events_total",
			Help: "Security events recorded, by kind.",
		}, []string{"kind"}),
		DefenseFallback: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_defense_fallback",
			Help: "1 while rate limits and counters run in-process because Redis is unreachable.",
		}),
		RevocationPropagation: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gatehouse_revocation_propagation_seconds",
			Help:    "Seconds from a session's revocation in any region until this region refuses its access tokens.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10},
		}),
	}
	m.Ops = newOps(r)
	r.MustRegister(m.RevocationPropagation, m.DefenseFallback, m.HTTPDuration, m.LoginAttempts, m.PasswordHash, m.PasswordInflight,
		m.RateLimitDecisions, m.Refresh, m.Forwarded, m.SecurityEvents,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range LoginResults {
		m.LoginAttempts.WithLabelValues(r)
	}
	for _, r := range RefreshResults {
		m.Refresh.WithLabelValues(r)
	}
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// HashStarted and HashFinished feed the hashing pool's gauge and histogram;
// they make *Metrics satisfy the pool's observer interface.
func (m *Metrics) HashStarted() { m.PasswordInflight.Inc() }

// HashFinished records one Argon2id computation.
func (m *Metrics) HashFinished(d time.Duration) {
	m.PasswordInflight.Dec()
	m.PasswordHash.Observe(d.Seconds())
}

// LoginResult counts a login by result; *Metrics is the auth service's
// observer.
func (m *Metrics) LoginResult(result string) { m.LoginAttempts.WithLabelValues(result).Inc() }

// RefreshResult counts a refresh grant by result.
func (m *Metrics) RefreshResult(result string) { m.Refresh.WithLabelValues(result).Inc() }

// RevocationPropagated records how long a revocation took to become
// visible in a region (gatehouse_revocation_propagation_seconds).
func (m *Metrics) RevocationPropagated(d time.Duration) {
	m.RevocationPropagation.Observe(d.Seconds())
}

// SecurityEvent counts a security event by kind.
func (m *Metrics) SecurityEvent(kind string) { m.SecurityEvents.WithLabelValues(kind).Inc() }

// DefenseObserver feeds gatehouse_ratelimit_decisions_total and the
// fallback gauge from the defense layers.
type DefenseObserver struct{ M *Metrics }

// Decision counts one decision of one layer.
func (o DefenseObserver) Decision(layer, outcome string) {
	o.M.RateLimitDecisions.WithLabelValues(layer, outcome).Inc()
}

// Fallback records whether limits run in-process because Redis failed.
func (o DefenseObserver) Fallback(active bool) {
	if active {
		o.M.DefenseFallback.Set(1)
	} else {
		o.M.DefenseFallback.Set(0)
	}
}
