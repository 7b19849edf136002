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
	// Raw Argon2id and protect-legacy runs alternate (A B B A), as the
	// capacity figures do: this machine's speed drifts by up to a quarter
	// within a minute, more than the difference being measured.
	var raw loadResult
	var wrapped int
	var elapsedWrap time.Duration
	for round := range protectRounds {
		for k := range 2 {
			if (k == 0) == (round%2 == 0) {
				part, err := runLoad(ctx, argon2RawLoad(cfg.argon2, cfg.cores, cfg.window/2, cfg.maxOpsPerFigure))
				if err != nil {
					return err
				}
				raw.add(part)
				continue
			}
			n, took, err := protectOnce(ctx, cfg, base, small)
			if err != nil {
				return fmt.Errorf("protect-legacy: %w", err)
			}
			wrapped += n
			elapsedWrap += took
		}
	}
	perSecond := float64(wrapped) / elapsedWrap.Seconds()
	rep.comment("protect-legacy: %d credentials wrapped in %.1fs in %d runs alternating with raw Argon2id (argon2id %s, raw %.3g hashes/s on %d cores)",
		wrapped, elapsedWrap.Seconds(), protectRounds, cfg.argon2, raw.perSecond(), cfg.cores)
	rep.figure("protect_legacy_per_s", perSecond, "credentials/s")
	rep.figure("protect_legacy_vs_argon2_ratio", perSecond/raw.perSecond(), "ratio")
	return nil
}

// protectRounds is how many protect-legacy runs (and raw Argon2id windows)
// the protect figure alternates.
const protectRounds = 2

// protectOnce imports the legacy users of file into a fresh database and
// runs `gatehouse users protect-legacy`, which reports how many it wrapped
// and how long that took.
func protectOnce(ctx context.Context, cfg benchConfig, base serverSetup, file string) (wrapped int, took time.Duration, err error) {
	_, err = onFreshDatabase(ctx, cfg, base, func(setup serverSetup) error {
		if err := runOnce(ctx, setup, "users", "import", "--no-checkpoint", file); err != nil {
			return err
		}
		out, err := runCapture(ctx, setup, "users", "protect-legacy")
		if err != nil {
			return err
		}
		wrapped, took, err = wrappedCount(out)
		return err
	})
	return wrapped, took, err
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
	setup := base.with(nil)
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

var wrappedRE = regexp.MustCompile(`(\d+) wrapped\b.*; ([0-9.]+)s,`)

// wrappedCount reads protect-legacy's summary line: how many credentials it
// wrapped and how long its run took (from reading the first credential to
// writing the last, without the process's start).
func wrappedCount(out string) (int, time.Duration, error) {
	m := wrappedRE.FindStringSubmatch(out)
	if m == nil {
		return 0, 0, errors.New("protect-legacy printed no summary: " + out)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		return 0, 0, err
	}
	secs, err := strconv.ParseFloat(m[2], 64)
	if err != nil || secs <= 0 {
		return 0, 0, fmt.Errorf("protect-legacy summary: bad duration %q", m[2])
	}
	return n, time.Duration(secs * float64(time.Second)), nil
}
