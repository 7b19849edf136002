package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse-id/gatehouse/regions/latency"
)

// revocationRegions are the three regions of the revocation phase; the
// first one revokes, the sessions live in the other two.
var revocationRegions = []string{"us-east1", "europe-west1", "asia-south1"}

// revocationPoll is how often each region is asked whether a revoked
// token is still accepted.
const revocationPoll = 25 * time.Millisecond

// measureRevocation prints revocation_visible_p99_ms: three regions share
// the database and keyring, each with a redis-server of its own; every
// inter-region path (forwarding and each region's Redis as the others
// reach it) sits behind a latency proxy adding delay each way. Users are
// homed in europe-west1 and asia-south1 alternately; us-east1 revokes each
// one's session (the admin API, executed where it lands) while the two
// other regions are polled with the access token (GET /v1/me) until they
// refuse it. A sample is the time from sending the revocation to the end
// of the first refused poll, per polled region: an upper bound, which for
// the region that forwards the poll to the home region includes half a
// round trip or more (a client there sees the refusal that late).
func measureRevocation(ctx context.Context, cfg benchConfig, rep *reporter, base serverSetup, delay time.Duration, revocations int) (err error) {
	dir, err := os.MkdirTemp("", "gatehouse-bench-revocation-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	fwdKeys := "bench:" + base64.StdEncoding.EncodeToString(secret)

	ports, redisURLs := map[string]int{}, map[string]string{}
	yaml := "primary: us-east1\nregions:\n"
	for _, name := range revocationRegions {
		redisPort, stopRedis, err := startRedisServer(ctx)
		if err != nil {
			return err
		}
		defer stopRedis()
		redisURLs[name] = "redis://127.0.0.1:" + strconv.Itoa(redisPort) + "/0"
		redisProxy, err := latency.Start("127.0.0.1:0", "127.0.0.1:"+strconv.Itoa(redisPort), delay)
		if err != nil {
			return err
		}
		defer redisProxy.Close()
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
		// Other regions reach this region's Redis through the proxy; the
		// region itself uses it directly (GATEHOUSE_REDIS_URL below).
		yaml += fmt.Sprintf("  - {name: %s, public_url: \"http://127.0.0.1:%d\", internal_url: \"http://%s\", redis_url: \"redis://%s/0\"}\n",
			name, port, proxy.Addr(), redisProxy.Addr())
	}
	regionsFile := filepath.Join(dir, "regions.yaml")
	if err := os.WriteFile(regionsFile, []byte(yaml), 0o600); err != nil {
		return err
	}
	clients := map[string]*apiClient{}
	for _, name := range revocationRegions {
		setup := base.with(nil)
		addr := "127.0.0.1:" + strconv.Itoa(ports[name])
		setup.env["GATEHOUSE_REGION"] = name
		setup.env["GATEHOUSE_REGIONS_FILE"] = regionsFile
		setup.env["GATEHOUSE_HTTP_ADDR"] = addr
		setup.env["GATEHOUSE_REDIS_URL"] = redisURLs[name]
		setup.env["GATEHOUSE_FORWARDING_KEYS"] = fwdKeys
		// Sessions are made by logins: cheap hashing keeps the set-up short
		// (the figure involves no hashing).
		setup.env["GATEHOUSE_ARGON2_MEMORY_KIB"] = "19456"
		setup.env["GATEHOUSE_ARGON2_ITERATIONS"] = "2"
		client := newAPIClient("http://"+addr, setup.env["GATEHOUSE_ADMIN_TOKEN"], 32)
		defer client.close()
		slog.Info("starting a regional server for the revocation figure", "region", name, "addr", addr)
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

	type session struct {
		home, userID, access string
	}
	sessions := make([]session, revocations)
	runID := randomHex(4)
	slog.Info("signing up and logging in users for the revocation figure", "n", revocations)
	if err := forEach(ctx, revocations, 2*cfg.cores, func(i int) error {
		home := revocationRegions[1+i%2]
		cred := credentials{Email: fmt.Sprintf("revoked-%s-%d@bench.example", runID, i), Password: "bench " + randomHex(12)}
		var created struct {
			UserID string `json:"user_id"`
		}
		if err := clients[home].postJSON(ctx, "/v1/users", cred, http.StatusCreated, &created); err != nil {
			return fmt.Errorf("sign-up in %s: %w", home, err)
		}
		tp, err := clients[home].login(ctx, cred)
		if err != nil {
			return fmt.Errorf("login in %s: %w", home, err)
		}
		sessions[i] = session{home: home, userID: created.UserID, access: tp.AccessToken}
		return nil
	}); err != nil {
		return err
	}

	var mu sync.Mutex
	var samples, atHome, forwarded, revokeTook []time.Duration
	revoker := clients[revocationRegions[0]]
	began := time.Now()
	err = forEach(ctx, revocations, 4, func(i int) error {
		s := sessions[i]
		start := time.Now()
		revoked := make(chan error, 1)
		go func() {
			err := revoker.call(ctx, http.MethodPost, "/admin/v1/users/"+s.userID+"/sessions/revoke", "", nil, revoker.adminToken, http.StatusOK, nil)
			mu.Lock()
			revokeTook = append(revokeTook, time.Since(start))
			mu.Unlock()
			revoked <- err
		}()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, region := range revocationRegions[1:] {
			wg.Go(func() {
				d, err := pollUntilRefused(ctx, clients[region], s.access, start)
				if err != nil {
					errs[j] = fmt.Errorf("poll %s: %w", region, err)
					return
				}
				mu.Lock()
				samples = append(samples, d)
				if region == s.home {
					atHome = append(atHome, d)
				} else {
					forwarded = append(forwarded, d)
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		if err := <-revoked; err != nil {
			return fmt.Errorf("revoke at %s: %w", revocationRegions[0], err)
		}
		return errors.Join(errs...)
	})
	if err != nil {
		return err
	}
	rep.comment("revocation: %d sessions homed in europe-west1 and asia-south1, revoked at us-east1 (4 at a time) in %.1fs, both other regions polled every %v; injected delay %v each way on forwarding and on every region's Redis as the others reach it",
		revocations, time.Since(began).Seconds(), revocationPoll, delay)
	rep.comment("revocation visible (revocation sent → first refused poll answered), %d samples: p50 %.1f ms, p90 %.1f ms, max %.1f ms",
		len(samples), ms(percentile(samples, 0.5)), ms(percentile(samples, 0.9)), ms(percentile(samples, 1)))
	rep.comment("revocation: the revoking request took p50 %.1f ms, max %.1f ms; visible at the home region p50 %.1f ms, max %.1f ms; at the region that forwards the poll home p50 %.1f ms, max %.1f ms",
		ms(percentile(revokeTook, 0.5)), ms(percentile(revokeTook, 1)), ms(percentile(atHome, 0.5)), ms(percentile(atHome, 1)),
		ms(percentile(forwarded, 0.5)), ms(percentile(forwarded, 1)))
	rep.figure("revocation_visible_p99_ms", ms(percentile(samples, 0.99)), "ms")
	return nil
}

// pollUntilRefused asks base for /v1/me with the token every
// revocationPoll, without waiting for the answers (a poll the region
// forwards to the home region takes a round trip, and waiting for it would
// add up to one more to the figure), until one answers 401; it returns the
// time from start to the end of the first refusal.
func pollUntilRefused(ctx context.Context, c *apiClient, access string, start time.Time) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	type answer struct {
		at  time.Duration
		err error
	}
	answers := make(chan answer, 64)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	tick := time.NewTicker(revocationPoll)
	defer tick.Stop()
	for {
		wg.Go(func() {
			err := c.call(ctx, http.MethodGet, "/v1/me", "", nil, access, http.StatusOK, nil)
			select {
			case answers <- answer{time.Since(start), err}:
			default: // the result is decided already
			}
		})
		for drained := false; !drained; {
			select {
			case a := <-answers:
				if he := (*httpError)(nil); errors.As(a.err, &he) && he.status == http.StatusUnauthorized {
					return a.at, nil
				} else if a.err != nil {
					return 0, a.err
				}
			case <-ctx.Done():
				return 0, errors.New("the revoked token was still accepted after 30s")
			case <-tick.C:
				drained = true
			}
		}
	}
}

// forEach runs fn(0..n-1) on at most workers goroutines and returns the
// first error.
func forEach(ctx context.Context, n, workers int, fn func(int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for i := range next {
				if ctx.Err() != nil {
					continue
				}
				if err := fn(i); err != nil {
					cancel(err)
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// startRedisServer runs a redis-server of the bench's own on a free port
// (no persistence) and returns its port and how to stop it.
func startRedisServer(ctx context.Context) (int, func(), error) {
	port, err := freeLoopbackPort()
	if err != nil {
		return 0, nil, err
	}
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return 0, nil, fmt.Errorf("start redis-server (needed by the revocation phase): %w", err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	deadline := time.Now().Add(5 * time.Second)
	for {
		if out, err := exec.CommandContext(ctx, "redis-cli", "-p", strconv.Itoa(port), "ping").Output(); err == nil && string(out) == "PONG\n" {
			return port, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			return 0, nil, errors.New("redis-server did not answer within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
