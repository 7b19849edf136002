package main

import (
	"fmt"
	"strings"
	"time"
)

// EventsConfig configures the event stream and the audit trail.
type EventsConfig struct {
	// Sink is where the relay publishes: "none" (the audit trail only),
	// "kafka" or "rabbitmq".
	Sink string
	// KafkaBrokers are host:port seed brokers, comma-separated.
	KafkaBrokers string
	// KafkaTopicPrefix is put before each family: gatehouse.auth.login, …
	KafkaTopicPrefix string
	// RabbitMQURL is amqp://user:pass@host:port/vhost.
	RabbitMQURL string
	// RabbitMQExchange is the topic exchange.
	RabbitMQExchange string
	// Retention is how long the audit trail keeps events (PostgreSQL
	// partitions; CockroachDB's row-level TTL says 400 days in
	// schema/cockroach/0020_auth_events.sql).
	Retention time.Duration
	// PartitionsAhead is how many days of partitions exist ahead of today.
	PartitionsAhead int
	// Settle is how old an event must be before the relay publishes it.
	Settle time.Duration
}

func defaultEventsConfig() EventsConfig {
	return EventsConfig{Sink: "none", KafkaTopicPrefix: "gatehouse.auth.", RabbitMQExchange: "gatehouse.events",
		Retention: 400 * 24 * time.Hour, PartitionsAhead: 7, Settle: time.Second}
}

func eventsSettings() []setting {
	return []setting{
		str("events.sink", "GATEHOUSE_EVENTS_SINK", "none, kafka or rabbitmq", func(c *Config) *string { return &c.Events.Sink }),
		str("events.kafka_brokers", "GATEHOUSE_EVENTS_KAFKA_BROKERS", "Kafka seed brokers host:port,…", func(c *Config) *string { return &c.Events.KafkaBrokers }),
		str("events.kafka_topic_prefix", "GATEHOUSE_EVENTS_KAFKA_TOPIC_PREFIX", "prefix of the per-family topics", func(c *Config) *string { return &c.Events.KafkaTopicPrefix }),
		{
			yaml: "events.rabbitmq_url", env: "GATEHOUSE_EVENTS_RABBITMQ_URL", secret: true, help: "amqp://user:pass@host:port/vhost",
			set: func(c *Config, v string) error { c.Events.RabbitMQURL = v; return nil },
			get: func(c *Config) string { return redactURL(c.Events.RabbitMQURL) },
		},
		str("events.rabbitmq_exchange", "GATEHOUSE_EVENTS_RABBITMQ_EXCHANGE", "topic exchange of the events", func(c *Config) *string { return &c.Events.RabbitMQExchange }),
		dur("events.retention", "GATEHOUSE_EVENTS_RETENTION", func(c *Config) *time.Duration { return &c.Events.Retention }),
		integer("events.partitions_ahead", "GATEHOUSE_EVENTS_PARTITIONS_AHEAD", func(c *Config) *int { return &c.Events.PartitionsAhead }),
		dur("events.settle", "GATEHOUSE_EVENTS_SETTLE", func(c *Config) *time.Duration { return &c.Events.Settle }),
	}
}

// check validates the section; it returns the bad key and why, or "".
func (e EventsConfig) check() (key, msg string) {
	switch e.Sink {
	case "none":
	case "kafka":
		if strings.TrimSpace(e.KafkaBrokers) == "" {
			return "events.kafka_brokers", "GATEHOUSE_EVENTS_SINK=kafka needs at least one broker"
		}
	case "rabbitmq":
		if !strings.HasPrefix(e.RabbitMQURL, "amqp://") && !strings.HasPrefix(e.RabbitMQURL, "amqps://") {
			return "events.rabbitmq_url", "GATEHOUSE_EVENTS_SINK=rabbitmq needs an amqp:// or amqps:// URL"
		}
	default:
		return "events.sink", "want none, kafka or rabbitmq"
	}
	if e.Retention < 48*time.Hour {
		return "events.retention", fmt.Sprintf("want at least 48h, not %s", e.Retention)
	}
	if e.PartitionsAhead < 1 || e.PartitionsAhead > 60 {
		return "events.partitions_ahead", "want 1 to 60 days"
	}
	if e.Settle < 0 || e.Settle > time.Minute {
		return "events.settle", "want 0 to 1m"
	}
	return "", ""
}
