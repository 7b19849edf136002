// Command bench is Gatehouse's benchmark harness (`make bench`). It creates
// a throw-away PostgreSQL database, starts bin/gatehouse on a free loopback
// port against it and the local Redis, measures the figures of the
// contract's section 6 and prints one `BENCH <name> <value> <unit>` line per
// figure on stdout, with `#` comment lines describing the conditions.
// Progress goes to stderr. Run it from the repository root, after
// `make build`; -quick gives tiny durations for a smoke run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// benchConfig is the harness's settings after flags and defaults.
type benchConfig struct {
	root, bin          string
	adminDatabaseURL   string
	redisURL           string
	argon2             argon2Params
	window             time.Duration
	cores              int
	loginClients       int
	clients            int
	users              int
	sessions           int
	timingPairs        int
	maxOpsPerFigure    int64
	quick              bool
	serverLogLevel     string
	explicitWindowFlag bool
	crossRegionDelay   time.Duration
	phases             string
	phaseSet           map[string]bool
}

// allPhases are the bench's phases in the order they run.
var allPhases = []string{"capacity", "oidc", "cross-region", "revocation", "import", "stuffing", "shared-address", "events"}

// capacityParts are the parts of the capacity phase, which -phases also
// takes one by one: hashing (argon2_raw and login), verify, timing
// (login_unknown_vs_known_ratio), and refresh (refresh and introspect).
var capacityParts = []string{"hashing", "verify", "timing", "refresh"}

// runs reports whether phase (or capacity part) was asked for.
func (c benchConfig) runs(phase string) bool {
	if phase == "capacity" {
		return slices.ContainsFunc(capacityParts, func(p string) bool { return c.phaseSet[p] })
	}
	return c.phaseSet[phase]
}

func main() {
	quick := flag.Bool("quick", false, "tiny durations and counts, for a smoke run while others use the machine")
	duration := flag.Duration("duration", 10*time.Second, "measured window of each figure (1s with -quick unless given)")
	clients := flag.Int("clients", 0, "concurrent clients for refresh and introspection (0: 32, or 8 with -quick)")
	loginClients := flag.Int("login-clients", 0, "concurrent login clients (0: 2 × cores, so the server's hashing queue of 4 × cores never overflows)")
	users := flag.Int("users", 0, "accounts signed up for the login figures (0: 8, or 4 with -quick)")
	sessions := flag.Int("sessions", 0, "sessions rotated by the refresh clients (0: 64, or 8 with -quick; at least -clients)")
	timingPairs := flag.Int("timing-pairs", 0, "most unknown/known rejected-login pairs timed (0: 200, or 6 with -quick)")
	memoryKiB := flag.Uint("argon2-memory-kib", 65536, "Argon2id memory (m) in KiB, for the server and argon2_raw_per_s")
	iterations := flag.Uint("argon2-iterations", 3, "Argon2id iterations (t)")
	parallelism := flag.Uint("argon2-parallelism", 1, "Argon2id lanes (p)")
	bin := flag.String("bin", "bin/gatehouse", "the gatehouse binary (relative to -root)")
	root := flag.String("root", ".", "the repository root (working directory of the server; regions/local.yaml lives there)")
	adminDB := flag.String("pg-admin-url", "postgresql://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL connection used to create and drop the bench database")
	redisURL := flag.String("redis-url", "redis://127.0.0.1:6379/13", "Redis the server uses")
	maxOps := flag.Int64("max-ops", 20_000_000, "most operations started per figure (each figure also stops at its time)")
	serverLog := flag.String("server-log-level", "warn", "GATEHOUSE_LOG_LEVEL of the server")
	crossDelay := flag.Duration("cross-region-delay", 70*time.Millisecond, "one-way delay injected between regions for the cross-region figure")
	phases := flag.String("phases", strings.Join(allPhases, ","), "comma-separated phases to measure: "+strings.Join(allPhases, ", ")+
		" (or parts of capacity: "+strings.Join(capacityParts, ", ")+")")
	attacker := flag.Bool("stuffing-attacker", false, "internal: be the stuffing phase's attack process (job on stdin, report on stdout)")
	broker := flag.Bool("kfake-broker", false, "internal: be the events phase's Kafka broker process (addresses on stdout, until stdin closes)")
	flag.Parse()
	if *attacker {
		os.Exit(attackerMain())
	}
	if *broker {
		os.Exit(brokerMain())
	}

	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	explicitDuration := false
	flag.Visit(func(f *flag.Flag) { explicitDuration = explicitDuration || f.Name == "duration" })
	cfg, err := newBenchConfig(benchConfig{
		root: *root, bin: *bin, adminDatabaseURL: *adminDB, redisURL: *redisURL,
		argon2: argon2Params{memoryKiB: uint32(*memoryKiB), iterations: uint32(*iterations), parallelism: uint8(*parallelism)},
		window: *duration, cores: runtime.GOMAXPROCS(0), loginClients: *loginClients, clients: *clients,
		users: *users, sessions: *sessions, timingPairs: *timingPairs, maxOpsPerFigure: *maxOps,
		quick: *quick, serverLogLevel: *serverLog, explicitWindowFlag: explicitDuration, crossRegionDelay: *crossDelay,
		phases: *phases,
	}, *memoryKiB, *iterations, *parallelism)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, cfg, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: FAILED:", err)
		os.Exit(1)
	}
}

