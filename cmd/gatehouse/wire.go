package main

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/defense"
	"github.com/gatehouse-id/gatehouse/app/metrics"
	"github.com/gatehouse-id/gatehouse/app/mfa"
	"github.com/gatehouse-id/gatehouse/app/password"
	"github.com/gatehouse-id/gatehouse/app/store"
	"github.com/gatehouse-id/gatehouse/app/token"
	"github.com/gatehouse-id/gatehouse/keys"
)

// loadKeyRing loads the keys once (the server does not start without
// them); the caller refreshes the ring in the background.
func loadKeyRing(ctx context.Context, cfg *Config, logger *slog.Logger) (*keys.Ring, error) {
	src, err := newKeySource(cfg)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ring, err := keys.NewRing(lctx, src, logger)
	if err != nil {
		return nil, fmt.Errorf("load keys from %s: %w", cfg.Keys.Source, err)
	}
	return ring, nil
}

// argon2Params turns the configuration into hashing parameters.
func argon2Params(cfg *Config) (password.Params, error) {
	p := password.Params{MemoryKiB: cfg.Argon2.MemoryKiB, Iterations: cfg.Argon2.Iterations, Parallelism: cfg.Argon2.Parallelism}
	if err := p.Validate(); err != nil {
		return p, &configError{key: "GATEHOUSE_ARGON2_MEMORY_KIB", msg: err.Error()}
	}
	return p, nil
}

// newAuthService wires the account service to its adapters.
func newAuthService(ctx context.Context, cfg *Config, db *store.DB, rdb redis.UniversalClient, sessions auth.SessionCache, ring *keys.Ring, m *metrics.Metrics, logger *slog.Logger, extras serviceExtras) (*auth.Service, *defense.Guard, error) {
	params, err := argon2Params(cfg)
	if err != nil {
		return nil, nil, err
	}
	// One Argon2id computation per core at a time (memory: workers × m),
	// a short queue, and 503 overloaded beyond it.
	workers := runtime.GOMAXPROCS(0)
	m.Ops.HashWorkers.Set(float64(workers))
	pool := password.NewPool(workers, 4*workers, password.DefaultMaxWait, m)
	hasher, err := password.NewHasher(params, ring, pool)
	if err != nil {
		return nil, nil, err
	}
	blocklist, err := password.CommonPasswords()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now
	issuer := token.NewIssuer(cfg.Issuer, ring, cfg.Tokens.AccessTTL, now)
	verifier := token.NewVerifier(token.VerifierOptions{
		Issuer: cfg.Issuer, Audience: cfg.Tokens.Audience, Keys: token.NewLocalKeySet(ring), Now: now,
	})
	factors, err := newSecondFactors(cfg, db, ring)
	if err != nil {
		return nil, nil, err
	}
	// What the pool can hash per second, measured on this host at start
	// with every worker busy (which also brings their memory in).
	hashesPerSecond, err := hasher.MeasureCapacity(ctx)
	if err != nil {
		return nil, nil, err
	}
	guard, err := newGuard(cfg, rdb, ring, m, logger, hashesPerSecond)
	if err != nil {
		return nil, nil, err
	}
	var authGuard auth.Guard
	if guard != nil {
		authGuard = guard
	}
	bc, err := newBreachCheck(cfg, rdb, logger)
	if err != nil {
		return nil, nil, err
	}
	var authBreach auth.BreachCheck
	if bc != nil {
		authBreach = bc
	}
	return auth.New(auth.Config{
		Region:           cfg.Region,
		Audience:         cfg.Tokens.Audience,
		AccessTTL:        cfg.Tokens.AccessTTL,
		RefreshTTL:       cfg.Tokens.RefreshTTL,
		RefreshGrace:     cfg.Tokens.RefreshGrace,
		EnumerationGuard: cfg.Tokens.EnumerationGuard,
		RevocationSync:   cfg.Tokens.RevocationSync,
		// Admission lanes: enough logins in flight to keep the hashing
		// pool and its queue busy (workers + 4 × workers) with room for
		// cheap refusals, and no more: a login admitted beyond that would
		// cost its database reads only to be refused at the full hashing
		// queue (at a stuffing burst's onset, a sixth of the database's
		// CPU went to such reads). Logins from trusted devices have a lane
		// of their own, so a flood never queues in front of them (README,
		// "Login defense").
		MaxOpenLogins:   6 * workers,
		MaxDeviceLogins: 16 * workers,
		DeviceTTL:       cfg.Defense.DeviceTTL,
		BreachOnLogin:   cfg.Breach.OnLogin,
	}, auth.Deps{
		Store:  db,
		Hasher: traced(hasher, extras.Tracer),
		Pool:   pool,
		Policy: password.Policy{MinLength: cfg.Password.MinLength, Blocklist: blocklist},
		Issuer: issuer,
		// Resource servers introspect the same token many times: its
		// verified signature is remembered for a minute.
		Verifier: token.NewCachingVerifier(verifier, 50_000, time.Minute, now),
		Cache:    sessions, // revocations reach every region (newRevocations)
		MFA:      factors,
		Guard:    authGuard,
		Breach:   authBreach,
		Observer: m,
		Events:   extras.Events,
		Tracer:   extras.Tracer,
		Logger:   logger,
		Now:      now,
		// Device tokens carry a MAC, so the device lane admits no forgery.
		DeviceKeys: ring,
	}), guard, nil
}

// newSecondFactors wires TOTP, recovery codes and WebAuthn to the store;
// TOTP seeds are encrypted with keys derived from the pepper.
func newSecondFactors(cfg *Config, db *store.DB, ring *keys.Ring) (*auth.SecondFactors, error) {
	totp, err := mfa.NewTOTP(db, ring, mfa.TOTPConfig{Issuer: cfg.MFA.Name}, time.Now)
	if err != nil {
		return nil, err
	}
	recovery, err := mfa.NewRecoveryCodes(db, time.Now)
	if err != nil {
		return nil, err
	}
	wa, err := mfa.NewWebAuthn(db, mfa.WebAuthnConfig{RPID: cfg.MFA.RPID, RPDisplayName: cfg.MFA.Name, RPOrigins: cfg.MFA.Origins}, time.Now)
	if err != nil {
		return nil, &configError{key: "GATEHOUSE_MFA_RP_ID", msg: err.Error()}
	}
	return &auth.SecondFactors{TOTP: totp, Recovery: recovery, WebAuthn: wa, Pending: db}, nil
}
