package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/app/oidc"
	"github.com/gatehouse-id/gatehouse/app/store"
)

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// cmdClients runs `clients create|list|show|rotate-secret|delete`, writing
// JSON. A new or rotated secret is printed once; only its hash is stored.
func cmdClients(ctx context.Context, args []string, getenv env, std stdio) error {
	if len(args) == 0 {
		return usagef("clients: want create, list, show ID, rotate-secret ID or delete ID")
	}
	sub, rest := args[0], args[1:]
	var id string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		id, rest = rest[0], rest[1:]
	}
	var spec oidc.ClientSpec
	var redirects, postLogout stringList
	var overlap time.Duration
	cfg, fs, err := commonFlags("clients "+sub, rest, getenv, std, needDatabase, func(fs *flag.FlagSet) {
		switch sub {
		case "create":
			fs.StringVar(&spec.ID, "id", "", "client_id (default: generated)")
			fs.StringVar(&spec.Name, "name", "", "name shown on the consent page")
			fs.BoolVar(&spec.Confidential, "confidential", false, "a confidential client (gets a secret)")
			fs.BoolVar(&spec.FirstParty, "first-party", false, "a first-party client (no consent page)")
			fs.Var(&redirects, "redirect-uri", "a redirect URI (repeat for more)")
			fs.Var(&postLogout, "post-logout-redirect-uri", "a post-logout redirect URI (repeat for more)")
		case "rotate-secret":
			fs.DurationVar(&overlap, "overlap", 24*time.Hour, "how long the previous secret keeps working")
		}
	})
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("clients %s: unexpected argument %q", sub, fs.Arg(0))
	}
	needID := sub == "show" || sub == "rotate-secret" || sub == "delete"
	if needID != (id != "") {
		return usagef("clients %s: want %s", sub, map[bool]string{true: "exactly one client id", false: "no positional argument"}[needID])
	}
	logger := newLogger(cfg, std.err)
	db, err := store.Open(ctx, cfg.Database.URL, store.Options{Logger: logger, MaxConns: 2, Region: cfg.Region})
	if err != nil {
		return err
	}
	defer db.Close()
	prov := oidc.New(oidc.Config{Issuer: cfg.Issuer}, oidc.Deps{Store: db, Logger: logger})
	enc := json.NewEncoder(std.out)
	enc.SetIndent("", "  ")
	switch sub {
	case "create":
		spec.RedirectURIs, spec.PostLogoutRedirectURIs = redirects, postLogout
		c, secret, err := prov.CreateClient(ctx, spec)
		if err != nil {
			return err
		}
		v := clientJSON(c)
		if secret != "" {
			v["client_secret"] = secret
		}
		return enc.Encode(v)
	case "list":
		list, err := prov.ListClients(ctx)
		if err != nil {
			return err
		}
		out := make([]map[string]any, 0, len(list))
		for _, c := range list {
			out = append(out, clientJSON(c))
		}
		return enc.Encode(map[string]any{"clients": out})
	case "show":
		c, err := prov.Client(ctx, id)
		if err != nil {
			return err
		}
		return enc.Encode(clientJSON(c))
	case "rotate-secret":
		secret, err := prov.RotateSecret(ctx, id, overlap)
		if err != nil {
			return err
		}
		c, err := prov.Client(ctx, id)
		if err != nil {
			return err
		}
		v := clientJSON(c)
		v["client_secret"] = secret
		return enc.Encode(v)
	case "delete":
		if err := prov.DeleteClient(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(std.err, "client %s deleted\n", id)
		return nil
	}
	return usagef("clients: unknown subcommand %q", sub)
}

// clientJSON is a client without its secret hashes.
func clientJSON(c oidc.Client) map[string]any {
	v := map[string]any{"client_id": c.ID, "name": c.Name, "confidential": c.Confidential, "first_party": c.FirstParty,
		"redirect_uris": c.RedirectURIs, "post_logout_redirect_uris": c.PostLogoutRedirectURIs,
		"created_at": c.CreatedAt.UTC().Format(time.RFC3339)}
	if c.PreviousSecretHash != nil && c.PreviousSecretExpiresAt != nil {
		v["previous_secret_expires_at"] = c.PreviousSecretExpiresAt.UTC().Format(time.RFC3339)
	}
	return v
}
