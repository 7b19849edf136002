package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gatehouse-id/gatehouse/app/events"
)

// kafkaTopics are the per-family topics under the default prefix.
func kafkaTopics() []string {
	var out []string
	for _, f := range events.Families {
		out = append(out, "gatehouse.auth."+f)
	}
	return out
}

// newKfake starts franz-go's in-process Kafka cluster with the topics.
func newKfake(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, kafkaTopics()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// consumeKafka reads every topic from the start until stop says it has
// enough or the deadline passes.
func consumeKafka(t *testing.T, brokers []string, deadline time.Duration, stop func([]delivered) bool) []delivered {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(kafkaTopics()...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	var got []delivered
	for ctx.Err() == nil && !stop(got) {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			d := parseDelivered(t, fmt.Sprintf("%s/%d", r.Topic, r.Partition), r.Value)
			if string(r.Key) != d.Event.PartitionKey {
				t.Errorf("record key %q is not the event's partition key %q", r.Key, d.Event.PartitionKey)
			}
			got = append(got, d)
		})
	}
	return got
}

// haveTypes says whether every wanted type of the user has arrived.
func haveTypes(userID string, want []string) func([]delivered) bool {
	return func(got []delivered) bool {
		seen := map[string]bool{}
		for _, d := range got {
			if d.Event.Subject == userID {
				seen[d.Event.Type] = true
			}
		}
		for _, w := range want {
			if !seen[w] {
				return false
			}
		}
		return true
	}
}

// TestEventsReachKafka runs a scripted session against a server whose
// sink is Kafka (kfake) and consumes every event type it caused, in order
// per user, each valid against its JSON Schema.
func TestEventsReachKafka(t *testing.T) {
	cluster := newKfake(t)
	env := with(testEnv(t), "GATEHOUSE_EVENTS_SINK", "kafka",
		"GATEHOUSE_EVENTS_KAFKA_BROKERS", strings.Join(cluster.ListenAddrs(), ","),
		"GATEHOUSE_EVENTS_SETTLE", "300ms")
	s := startServer(t, env)
	sc := scriptedSession(t, s.URL, env)
	got := consumeKafka(t, cluster.ListenAddrs(), 30*time.Second, haveTypes(sc.UserID, sc.Want))
	checkDelivered(t, sc, got)

	// The same history, from the audit trail: the user's own and the
	// admin's view, newest first.
	resp, mine := call(t, "GET", s.URL+"/v1/me/events?limit=200", nil, bearer(loginAT(t, s.URL, sc))...)
	if resp.StatusCode != 200 {
		t.Fatalf("/v1/me/events: %d %v", resp.StatusCode, mine)
	}
	resp, theirs := call(t, "GET", s.URL+"/admin/v1/users/"+sc.UserID+"/events?limit=200", nil, bearer(env["GATEHOUSE_ADMIN_TOKEN"])...)
	if resp.StatusCode != 200 {
		t.Fatalf("admin events: %d %v", resp.StatusCode, theirs)
	}
	for name, page := range map[string]map[string]any{"mine": mine, "admin": theirs} {
		list, _ := page["events"].([]any)
		types := map[string]bool{}
		var prev string
		for _, e := range list {
			ev := e.(map[string]any)
			types[ev["type"].(string)] = true
			if ev["subject"] != sc.UserID {
				t.Errorf("%s: another user's event: %v", name, ev)
			}
			if tm := ev["time"].(string); prev != "" && tm > prev {
				t.Errorf("%s: not newest first: %s after %s", name, tm, prev)
			}
			prev = ev["time"].(string)
		}
		for _, w := range sc.Want {
			if !types[w] {
				t.Errorf("%s: the history lacks %s", name, w)
			}
		}
	}
	if resp, b := call(t, "GET", s.URL+"/v1/me/events?limit=0", nil, bearer(loginAT(t, s.URL, sc))...); resp.StatusCode != 400 {
		t.Errorf("limit=0: %d %v, want 400", resp.StatusCode, b)
	}

	// gatehouse events tail: the same user's trail as JSON lines, oldest first.
	out := runCmd(t, env, "events", "tail", "--user", sc.UserID, "--since", "1h", "--follow=false")
	var tailTypes []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct{ Type, Subject string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.Subject != sc.UserID {
			t.Fatalf("events tail printed %q (%v)", line, err)
		}
		tailTypes = append(tailTypes, ev.Type)
	}
	if len(tailTypes) == 0 || tailTypes[0] != "id.gatehouse.user.registered.v1" {
		t.Errorf("events tail: %v, want the user's trail from sign-up on", tailTypes)
	}
	for _, w := range sc.Want {
		if !slices.Contains(tailTypes, w) {
			t.Errorf("events tail lacks %s", w)
		}
	}
}

// loginAT logs the scripted user in (the script removed its factor) and
// returns an access token.
func loginAT(t *testing.T, base string, sc sessionScript) string {
	t.Helper()
	tok := login(t, base, sc.Email, sc.Pw)
	return tok["access_token"].(string)
}
