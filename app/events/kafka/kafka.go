// Package kafka publishes auth events to Kafka with franz-go: an
// idempotent producer (acks from every in-sync replica, no duplicates from
// its own retries), the user id as the record key so that one user's
// events land in one partition in order, and one topic per event family.
// Each record is a CloudEvents 1.0 structured-mode JSON document.
package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gatehouse-id/gatehouse/app/events"
)

// ContentType is the record's content-type header (CloudEvents Kafka
// protocol binding, structured mode).
const ContentType = "application/cloudevents+json; charset=UTF-8"

// Config configures the sink.
type Config struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string
	// TopicPrefix is put before the family: "gatehouse.auth." makes
	// gatehouse.auth.login, gatehouse.auth.account, …
	TopicPrefix string
	// Timeout bounds one Publish (default 30 s): during an outage the
	// relay backs off and tries again later instead of waiting forever.
	Timeout time.Duration
	// Extra are more franz-go options (TLS, SASL, tests).
	Extra []kgo.Opt
}

// Sink is a Kafka producer.
type Sink struct {
	cl      *kgo.Client
	prefix  string
	timeout time.Duration
}

// New connects lazily: franz-go dials the brokers on first use.
func New(cfg Config) (*Sink, error) {
	if len(cfg.Brokers) == 0 {
		return nil, fmt.Errorf("kafka: no brokers")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		// Idempotent writes are franz-go's default and need acks=all.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.RecordDeliveryTimeout(cfg.Timeout),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
	}, cfg.Extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	return &Sink{cl: cl, prefix: cfg.TopicPrefix, timeout: cfg.Timeout}, nil
}

// Topic is the topic of an event family.
func (s *Sink) Topic(family string) string { return s.prefix + family }

// Name is "kafka".
func (s *Sink) Name() string { return "kafka" }

// Publish produces the batch and waits for every acknowledgement.
func (s *Sink) Publish(ctx context.Context, batch []events.Record) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	recs := make([]*kgo.Record, 0, len(batch))
	for _, r := range batch {
		body, err := events.Encode(r)
		if err != nil {
			return err
		}
		spec, _ := events.Lookup(r.Kind)
		recs = append(recs, &kgo.Record{
			Topic:   s.Topic(spec.Family),
			Key:     []byte(r.PartitionKey()),
			Value:   body,
			Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte(ContentType)}},
		})
	}
	if err := s.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("kafka: produce: %w", err)
	}
	return nil
}

// Close flushes and closes the client.
func (s *Sink) Close() { s.cl.Close() }
