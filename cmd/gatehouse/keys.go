package main

import (
	"context"
	"fmt"

	"github.com/gatehouse-id/gatehouse/keys"
	"github.com/gatehouse-id/gatehouse/keys/local"
	"github.com/gatehouse-id/gatehouse/keys/transit"
)

// keySource is what the key commands and the server need of a key source;
// both Vault Transit and the local keyring provide it.
type keySource interface {
	keys.Loader
	Init(ctx context.Context) error
	Rotate(ctx context.Context, p keys.Purpose) error
}

// newKeySource picks the key source the configuration names.
func newKeySource(cfg *Config) (keySource, error) {
	switch cfg.Keys.Source {
	case "local":
		return local.New(cfg.Keys.LocalDir), nil
	case "vault":
		src, err := transit.New(transit.Config{
			Address: cfg.Vault.Addr, Token: cfg.Vault.Token, Mount: cfg.Vault.TransitMount,
			PepperKey: cfg.Vault.PepperKey, SigningKey: cfg.Vault.SigningKey,
			Auth: transit.Auth{
				Method: cfg.Vault.Auth, Mount: cfg.Vault.AuthMount, Role: cfg.Vault.Role,
				JWTFile: cfg.Vault.JWTFile, RoleID: cfg.Vault.RoleID, SecretIDFile: cfg.Vault.SecretIDFile,
			},
		})
		if err != nil {
			return nil, &configError{key: "VAULT_ADDR", msg: err.Error()}
		}
		return src, nil
	}
	return nil, &configError{key: "GATEHOUSE_KEYS", msg: "want vault or local"}
}

// cmdKeys runs `keys init` and `keys rotate signing|pepper`.
func cmdKeys(ctx context.Context, args []string, getenv env, std stdio) error {
	if len(args) == 0 {
		return usagef("keys: want init or rotate signing|pepper")
	}
	sub, rest := args[0], args[1:]
	var purpose keys.Purpose
	switch sub {
	case "init":
	case "rotate":
		if len(rest) == 0 {
			return usagef("keys rotate: want signing or pepper")
		}
		p, err := keys.ParsePurpose(rest[0])
		if err != nil {
			return usagef("keys rotate: %v", err)
		}
		purpose, rest = p, rest[1:]
	default:
		return usagef("keys: unknown subcommand %q (want init or rotate)", sub)
	}
	cfg, fs, err := commonFlags("keys "+sub, rest, getenv, std, needKeys, nil)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("keys %s: unexpected argument %q", sub, fs.Arg(0))
	}
	src, err := newKeySource(cfg)
	if err != nil {
		return err
	}
	if sub == "init" {
		if err := src.Init(ctx); err != nil {
			return err
		}
	} else if err := src.Rotate(ctx, purpose); err != nil {
		return err
	}
	set, err := src.Load(ctx)
	if err != nil {
		return err
	}
	if err := set.Validate(); err != nil {
		return err
	}
	fmt.Fprintf(std.out, "keys (%s): pepper version %d, signing key %s (%d live versions)\n",
		cfg.Keys.Source, set.Pepper().Version, set.Signer().KID(), len(set.Signing))
	return nil
}
