package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gatehouse-id/gatehouse/regions/latency"
)

// measureCrossRegion prints cross_region_login_ms and
// cross_region_vs_rtt_ratio: two more servers, us-east1 and europe-west1,
// share the database and keyring, each region's internal address sits
// behind a latency proxy adding delay one way, and a user homed in
// europe-west1 logs in alternately at europe-west1 (direct) and at
// us-east1 (forwarded once). The extra median latency of the forwarded
// login, divided by the injected round trip, should be about 1: one round
// trip, not one per statement.
func measureCrossRegion(ctx context.Context, cfg benchConfig, rep *reporter, base serverSetup, delay time.Duration, pairs int) (err error) {
	dir, err := os.MkdirTemp("", "gatehouse-bench-regions-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	fwdKeys := "bench:" + base64.StdEncoding.EncodeToString(secret)

	names := []string{"us-east1", "europe-west1"}
	ports := map[string]int{}
	yaml := "primary: us-east1\nregions:\n"
	for _, name := range names {
		port, err := freeLoopbackPort()
		if err != nil {
			return err
		}
		ports[name] = port
		proxy, err := latency.Start("127.0.0.1:0", "127.0.0.1:"+strconv.Itoa(port), delay)
		if err != nil {
			return err
		}
		defer proxy.Close()
		yaml += fmt.Sprintf("  - {name: %s, public_url: \"http://127.0.0.1:%d\", internal_url: \"http://%s\", redis_url: %q}\n",
			name, port, proxy.Addr(), cfg.redisURL)
	}
	regionsFile := filepath.Join(dir, "regions.yaml")
	if err := os.WriteFile(regionsFile, []byte(yaml), 0o600); err != nil {
		return err
	}
	clients := map[string]*apiClient{}
	for _, name := range names {
		setup := base.with(nil)
		addr := "127.0.0.1:" + strconv.Itoa(ports[name])
		setup.env["GATEHOUSE_REGION"] = name
		setup.env["GATEHOUSE_REGIONS_FILE"] = regionsFile
		setup.env["GATEHOUSE_HTTP_ADDR"] = addr
		setup.env["GATEHOUSE_FORWARDING_KEYS"] = fwdKeys
		client := newAPIClient("http://"+addr, setup.env["GATEHOUSE_ADMIN_TOKEN"], 4)
		defer client.close()
		slog.Info("starting a regional server for the cross-region figure", "region", name, "addr", addr)
		server, err := prepareAndServe(ctx, setup, client)
		if err != nil {
			return err
		}
		defer func() {
			if serr := server.stop(); serr != nil {
				err = errors.Join(err, serr)
			}
		}()
		clients[name] = client
	}
	cred := credentials{Email: "cross-" + randomHex(6) + "@bench.example", Password: "bench " + randomHex(12)}
	if err := clients["europe-west1"].signUp(ctx, cred); err != nil {
		return fmt.Errorf("cross-region sign-up: %w", err)
	}
	var direct, forwarded []time.Duration
	timeLogin := func(c *apiClient) (time.Duration, error) {
		start := time.Now()
		_, err := c.login(ctx, cred)
		return time.Since(start), err
	}
	for i := -2; i < pairs; i++ { // two warm-up pairs open the connections
		order := []string{"europe-west1", "us-east1"}
		if i%2 != 0 {
			order[0], order[1] = order[1], order[0]
		}
		for _, name := range order {
			d, err := timeLogin(clients[name])
			if err != nil {
				return fmt.Errorf("cross-region login via %s: %w", name, err)
			}
			if i < 0 {
				continue
			}
			if name == "europe-west1" {
				direct = append(direct, d)
			} else {
				forwarded = append(forwarded, d)
			}
		}
	}
	rtt := 2 * delay
	extra := median(forwarded) - median(direct)
	rep.comment("cross-region: %d pairs, injected delay %v each way (round trip %v); median login direct %.1f ms, through us-east1 %.1f ms",
		pairs, delay, rtt, ms(median(direct)), ms(median(forwarded)))
	rep.figure("cross_region_login_ms", ms(extra), "ms")
	rep.figure("cross_region_vs_rtt_ratio", float64(extra)/float64(rtt), "ratio")
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
