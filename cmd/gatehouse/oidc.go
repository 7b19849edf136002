package main

import (
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/oidc"
	"github.com/gatehouse-id/gatehouse/app/store"
	"github.com/gatehouse-id/gatehouse/app/token"
	"github.com/gatehouse-id/gatehouse/app/web"
	"github.com/gatehouse-id/gatehouse/keys"
)

// newProvider wires the OpenID Connect provider and the hosted pages to
// the account service, the store and the key ring; the pages' user-scoped
// requests follow the JSON API's region routing (regions, the API).
func newProvider(cfg *Config, db *store.DB, svc *auth.Service, ring *keys.Ring, regions web.Regions, logger *slog.Logger) (*oidc.Provider, *web.Pages) {
	now := time.Now
	prov := oidc.New(oidc.Config{Issuer: cfg.Issuer}, oidc.Deps{
		Store:    db,
		Accounts: svc,
		Signer:   token.NewIssuer(cfg.Issuer, ring, cfg.Tokens.AccessTTL, now),
		HintKeys: token.NewLocalKeySet(ring),
		Logger:   logger,
		Now:      now,
	})
	pages := &web.Pages{Accounts: svc, OIDC: prov, Issuer: cfg.Issuer, Logger: logger, Now: now, Regions: regions}
	return prov, pages
}

// routes registers the JSON API and the hosted pages.
func routes(register ...func(*echo.Echo)) func(*echo.Echo) {
	return func(e *echo.Echo) {
		for _, r := range register {
			r(e)
		}
	}
}
