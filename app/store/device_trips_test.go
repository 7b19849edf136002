package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/defense"
	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/store/storetest"
	"github.com/gatehouse-id/gatehouse/schema"
)

// floodGuard refuses every attempt at the address limit, as under a flood.
type floodGuard struct{}

func (floodGuard) Check(context.Context, defense.Attempt) (defense.Decision, error) {
	return defense.Decision{Action: defense.ActionRateLimit, Layer: defense.LayerAddress, RetryAfter: time.Second}, nil
}
func (floodGuard) Record(context.Context, defense.Attempt, bool) error { return nil }
func (floodGuard) Release(context.Context, defense.Attempt) error      { return nil }
func (floodGuard) ClearAccount(context.Context, string) (bool, error)  { return false, nil }
func (floodGuard) AllowMail(context.Context, string, netip.Addr, string) (bool, error) {
	return true, nil
}

type deviceKey struct{}

func (deviceKey) DeviceKeys() [][]byte { return [][]byte{bytes.Repeat([]byte{7}, 32)} }

// A login carrying a forged device token, refused by the limits, makes no
// database round trip at all: the token's MAC is checked first, with no
// I/O, and a token that fails it is ignored. (Before, any non-empty
// device_token cost a directory read, a user read and a device update
// before any limit.)
func TestForgedDeviceTokenMakesNoRoundTrip(t *testing.T) {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(storetest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	trips := &roundTrips{}
	cfg.MaxConns = 1
	cfg.ConnConfig.Tracer = trips
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	db := &DB{pool: pool, logger: slog.New(slog.DiscardHandler)}
	ms, err := LoadMigrations(schema.Files)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx, "main", ms); err != nil {
		t.Fatal(err)
	}
	svc := auth.New(auth.Config{Region: "us-east1"}, auth.Deps{Store: db, Guard: floodGuard{}, DeviceKeys: deviceKey{}, Random: rand.Reader})
	random := func(n int) string {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	for name, tok := range map[string]string{
		"forged":           "ghd_" + random(48),
		"previous format":  "ghd_" + random(32),
		"malformed":        "ghd_!!",
		"not a device tok": "ghr_us-east1_" + random(32),
	} {
		before := trips.n.Load()
		_, err := svc.Login(ctx, auth.LoginRequest{Email: "flooded@example.org", Password: "whatever it is", IP: "203.0.113.5", DeviceToken: tok})
		if !errs.Is(err, errs.KindRateLimited) {
			t.Fatalf("%s: want rate limited, got %v", name, err)
		}
		if got := trips.n.Load() - before; got != 0 {
			t.Errorf("%s device token: %d database round trips before the limits, want 0", name, got)
		}
	}
}
