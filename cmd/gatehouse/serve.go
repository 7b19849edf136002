package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/gatehouse-id/gatehouse/app/cache"
	"github.com/gatehouse-id/gatehouse/app/httpapi"
	"github.com/gatehouse-id/gatehouse/app/importer"
	"github.com/gatehouse-id/gatehouse/app/metrics"
	"github.com/gatehouse-id/gatehouse/app/outbox"
	"github.com/gatehouse-id/gatehouse/app/store"
	"github.com/gatehouse-id/gatehouse/app/token"
	"github.com/gatehouse-id/gatehouse/app/tracing"
)

// pingFunc adapts a function to httpapi.Pinger.
type pingFunc func(ctx context.Context) error

func (f pingFunc) Ping(ctx context.Context) error { return f(ctx) }

// cmdServe runs the regional HTTP server until ctx ends (SIGTERM or
// SIGINT), then drains requests in flight and closes the pools.
func cmdServe(ctx context.Context, args []string, getenv env, std stdio) error {
	cfg, _, err := commonFlags("serve", args, getenv, std, needServer|needDatabase|needKeys, nil)
	if err != nil {
		return err
	}
	topo, err := loadTopology(cfg)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, std.err).With("region", cfg.Region)
	logger.Info("configuration", cfg.masked()...)

	tracer, stopTracing, err := newTracer(ctx, getenv, cfg.Region, logger)
	if err != nil {
		return err
	}
	defer stopTracing()
	db, err := store.Open(ctx, cfg.Database.URL, store.Options{Logger: logger, MaxConns: int32(cfg.Database.MaxConns), Region: cfg.Region, Tracer: tracer})
	if err != nil {
		return err
	}
	defer db.Close()
	rdb, err := cache.NewClient(cfg.Redis.URL)
	if err != nil {
		return &configError{key: "GATEHOUSE_REDIS_URL", msg: err.Error()}
	}
	defer rdb.Close()
	if tracer != nil {
		rdb.AddHook(tracing.RedisHook{Tracer: tracer})
	}
	if err := cache.Ping(ctx, rdb); err != nil {
		logger.Warn("redis unavailable at start; serving with in-process fallbacks until it answers", "error", err)
	}

	m := metrics.New()
	ring, err := loadKeyRing(ctx, cfg, logger)
	if err != nil {
		return err
	}
	go ring.Run(ctx, cfg.Keys.RefreshInterval)
	revocations, closeRemotes, err := newRevocations(cfg, topo, db, rdb, m, logger)
	if err != nil {
		return err
	}
	defer closeRemotes()
	go revocations.Run(ctx)
	pipe, err := startEvents(ctx, cfg, db, m, logger)
	if err != nil {
		return err
	}
	defer pipe.stop() // before db.Close: the batcher flushes into it
	svc, guard, err := newAuthService(ctx, cfg, db, rdb, revocations, ring, m, logger, serviceExtras{Events: pipe.batcher, Tracer: tracer})
	if err != nil {
		return err
	}
	watcher := &opsWatcher{region: cfg.Region, ring: ring, guard: guard, m: m, rec: pipe.batcher, log: logger}
	// The watcher's first look is taken before the server answers: a mode
	// an operator sets right after start is then a change it records, not
	// the mode it started from (a test lost that event on a busy machine).
	watcher.once(ctx, time.Now())
	go watcher.run(ctx, 10*time.Second)
	go svc.Run(ctx)
	go purgeLoop(ctx, db, cfg.Region, logger)
	if cfg.Outbox.Sender == "console" {
		go outbox.NewDispatcher(db, outbox.NewConsole(std.out), cfg.Region, time.Second, logger, time.Now).Run(ctx)
	}
	fwd, err := newForwarding(cfg, topo, rdb, m, logger)
	if err != nil {
		return err
	}
	api := &httpapi.API{
		Auth:          svc,
		Issuer:        cfg.Issuer,
		JWKS:          func() ([]byte, error) { return token.JWKS(ring.SigningKeys()) },
		AdminToken:    cfg.AdminToken,
		Region:        cfg.Region,
		Logger:        logger,
		Residency:     cfg.Residency.Rules,
		CountryHeader: cfg.Residency.Header,
		TrustedPeer:   httpapi.TrustedPeer(cfg.HTTP.TrustedProxies),
	}
	if guard != nil {
		api.Defense = defenseModes{guard}
	}
	api.Audit = db
	api.Importer = adminImporter{imp: importer.New(db, logger, time.Now), region: cfg.Region, regions: topo.Names()}
	if fwd != nil {
		api.Forwarding = fwd
	}
	provider, pages := newProvider(cfg, db, svc, ring, api, logger)
	api.OIDC = provider

	srv := httpapi.New(httpapi.Config{
		Region:         cfg.Region,
		TrustedProxies: cfg.HTTP.TrustedProxies,
		ReadTimeout:    cfg.HTTP.ReadTimeout,
		WriteTimeout:   cfg.HTTP.WriteTimeout,
		IdleTimeout:    cfg.HTTP.IdleTimeout,
	}, httpapi.Deps{
		Logger:  logger,
		Metrics: m,
		Ready: map[string]httpapi.Pinger{
			"database": db,
			"redis":    pingFunc(func(ctx context.Context) error { return cache.Ping(ctx, rdb) }),
		},
		Routes: routes(api.Register, pages.Register),
		Tracer: tracer,
	})

	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTP.Addr, err)
	}
	logger.Info("listening", "addr", ln.Addr().String())
	if err := srv.Serve(ctx, ln, cfg.HTTP.ShutdownTimeout); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}