// newBenchConfig fills in the automatic values and checks the settings.
func newBenchConfig(c benchConfig, memoryKiB, iterations, parallelism uint) (benchConfig, error) {
	auto := func(v *int, full, quick int) {
		if *v <= 0 {
			*v = full
			if c.quick {
				*v = quick
			}
		}
	}
	auto(&c.clients, 32, 8)
	auto(&c.loginClients, 2*c.cores, 2*c.cores)
	auto(&c.users, 8, 4)
	auto(&c.sessions, 64, 8)
	auto(&c.timingPairs, 200, 6)
	c.sessions = max(c.sessions, c.clients)
	c.phaseSet = map[string]bool{}
	if c.phases == "" {
		c.phases = strings.Join(allPhases, ",")
	}
	for _, p := range strings.Split(c.phases, ",") {
		p = strings.TrimSpace(p)
		switch {
		case p == "capacity":
			for _, part := range capacityParts {
				c.phaseSet[part] = true
			}
		case slices.Contains(allPhases, p) || slices.Contains(capacityParts, p):
			c.phaseSet[p] = true
		default:
			return c, fmt.Errorf("-phases: unknown phase %q (want some of %s, or of capacity's parts %s)",
				p, strings.Join(allPhases, ", "), strings.Join(capacityParts, ", "))
		}
	}
	if c.quick && !c.explicitWindowFlag {
		c.window = time.Second
	}
	switch {
	case memoryKiB < 8*1024 || memoryKiB > 256*1024:
		return c, errors.New("-argon2-memory-kib: want 8192 to 262144")
	case iterations < 1 || iterations > 16:
		return c, errors.New("-argon2-iterations: want 1 to 16")
	case parallelism < 1 || parallelism > 16:
		return c, errors.New("-argon2-parallelism: want 1 to 16")
	case c.window <= 0:
		return c, errors.New("-duration: must be positive")
	case c.maxOpsPerFigure < 1:
		return c, errors.New("-max-ops: must be positive")
	}
	if err := checkLoopback("pg-admin-url", c.adminDatabaseURL); err != nil {
		return c, err
	}
	if err := checkLoopback("redis-url", c.redisURL); err != nil {
		return c, err
	}
	if _, err := os.Stat(filepath.Join(c.root, "regions", "local.yaml")); err != nil {
		return c, fmt.Errorf("-root %s: no regions/local.yaml there (run from the repository root): %w", c.root, err)
	}
	if bin := (serverSetup{root: c.root, bin: c.bin}).binPath(); !isExecutable(bin) {
		return c, fmt.Errorf("-bin %s: not an executable file (run `make build` first)", bin)
	}
	return c, nil
}

