// Package rabbitmq publishes auth events to RabbitMQ with amqp091-go: a
// durable topic exchange, the CloudEvents type as the routing key (so a
// consumer binds "id.gatehouse.login.#" for every login event), persistent
// messages and publisher confirms: Publish returns only once the broker has
// confirmed every message of the batch. One channel publishes in order, so
// a queue receives one user's events in order.
package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/gatehouse-id/gatehouse/app/events"
)

// ContentType is the message's content type (CloudEvents AMQP binding,
// structured mode).
const ContentType = "application/cloudevents+json; charset=UTF-8"

// Config configures the sink.
type Config struct {
	// URL is amqp://user:pass@host:port/vhost.
	URL string
	// Exchange is the topic exchange (declared durable if missing).
	Exchange string
	// Timeout bounds one Publish, dial included (default 30 s).
	Timeout time.Duration
}

// Sink is a RabbitMQ publisher that reconnects on the next Publish after
// a failure.
type Sink struct {
	cfg  Config
	mu   sync.Mutex
	conn *amqp.Connection
	ch   *amqp.Channel
}

// New returns the sink; it dials on first use.
func New(cfg Config) (*Sink, error) {
	if cfg.URL == "" {
		return nil, errors.New("rabbitmq: no url")
	}
	if cfg.Exchange == "" {
		cfg.Exchange = "gatehouse.events"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &Sink{cfg: cfg}, nil
}

// Name is "rabbitmq".
func (s *Sink) Name() string { return "rabbitmq" }

func (s *Sink) channel() (*amqp.Channel, error) {
	if s.ch != nil && !s.ch.IsClosed() && s.conn != nil && !s.conn.IsClosed() {
		return s.ch, nil
	}
	s.closeLocked()
	conn, err := amqp.DialConfig(s.cfg.URL, amqp.Config{Dial: amqp.DefaultDial(s.cfg.Timeout), Heartbeat: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: dial: %w", err)
	}
	ch, err := conn.Channel()
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("rabbitmq: channel: %w", err)
	}
	if err := ch.ExchangeDeclare(s.cfg.Exchange, "topic", true, false, false, false, nil); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("rabbitmq: declare exchange: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("rabbitmq: confirm mode: %w", err)
	}
	s.conn, s.ch = conn, ch
	return ch, nil
}

// Publish sends the batch and waits for every confirm; a nack or a lost
// connection fails the whole batch (the relay sends it again).
func (s *Sink) Publish(ctx context.Context, batch []events.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	ch, err := s.channel()
	if err != nil {
		return err
	}
	confirms := make([]*amqp.DeferredConfirmation, 0, len(batch))
	for _, r := range batch {
		body, err := events.Encode(r)
		if err != nil {
			return err
		}
		spec, _ := events.Lookup(r.Kind)
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, s.cfg.Exchange, spec.Type, false, false, amqp.Publishing{
			ContentType:  ContentType,
			DeliveryMode: amqp.Persistent,
			MessageId:    r.ID.String(),
			Timestamp:    r.At,
			Type:         spec.Type,
			Headers:      amqp.Table{"cloudEvents:partitionkey": r.PartitionKey()},
			Body:         body,
		})
		if err != nil {
			s.closeLocked()
			return fmt.Errorf("rabbitmq: publish: %w", err)
		}
		confirms = append(confirms, dc)
	}
	for _, dc := range confirms {
		ok, err := dc.WaitContext(ctx)
		if err != nil {
			s.closeLocked()
			return fmt.Errorf("rabbitmq: confirm: %w", err)
		}
		if !ok {
			return errors.New("rabbitmq: the broker refused (nacked) a message")
		}
	}
	return nil
}

// Close closes the connection.
func (s *Sink) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeLocked()
}

func (s *Sink) closeLocked() {
	if s.conn != nil {
		_ = s.conn.Close()
	}
	s.conn, s.ch = nil, nil
}
