package store_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/events"
	"github.com/gatehouse-id/gatehouse/app/store"
	"github.com/gatehouse-id/gatehouse/schema"
)

// TestEventPartitions_MadeAheadAndDroppedAfterRetention runs the partition
// job with an injected clock over events of three days: the job turns the
// table partitioned, makes partitions ahead, and once the clock has moved
// on, drops the day past the retention with its rows and keeps the rest.
// A query by user reads through the primary key's index, never a scan.
func TestEventPartitions_MadeAheadAndDroppedAfterRetention(t *testing.T) {
	f := newFixture(t, 4)
	day0 := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)
	clock := day0.Add(36 * time.Hour) // 2026-03-10 12:00
	const retention = 48 * time.Hour

	// Events appended before the table is partitioned survive the change.
	early := events.Record{ID: uuid.New(), UserID: uuid.New(), HomeRegion: "us-east1", Kind: "login.failed", At: day0.Add(time.Hour)}
	if err := f.db.AppendEvents(f.ctx, []events.Record{early}); err != nil {
		t.Fatal(err)
	}
	rep, err := f.db.MaintainEventPartitions(f.ctx, clock, 2, retention)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"auth_events_p20260309", "auth_events_p20260310", "auth_events_p20260311", "auth_events_p20260312"}
	if !rep.Converted || !slices.Equal(rep.Partitions, want) {
		t.Fatalf("first run: converted %v, partitions %v; want converted and %v", rep.Converted, rep.Partitions, want)
	}
	if n := f.count(`SELECT count(*) FROM auth_events_p20260309 WHERE id = $1`, early.ID); n != 1 {
		t.Fatalf("the event written before the conversion is not in its day's partition (%d)", n)
	}

	// 3 days × 3,000 events of 300 users.
	users := make([]uuid.UUID, 300)
	for i := range users {
		users[i] = uuid.New()
	}
	for d := range 3 {
		var batch []events.Record
		for i := range 3000 {
			batch = append(batch, events.Record{ID: uuid.New(), UserID: users[i%len(users)], HomeRegion: "us-east1",
				Kind: "login.failed", At: day0.AddDate(0, 0, d).Add(time.Duration(i) * time.Second), IP: "192.0.2.1",
				Data: map[string]any{"reason": "invalid_credentials"}})
		}
		if err := f.db.AppendEvents(f.ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.count(`SELECT count(*) FROM auth_events_default`); n != 0 {
		t.Fatalf("%d rows fell into the default partition", n)
	}

	// Two days later: two more partitions ahead, and 2026-03-09 (which
	// ended more than 48 h before the clock) dropped with its rows.
	clock = clock.Add(48 * time.Hour) // 2026-03-12 12:00
	rep, err = f.db.MaintainEventPartitions(f.ctx, clock, 2, retention)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Created, []string{"auth_events_p20260313", "auth_events_p20260314"}) {
		t.Errorf("created %v, want the partitions of 03-13 and 03-14", rep.Created)
	}
	if !slices.Equal(rep.Dropped, []string{"auth_events_p20260309"}) {
		t.Errorf("dropped %v, want auth_events_p20260309", rep.Dropped)
	}
	if n := f.count(`SELECT count(*) FROM auth_events WHERE occurred_at < '2026-03-10'`); n != 0 {
		t.Errorf("%d events of the dropped day remain", n)
	}
	if n := f.count(`SELECT count(*) FROM auth_events`); n != 6000 {
		t.Errorf("%d events remain, want the 6,000 of 03-10 and 03-11", n)
	}

	// One user's history: an index range, never a sequential scan.
	if _, err := f.raw.Exec(f.ctx, `ANALYZE auth_events`); err != nil {
		t.Fatal(err)
	}
	rows, err := f.raw.Query(f.ctx, `EXPLAIN SELECT id, kind, occurred_at FROM auth_events
		WHERE user_id = $1 AND occurred_at < $2 ORDER BY occurred_at DESC, id DESC LIMIT 50`, users[7], clock)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "Index Scan on auth_events_p20260310_pkey") || !strings.Contains(text, "Index Scan on auth_events_p20260311_pkey") {
		t.Errorf("a query by user does not read the days that hold rows through the primary key:\n%s", text)
	}
	// The planner may scan a partition that is empty (today's, tomorrow's,
	// the default): nothing to read. Any partition with rows is read
	// through its index.
	for _, line := range plan {
		_, after, ok := strings.Cut(line, "Seq Scan on ")
		if !ok {
			continue
		}
		table := strings.Fields(after)[0]
		if n := f.count(`SELECT count(*) FROM ` + table); n != 0 {
			t.Errorf("a query by user scans %s, which holds %d rows:\n%s", table, n, text)
		}
	}
	got, err := f.db.UserEvents(f.ctx, users[7], clock, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 20 {
		t.Errorf("user 7 has %d events, want 20 (10 a day over the 2 days kept)", len(got))
	}
	for _, r := range got {
		if r.UserID != users[7] {
			t.Fatalf("another user's event in user 7's history: %v", r.UserID)
		}
	}

	// A second run changes nothing.
	rep, err = f.db.MaintainEventPartitions(f.ctx, clock, 2, retention)
	if err != nil || rep.Converted || len(rep.Created)+len(rep.Dropped) != 0 {
		t.Errorf("a second run did something: %+v, %v", rep, err)
	}
}

// TestCockroachAuthEventsAreRegionalWithTTL: on CockroachDB the audit
// trail is REGIONAL BY ROW and expires by row-level TTL (the partition job
// is PostgreSQL-only).
func TestCockroachAuthEventsAreRegionalWithTTL(t *testing.T) {
	ms, err := store.LoadCockroachMigrations(schema.Files, store.Topology{Database: "gatehouse", PrimaryRegion: "us-east1", Regions: []string{"us-east1", "europe-west1"}})
	if err != nil {
		t.Fatal(err)
	}
	var stmts []string
	for _, m := range ms {
		if m.Version == 20 {
			stmts = m.Statements
		}
	}
	want := []string{
		"ALTER TABLE auth_events SET LOCALITY REGIONAL BY ROW AS crdb_region",
		"ALTER TABLE auth_events SET (ttl_expiration_expression = '(occurred_at + INTERVAL ''400 days'')', ttl_job_cron = '@daily')",
	}
	for _, w := range want {
		if !slices.Contains(stmts, w) {
			t.Errorf("cockroach/0020 lacks %q; it has %q", w, stmts)
		}
	}
}
