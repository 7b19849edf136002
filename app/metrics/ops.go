package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Ops are the series the alert rules in k8s/monitoring need beyond the
// request metrics: the event relay's throughput and backlog, the key
// ring's refresh health, the hashing pool's size and the defense mode.
type Ops struct {
	Published          *prometheus.CounterVec // sink
	PublishFailures    *prometheus.CounterVec // sink
	Backlog            prometheus.Gauge
	BacklogAge         prometheus.Gauge
	Dropped            prometheus.Counter
	KeyRefreshFailures prometheus.Gauge
	KeysAge            prometheus.Gauge
	HashWorkers        prometheus.Gauge
	DefenseMode        *prometheus.GaugeVec // mode
	DefenseLevel       prometheus.Gauge
}

// DefenseModes are the values of gatehouse_defense_mode{mode}.
var DefenseModes = []string{"normal", "elevated", "emergency"}

func newOps(r *prometheus.Registry) *Ops {
	o := &Ops{
		Published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_events_published_total",
			Help: "Auth events the relay handed to the broker and had acknowledged, by sink.",
		}, []string{"sink"}),
		PublishFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_events_publish_failures_total",
			Help: "Relay rounds that failed to publish (broker or database away), by sink.",
		}, []string{"sink"}),
		Backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_events_backlog",
			Help: "Auth events of this region not yet published, as last measured by the relay holding the lease.",
		}),
		BacklogAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_events_backlog_age_seconds",
			Help: "Age of the oldest unpublished auth event of this region (0 when none).",
		}),
		Dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_events_dropped_total",
			Help: "No-state-change events (failed logins) dropped because the append queue was full.",
		}),
		KeyRefreshFailures: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_key_refresh_consecutive_failures",
			Help: "Consecutive failed refreshes of the pepper and signing keys from Vault (0 after a success).",
		}),
		KeysAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_keys_age_seconds",
			Help: "Seconds since the keys were last loaded successfully.",
		}),
		HashWorkers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_password_hash_workers",
			Help: "Argon2id computations the hashing pool runs at once (its capacity).",
		}),
		DefenseMode: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatehouse_defense_mode",
			Help: "1 for the region's effective defense mode, 0 for the others.",
		}, []string{"mode"}),
		DefenseLevel: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_defense_level",
			Help: "The region's effective defense mode as a number: 0 normal, 1 elevated, 2 emergency.",
		}),
	}
	r.MustRegister(o.Published, o.PublishFailures, o.Backlog, o.BacklogAge, o.Dropped,
		o.KeyRefreshFailures, o.KeysAge, o.HashWorkers, o.DefenseMode, o.DefenseLevel)
	for _, s := range []string{"none", "kafka", "rabbitmq"} {
		o.Published.WithLabelValues(s)
		o.PublishFailures.WithLabelValues(s)
	}
	o.SetDefenseMode("normal")
	return o
}

// EventsPublished counts events a relay published (events.RelayObserver).
func (o *Ops) EventsPublished(sink string, n int) { o.Published.WithLabelValues(sink).Add(float64(n)) }

// EventPublishFailed counts a failed relay round.
func (o *Ops) EventPublishFailed(sink string) { o.PublishFailures.WithLabelValues(sink).Inc() }

// EventBacklog records the region's unpublished events and the oldest's age.
func (o *Ops) EventBacklog(size int64, age time.Duration) {
	o.Backlog.Set(float64(size))
	o.BacklogAge.Set(age.Seconds())
}

// EventsDropped counts events a full append queue refused
// (events.BatcherObserver).
func (o *Ops) EventsDropped(n int) { o.Dropped.Add(float64(n)) }

// KeysStatus records the key ring's refresh health.
func (o *Ops) KeysStatus(consecutiveFailures int64, age time.Duration) {
	o.KeyRefreshFailures.Set(float64(consecutiveFailures))
	o.KeysAge.Set(age.Seconds())
}

// SetDefenseMode records the region's effective defense mode.
func (o *Ops) SetDefenseMode(mode string) {
	for i, m := range DefenseModes {
		if m == mode {
			o.DefenseMode.WithLabelValues(m).Set(1)
			o.DefenseLevel.Set(float64(i))
		} else {
			o.DefenseMode.WithLabelValues(m).Set(0)
		}
	}
}
