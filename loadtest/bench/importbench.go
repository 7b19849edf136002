package main

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/gatehouse-id/gatehouse/app/importer"
	"github.com/gatehouse-id/gatehouse/app/store/storetest"
)

// measureImport prints import_users_per_s (users/s through `gatehouse
// users import` into PostgreSQL, each on a fresh database) and
// protect_legacy_vs_argon2_ratio (credentials wrapped per second by
// `gatehouse users protect-legacy` over raw Argon2id hashes per second
// with the same parameters, measured just before on the idle machine).
func measureImport(ctx context.Context, cfg benchConfig, rep *reporter, base serverSetup, users, wraps int) error {
	dir, err := os.MkdirTemp("", "gatehouse-bench-import-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	file := filepath.Join(dir, "users.jsonl")
	if err := writeLegacyUsers(file, users); err != nil {
		return err
	}
	elapsed, err := onFreshDatabase(ctx, cfg, base, func(setup serverSetup) error {
		return runOnce(ctx, setup, "users", "import", "--no-checkpoint", file)
	})
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	rep.comment("import: %d users (salted MD5 digests, JSON lines) in %.1fs through `gatehouse users import` (default --concurrency %d, --batch-size %d)",
		users, elapsed.Seconds(), importer.DefaultConcurrency, importer.DefaultBatchSize)
	rep.figure("import_users_per_s", float64(users)/elapsed.Seconds(), "users/s")

	small := filepath.Join(dir, "wrap.jsonl")
	if err := writeLegacyUsers(small, wraps); err != nil {
		return err
	}
	raw, err := runLoad(ctx, argon2RawLoad(cfg.argon2, cfg.cores, cfg.window/2, cfg.maxOpsPerFigure))
	if err != nil {
		return err
	}
	var wrapped int
	var elapsedWrap time.Duration
	_, err = onFreshDatabase(ctx, cfg, base, func(setup serverSetup) error {
		if err := runOnce(ctx, setup, "users", "import", "--no-checkpoint", small); err != nil {
			return err
		}
		start := time.Now()
		out, err := runCapture(ctx, setup, "users", "protect-legacy")
		if err != nil {
			return err
		}
		wrapped, err = wrappedCount(out)
		elapsedWrap = time.Since(start)
		return err
	})
	if err != nil {
		return fmt.Errorf("protect-legacy: %w", err)
	}
	perSecond := float64(wrapped) / elapsedWrap.Seconds()
	rep.comment("protect-legacy: %d credentials wrapped in %.1fs (argon2id %s, raw %.3g hashes/s on %d cores)", wrapped, elapsedWrap.Seconds(), cfg.argon2, raw.perSecond(), cfg.cores)
	rep.figure("protect_legacy_per_s", perSecond, "credentials/s")
	rep.figure("protect_legacy_vs_argon2_ratio", perSecond/raw.perSecond(), "ratio")
	return nil
}

// onFreshDatabase runs fn against a new migrated database with a fresh
// keyring and returns how long fn took.
func onFreshDatabase(ctx context.Context, cfg benchConfig, base serverSetup, fn func(serverSetup) error) (time.Duration, error) {
	url, drop, err := storetest.Create(ctx, cfg.adminDatabaseURL, "gatehouse_bench_import_")
	if err != nil {
		return 0, err
	}
	defer func() {
		if derr := drop(context.WithoutCancel(ctx)); derr != nil {
			slog.Warn("drop import database", "error", derr)
		}
	}()
	keysDir, err := os.MkdirTemp("", "gatehouse-bench-import-keys-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(keysDir)
	setup := base
	setup.env = map[string]string{}
	for k, v := range base.env {
		setup.env[k] = v
	}
	setup.env["GATEHOUSE_DATABASE_URL"] = url
	setup.env["GATEHOUSE_LOCAL_KEYS_DIR"] = keysDir
	for _, args := range [][]string{{"migrate"}, {"keys", "init"}} {
		if err := runOnce(ctx, setup, args...); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	err = fn(setup)
	return time.Since(start), err
}

// writeLegacyUsers writes n import lines with salted MD5 digests (a fast
// legacy hash: protect-legacy wraps every one of them).
func writeLegacyUsers(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	run := randomHex(4)
	for i := range n {
		salt := strconv.Itoa(i)
		sum := md5.Sum([]byte(salt + "password-" + salt))
		fmt.Fprintf(w, `{"email":"u%d-%s@bench.example","external_id":"legacy-%s-%d","password":{"algorithm":"md5","hash":"%s","encoding":"hex","salt":"%s","salt_position":"prefix"}}`+"\n",
			i, run, run, i, hex.EncodeToString(sum[:]), salt)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

var wrappedRE = regexp.MustCompile(`(\d+) wrapped`)

// wrappedCount reads protect-legacy's summary line.
func wrappedCount(out string) (int, error) {
	m := wrappedRE.FindStringSubmatch(out)
	if m == nil {
		return 0, errors.New("protect-legacy printed no summary: " + out)
	}
	return strconv.Atoi(m[1])
}