// run sets up the database and the server, measures every figure and
// prints them on out, and tears everything down again.
func run(ctx context.Context, cfg benchConfig, out io.Writer) (err error) {
	began := time.Now()
	rep := &reporter{w: out}
	rep.comment("gatehouse bench: %d cores (GOMAXPROCS), %s, load average at start %s", cfg.cores, runtime.Version(), loadAverage())
	quickNote := ""
	if cfg.quick {
		quickNote = " (-quick: figures are rough)"
	}
	rep.comment("argon2id %s (server and argon2_raw_per_s), %s windows after a %s warm-up each%s",
		cfg.argon2, cfg.window, warmupFor(cfg.window), quickNote)
	rep.comment("login clients %d, refresh/introspect clients %d, users %d, refresh sessions %d", cfg.loginClients, cfg.clients, cfg.users, cfg.sessions)
	rep.comment("defense layers off for the capacity and timing figures; on for the stuffing phase")

	db, err := createDatabase(ctx, cfg.adminDatabaseURL)
	if err != nil {
		return err
	}
	slog.Info("created database", "name", redactURL(db.url))
	defer func() {
		if derr := db.drop(context.WithoutCancel(ctx)); derr != nil {
			err = errors.Join(err, derr)
		}
	}()
	keysDir, err := os.MkdirTemp("", "gatehouse-bench-keys-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(keysDir)
	port, err := freeLoopbackPort()
	if err != nil {
		return err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	adminToken := "bench-admin-" + randomHex(16)
	setup := serverSetup{root: cfg.root, bin: cfg.bin, env: map[string]string{
		"GATEHOUSE_REGION":             "us-east1",
		"GATEHOUSE_REGIONS_FILE":       "regions/local.yaml",
		"GATEHOUSE_HTTP_ADDR":          "127.0.0.1:" + strconv.Itoa(port),
		"GATEHOUSE_DATABASE_URL":       db.url,
		"GATEHOUSE_REDIS_URL":          cfg.redisURL,
		"GATEHOUSE_ISSUER":             base,
		"GATEHOUSE_KEYS":               "local",
		"GATEHOUSE_LOCAL_KEYS_DIR":     keysDir,
		"GATEHOUSE_ADMIN_TOKEN":        adminToken,
		"GATEHOUSE_ARGON2_MEMORY_KIB":  strconv.FormatUint(uint64(cfg.argon2.memoryKiB), 10),
		"GATEHOUSE_ARGON2_ITERATIONS":  strconv.FormatUint(uint64(cfg.argon2.iterations), 10),
		"GATEHOUSE_ARGON2_PARALLELISM": strconv.FormatUint(uint64(cfg.argon2.parallelism), 10),
		"GATEHOUSE_LOG_LEVEL":          cfg.serverLogLevel,
		// The capacity figures replay many logins from one address, and the
		// timing figure fails one account on purpose again and again: the
		// defense layers would (rightly) challenge them. They are off here
		// and measured, on, in the stuffing phase.
		"GATEHOUSE_DEFENSE_ENABLED": "false",
	}}
	rep.comment("server %s: %s", setup.binPath(), setup.version(ctx))
	client := newAPIClient(base, adminToken, max(cfg.clients, cfg.loginClients)+4)
	defer client.close()
	slog.Info("starting gatehouse serve", "addr", base)
	server, err := prepareAndServe(ctx, setup, client)
	if err != nil {
		return err
	}
	defer func() {
		if serr := server.stop(); serr != nil {
			err = errors.Join(err, serr)
		}
	}()
	if cfg.runs("capacity") {
		if err := measureAll(ctx, cfg, rep, client, server); err != nil {
			return err
		}
	}
	if cfg.runs("oidc") {
		if err := measureOIDC(ctx, cfg, rep, client); err != nil {
			return errors.Join(err, server.alive())
		}
	}
	if cfg.runs("cross-region") {
		pairs := 20
		if cfg.quick {
			pairs = 3
		}
		if err := measureCrossRegion(ctx, cfg, rep, setup, cfg.crossRegionDelay, pairs); err != nil {
			return err
		}
	}
	if cfg.runs("revocation") {
		revocations := 500
		if cfg.quick {
			revocations = 20
		}
		if err := measureRevocation(ctx, cfg, rep, setup, cfg.crossRegionDelay, revocations); err != nil {
			return err
		}
	}
	if cfg.runs("import") {
		importUsers, wraps := 200_000, 100*cfg.cores
		if cfg.quick {
			importUsers, wraps = 5_000, 2*cfg.cores
		}
		if err := measureImport(ctx, cfg, rep, setup, importUsers, wraps); err != nil {
			return err
		}
	}
	if cfg.runs("stuffing") {
		if err := measureStuffing(ctx, cfg, rep, setup); err != nil {
			return err
		}
	}
	if cfg.runs("shared-address") {
		if err := measureSharedAddress(ctx, cfg, rep, setup); err != nil {
			return err
		}
	}
	if cfg.runs("events") {
		backlog := 200_000
		if cfg.quick {
			backlog = 5_000
		}
		if err := measureEvents(ctx, cfg, rep, setup, db.url, backlog); err != nil {
			return err
		}
	}
	rep.comment("total %.1fs", time.Since(began).Seconds())
	return rep.problem()
}

// roundsOf is how many parts each of the compared loads is measured in,
// alternating A B B A A B …: one per part of at most part, at least two.
// This machine's speed drifts by up to a quarter within a minute (Argon2id
// alone went from 14.2 to 18.0 hashes/s in 40 s), so parts of a few seconds
// see the same machine; parts of 15 s did not, and their ratio swung by
// ±10 % from run to run.
func roundsOf(window, part time.Duration) int { return max(2, int(window/part)) }

// measureAll measures and prints every figure of the capacity parts asked
// for, in turn. Figures compared with each other are measured in
// alternating rounds: Argon2id alone (the server idle) with HTTP logins,
// and the verifier with bare ECDSA.
func measureAll(ctx context.Context, cfg benchConfig, rep *reporter, client *apiClient, server *serverProcess) error {
	runID := randomHex(4)
	slog.Info("signing up users", "n", cfg.users)
	users := newUserCredentials(runID, cfg.users)
	if err := signUpAll(ctx, client, users, cfg.loginClients); err != nil {
		return errors.Join(err, server.alive())
	}
	sessions := newSessionPool(cfg.sessions)
	if cfg.runs("hashing") {
		if err := measureHashing(ctx, cfg, rep, client, users, sessions); err != nil {
			return errors.Join(err, server.alive())
		}
	}
	if cfg.runs("verify") {
		if err := measureVerify(ctx, cfg, rep); err != nil {
			return err
		}
	}
	if cfg.runs("timing") {
		slog.Info("measuring login_unknown_vs_known_ratio")
		timing, err := measureEnumerationTiming(ctx, client, runID, users, 4*cfg.window, cfg.timingPairs) // medians need many pairs: 4 windows
		if err != nil {
			return errors.Join(err, server.alive())
		}
		rep.comment("rejected logins, 1 client, %d pairs: unknown email median %s, known email + wrong password median %s",
			timing.samples, roundDuration(timing.unknownMedian), roundDuration(timing.knownMedian))
		rep.figure("login_unknown_vs_known_ratio", timing.ratio(), "ratio")
	}
	if cfg.runs("refresh") {
		if err := measureSessions(ctx, cfg, rep, client, users, sessions); err != nil {
			return errors.Join(err, server.alive())
		}
	}
	return server.alive()
}

// measureHashing prints argon2_raw_per_s, login_per_s and their ratio. The
// sessions the logins open go to sessions, for the refresh figure.
func measureHashing(ctx context.Context, cfg benchConfig, rep *reporter, client *apiClient, users []credentials, sessions *sessionPool) error {
	slog.Info("measuring argon2_raw_per_s and login_per_s")
	// A window holds only about 100 logins: three windows each keep the
	// ratio's noise near ±5 % instead of ±10 %.
	hashWindow := 3 * cfg.window
	before, err := client.hashStats(ctx)
	if err != nil {
		return err
	}
	hashing, err := runRounds(ctx, roundsOf(hashWindow, 5*time.Second),
		argon2RawLoad(cfg.argon2, cfg.cores, hashWindow, cfg.maxOpsPerFigure),
		loginLoad(client, users, cfg.loginClients, hashWindow, cfg.maxOpsPerFigure, sessions))
	if err != nil {
		return err
	}
	after, err := client.hashStats(ctx)
	if err != nil {
		return err
	}
	raw, login := hashing[0], hashing[1]
	rep.load("argon2_raw (Argon2id in kept memory, no service)", cfg.cores, raw)
	rep.figure("argon2_raw_per_s", raw.perSecond(), "hashes/s")
	rep.load("login (POST /v1/login, correct password)", cfg.loginClients, login)
	rep.comment("login: %d answers 503 overloaded (the hashing queue was full); the server's own mean Argon2id time %s (argon2_raw's %s)",
		login.failures["HTTP 503 overloaded"], roundDuration(after.meanSince(before)), roundDuration(raw.meanLatency()))
	rep.figure("login_per_s", login.perSecond(), "logins/s")
	rep.figure("login_vs_argon2_ratio", login.perSecond()/raw.perSecond(), "ratio")
	return nil
}

// measureVerify prints verify_per_s and verify_vs_crypto_ratio.
func measureVerify(ctx context.Context, cfg benchConfig, rep *reporter) error {
	slog.Info("measuring verify_per_s")
	fixture, err := newVerifyFixture()
	if err != nil {
		return err
	}
	verifying, err := runRounds(ctx, roundsOf(cfg.window, time.Second),
		fixture.verifyLoad(cfg.cores, cfg.window, cfg.maxOpsPerFigure),
		fixture.bareECDSALoad(cfg.cores, cfg.window, cfg.maxOpsPerFigure),
		fixture.asn1ECDSALoad(cfg.cores, cfg.window, cfg.maxOpsPerFigure))
	if err != nil {
		return err
	}
	verify, bare, asn1 := verifying[0], verifying[1], verifying[2]
	rep.load("verify (token.Verifier.Verify, in-process)", cfg.cores, verify)
	rep.load("verify_bare (ecdsa.Verify, big.Int r and s, same signature and digest)", cfg.cores, bare)
	rep.load("verify_asn1 (ecdsa.VerifyASN1, DER, same signature and digest)", cfg.cores, asn1)
	rep.comment("verify / ecdsa.VerifyASN1 = %s (a reference only)", plainNumber(verify.perSecond()/asn1.perSecond()))
	rep.figure("verify_per_s", verify.perSecond(), "verifications/s")
	rep.figure("verify_vs_crypto_ratio", verify.perSecond()/bare.perSecond(), "ratio")
	return nil
}

// measureSessions prints refresh_per_s and then introspect_per_s, with the
// access tokens the refresh figure's last rotations issued.
func measureSessions(ctx context.Context, cfg benchConfig, rep *reporter, client *apiClient, users []credentials, sessions *sessionPool) error {
	slog.Info("logging in refresh sessions", "have", sessions.len(), "need", cfg.sessions)
	if err := topUpSessions(ctx, client, users, cfg.loginClients, cfg.sessions, sessions); err != nil {
		return err
	}
	slog.Info("measuring refresh_per_s")
	refreshClients := min(cfg.clients, cfg.sessions)
	refresh, alive, err := measureRefresh(ctx, client, sessions.take(), refreshClients, cfg.window, cfg.maxOpsPerFigure)
	if err != nil {
		return err
	}
	rep.load(fmt.Sprintf("refresh (POST /oauth2/token, %d sessions)", cfg.sessions), refreshClients, refresh)
	rep.figure("refresh_per_s", refresh.perSecond(), "rotations/s")

	slog.Info("measuring introspect_per_s")
	accessTokens := make([]string, len(alive))
	for i, tp := range alive {
		accessTokens[i] = tp.AccessToken
	}
	if len(accessTokens) == 0 {
		return errors.New("introspect: no live session left after the refresh figure")
	}
	introspect, err := measureIntrospect(ctx, client, accessTokens, cfg.clients, cfg.window, cfg.maxOpsPerFigure)
	if err != nil {
		return err
	}
	rep.load(fmt.Sprintf("introspect (POST /oauth2/introspect, %d access tokens)", len(accessTokens)), cfg.clients, introspect)
	rep.figure("introspect_per_s", introspect.perSecond(), "introspections/s")
	return nil
}

// isExecutable reports whether path is a regular file with an execute bit.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// loadAverage is the first three fields of /proc/loadavg, or "unknown".
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	fields := strings.Fields(string(data))
	if len(fields) < 3 {
		return "unknown"
	}
	return strings.Join(fields[:3], " ")
}
