package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/gatehouse-id/gatehouse/app/store"
)

// rabbitURL is the RabbitMQ this machine runs (.ci/services starts it);
// GATEHOUSE_TEST_RABBITMQ_URL overrides it.
func rabbitURL() string {
	if u := getenvDefault("GATEHOUSE_TEST_RABBITMQ_URL", ""); u != "" {
		return u
	}
	return "amqp://guest:guest@127.0.0.1:5672/"
}

// rabbitConsumer is a queue of the test's own, bound to every routing key
// of a fresh exchange. A missing RabbitMQ fails the test.
type rabbitConsumer struct {
	conn     *amqp.Connection
	deliv    <-chan amqp.Delivery
	exchange string
}

func newRabbitConsumer(t *testing.T) *rabbitConsumer {
	t.Helper()
	conn, err := amqp.Dial(rabbitURL())
	if err != nil {
		t.Fatalf("RabbitMQ is required at %s (.ci/services starts it): %v", rabbitURL(), err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	rc := &rabbitConsumer{conn: conn, exchange: "gatehouse.test." + uuid.NewString()}
	// Declared as the sink declares it (durable), and deleted at the end.
	if err := ch.ExchangeDeclare(rc.exchange, "topic", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.ExchangeDelete(rc.exchange, false, false) })
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, "id.gatehouse.#", rc.exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	rc.deliv, err = ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// collect reads deliveries until stop says enough or the deadline passes.
func (rc *rabbitConsumer) collect(t *testing.T, got []delivered, deadline time.Duration, stop func([]delivered) bool) []delivered {
	t.Helper()
	timeout := time.After(deadline)
	for !stop(got) {
		select {
		case d, ok := <-rc.deliv:
			if !ok {
				t.Fatal("the consumer's channel closed")
			}
			if d.ContentType == "" || d.MessageId == "" {
				t.Errorf("a message without content type or id: %+v", d)
			}
			got = append(got, parseDelivered(t, "queue", d.Body))
		case <-timeout:
			return got
		}
	}
	return got
}

// TestEventsReachRabbitMQ is the Kafka test against the real RabbitMQ:
// publisher confirms, a topic exchange, routing keys per type.
func TestEventsReachRabbitMQ(t *testing.T) {
	rc := newRabbitConsumer(t)
	env := with(testEnv(t), "GATEHOUSE_EVENTS_SINK", "rabbitmq",
		"GATEHOUSE_EVENTS_RABBITMQ_URL", rabbitURL(), "GATEHOUSE_EVENTS_RABBITMQ_EXCHANGE", rc.exchange,
		"GATEHOUSE_EVENTS_SETTLE", "300ms")
	s := startServer(t, env)
	sc := scriptedSession(t, s.URL, env)
	got := rc.collect(t, nil, 30*time.Second, haveTypes(sc.UserID, sc.Want))
	checkDelivered(t, sc, got)
}

// cutProxy forwards TCP to a target until cut: then it closes every
// connection and refuses new ones, until restored.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.setCut(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			cut := p.cut
			p.mu.Unlock()
			if cut {
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		p.conns = map[net.Conn]bool{}
	}
}

// TestBrokerOutageLosesNothing cuts the connection to RabbitMQ while
// 1,000 logins run: every login still answers (nothing waits on the
// broker), and once the connection is back every event of the audit trail
// is delivered, none lost, one user's events in order, duplicates only as
// the same event.
func TestBrokerOutageLosesNothing(t *testing.T) {
	rc := newRabbitConsumer(t)
	proxy := newCutProxy(t, "127.0.0.1:5672")
	env := with(testEnv(t), "GATEHOUSE_EVENTS_SINK", "rabbitmq",
		"GATEHOUSE_EVENTS_RABBITMQ_URL", fmt.Sprintf("amqp://guest:guest@%s/", proxy.ln.Addr()),
		"GATEHOUSE_EVENTS_RABBITMQ_EXCHANGE", rc.exchange, "GATEHOUSE_EVENTS_SETTLE", "200ms",
		// The test is about the events: the defense layers (whose global
		// limit follows this busy machine's measured hashing capacity)
		// would answer some of 1,000 logins from one address 429.
		"GATEHOUSE_DEFENSE_ENABLED", "false", "GATEHOUSE_ARGON2_MEMORY_KIB", "12288", "GATEHOUSE_ARGON2_ITERATIONS", "3")
	s := startServer(t, env)
	const users, logins = 20, 1000
	for i := range users {
		signUp(t, s.URL, fmt.Sprintf("outage-%d@example.org", i), "a passphrase for the outage")
	}

	var wg sync.WaitGroup
	jobs := make(chan int)
	errs := make(chan string, logins)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				body := fmt.Sprintf(`{"email":"outage-%d@example.org","password":"a passphrase for the outage"}`, i%users)
				start := time.Now()
				resp, b := call(t, "POST", s.URL+"/v1/login", jsonBody(body))
				if resp.StatusCode != 200 {
					errs <- fmt.Sprintf("login %d: %d %v", i, resp.StatusCode, b)
				} else if d := time.Since(start); d > 5*time.Second {
					errs <- fmt.Sprintf("login %d took %s during the outage", i, d)
				}
			}
		}()
	}
	db, err := store.Open(context.Background(), env["GATEHOUSE_DATABASE_URL"], store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var backlogAtCut int64
	for i := range logins {
		switch i {
		case 100:
			proxy.setCut(true) // the broker is gone for most of the run
		case 900:
			time.Sleep(2 * time.Second) // past the settle time and a relay round
			if backlogAtCut, _, err = db.EventBacklog(context.Background(), "us-east1"); err != nil {
				t.Fatal(err)
			}
			proxy.setCut(false)
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}

	if backlogAtCut < 2000 {
		t.Errorf("only %d events waited while the broker was cut off: the outage did not happen", backlogAtCut)
	}
	time.Sleep(time.Second) // the batcher's last batches reach the trail
	want := map[string]bool{}
	recs, err := db.EventsSince(context.Background(), time.Time{}, 100000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		want[r.ID.String()] = true
	}
	if len(want) < 3*logins {
		t.Fatalf("the audit trail has %d events, want at least %d (3 per login)", len(want), 3*logins)
	}
	got := rc.collect(t, nil, 90*time.Second, func(got []delivered) bool {
		seen := 0
		ids := map[string]bool{}
		for _, d := range got {
			if want[d.Event.ID] && !ids[d.Event.ID] {
				ids[d.Event.ID] = true
				seen++
			}
		}
		return seen == len(want)
	})
	ids := map[string]bool{}
	for _, d := range got {
		ids[d.Event.ID] = true
	}
	missing := 0
	for id := range want {
		if !ids[id] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d events never arrived after the outage", missing, len(want))
	}
	t.Logf("%d events waited during the outage; %d events in the trail, %d deliveries (%d duplicates)", backlogAtCut, len(want), len(got), len(got)-len(ids))
	checkDelivered(t, sessionScript{Email: "outage-", Pw: "a passphrase for the outage"}, got)
}

func getenvDefault(k, def string) string {
	if v, ok := os.LookupEnv(k); ok {
		return v
	}
	return def
}
