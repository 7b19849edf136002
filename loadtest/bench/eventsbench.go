package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/events"
	"github.com/gatehouse-id/gatehouse/app/events/kafka"
	"github.com/gatehouse-id/gatehouse/app/store"
)

// measureEvents prints login_with_events_vs_login_ratio and
// events_published_per_s. Two more servers share the bench database, each
// serving a region of its own: one publishes its events to Kafka
// (franz-go's kfake cluster, in a process of its own at lower CPU
// priority: kfake_process.go), the other keeps them in the audit trail
// only (GATEHOUSE_EVENTS_SINK=none); their logins are measured in alternating
// rounds. Then a backlog of events is written straight into the trail and
// a relay publishes it to Kafka, timed from full to empty.
func measureEvents(ctx context.Context, cfg benchConfig, rep *reporter, base serverSetup, dbURL string, backlogSize int) (err error) {
	broker, err := startBrokerProcess(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if serr := broker.stop(); serr != nil {
			err = errors.Join(err, fmt.Errorf("kfake broker process: %w", serr))
		}
	}()
	brokers := strings.Join(broker.addrs, ",")

	clients := map[string]*apiClient{}
	// Each server serves a region of its own, so that each relay holds its
	// region's lease alone (the bench's main server has us-east1).
	regionOf := map[string]string{"kafka": "europe-west1", "none": "asia-south1"}
	for _, sink := range []string{"kafka", "none"} {
		port, err := freeLoopbackPort()
		if err != nil {
			return err
		}
		setup := base.with(nil)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		setup.env["GATEHOUSE_HTTP_ADDR"] = addr
		setup.env["GATEHOUSE_REGION"] = regionOf[sink]
		setup.env["GATEHOUSE_EVENTS_SINK"] = sink
		setup.env["GATEHOUSE_EVENTS_KAFKA_BROKERS"] = brokers
		client := newAPIClient("http://"+addr, setup.env["GATEHOUSE_ADMIN_TOKEN"], cfg.loginClients+4)
		defer client.close()
		slog.Info("starting a server for the events figure", "sink", sink, "addr", addr)
		server, err := prepareAndServe(ctx, setup, client)
		if err != nil {
			return err
		}
		defer func() {
			if serr := server.stop(); serr != nil {
				err = errors.Join(err, serr)
			}
		}()
		clients[sink] = client
	}
	users := map[string][]credentials{}
	for sink, client := range clients {
		users[sink] = newUserCredentials("ev"+sink+randomHex(3), cfg.users)
		if err := signUpAll(ctx, client, users[sink], cfg.loginClients); err != nil {
			return err
		}
	}
	window := 3 * cfg.window
	slog.Info("measuring login_with_events_vs_login_ratio")
	res, err := runRounds(ctx, roundsOf(window, 5*time.Second),
		loginLoad(clients["kafka"], users["kafka"], cfg.loginClients, window, cfg.maxOpsPerFigure, newSessionPool(0)),
		loginLoad(clients["none"], users["none"], cfg.loginClients, window, cfg.maxOpsPerFigure, newSessionPool(0)))
	if err != nil {
		return err
	}
	rep.load("login, events published to Kafka (kfake)", cfg.loginClients, res[0])
	rep.load("login, events kept in the audit trail only", cfg.loginClients, res[1])
	rep.figure("login_with_events_vs_login_ratio", res[0].perSecond()/res[1].perSecond(), "ratio")

	perSecond, err := relayThroughput(ctx, dbURL, broker.addrs, backlogSize)
	if err != nil {
		return err
	}
	rep.comment("relay: %d events from a full backlog to Kafka (kfake), batches of the default size", backlogSize)
	rep.figure("events_published_per_s", perSecond, "/s")
	return nil
}

func kafkaTopics() []string {
	var out []string
	for _, f := range events.Families {
		out = append(out, "gatehouse.auth."+f)
	}
	return out
}

// relayThroughput writes n events of a region of their own into the audit
// trail and times one relay publishing them all to Kafka.
func relayThroughput(ctx context.Context, dbURL string, brokers []string, n int) (float64, error) {
	db, err := store.Open(ctx, dbURL, store.Options{MaxConns: 8})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	const region = "bench-relay"
	users := make([]uuid.UUID, 10_000)
	for i := range users {
		users[i] = uuid.New()
	}
	start := time.Now().Add(-time.Hour)
	slog.Info("writing the event backlog", "events", n)
	for i := 0; i < n; i += 5000 {
		batch := make([]events.Record, 0, 5000)
		for j := i; j < min(i+5000, n); j++ {
			batch = append(batch, events.Record{ID: uuid.New(), UserID: users[j%len(users)], HomeRegion: region, Kind: "login.failed",
				At: start.Add(time.Duration(j) * time.Microsecond), IP: "198.51.100.23", UserAgent: "bench/1",
				Data: map[string]any{"reason": "invalid_credentials", "email_hash": randomHex(32)}})
		}
		if err := db.AppendEvents(ctx, batch); err != nil {
			return 0, err
		}
	}
	sink, err := kafka.New(kafka.Config{Brokers: brokers, TopicPrefix: "gatehouse.auth."})
	if err != nil {
		return 0, err
	}
	defer sink.Close()
	relay := events.NewRelay(events.RelayConfig{Region: region, Holder: "bench"}, db, sink, nil, nil, time.Now)
	slog.Info("measuring events_published_per_s")
	began := time.Now()
	published := 0
	for published < n {
		k, err := relay.PublishOnce(ctx)
		if err != nil {
			return 0, err
		}
		if k == 0 {
			return 0, fmt.Errorf("relay: stopped after %d of %d events", published, n)
		}
		published += k
	}
	return float64(published) / time.Since(began).Seconds(), nil
}
