package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/app/store"
)

// TestDefenseModeChangeIsAnEventAndAMetric: an operator raising the
// defense mode shows, within the watcher's period, as a DefenseModeChanged
// event in the audit trail and as gatehouse_defense_level 1.
func TestDefenseModeChangeIsAnEventAndAMetric(t *testing.T) {
	env := testEnv(t)
	s := startServer(t, env)
	admin := bearer(env["GATEHOUSE_ADMIN_TOKEN"])
	if resp, b := call(t, "PUT", s.URL+"/admin/v1/defense", jsonBody(`{"mode":"elevated"}`), admin...); resp.StatusCode/100 != 2 {
		t.Fatalf("set mode: %d %v", resp.StatusCode, b)
	}
	t.Cleanup(func() { call(t, "PUT", s.URL+"/admin/v1/defense", jsonBody(`{"mode":"normal"}`), admin...) })
	db, err := store.Open(context.Background(), env["GATEHOUSE_DATABASE_URL"], store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		recs, err := db.EventsSince(context.Background(), time.Now().Add(-time.Minute), 100)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range recs {
			if r.Kind == "defense.mode_changed" && r.Data["to"] == "elevated" && r.Data["from"] == "normal" {
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no DefenseModeChanged event in the trail: %+v", recs)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if v := metricValue(t, s.URL, "gatehouse_defense_level"); v != "1" {
		t.Errorf("gatehouse_defense_level = %q, want 1", v)
	}
	if v := metricValue(t, s.URL, `gatehouse_defense_mode{mode="elevated"}`); v != "1" {
		t.Errorf(`gatehouse_defense_mode{mode="elevated"} = %q, want 1`, v)
	}
}
