package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"time"
)

// Build information, set with -ldflags "-X main.version=… -X main.commit=…".
var (
	version = "dev"
	commit  = ""
)

// env is how run reads the environment: os.LookupEnv in main, a map in tests.
type env func(string) (string, bool)

// io bundles the process's standard streams.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

const usageText = `usage: gatehouse <command> [flags]

commands:
  serve                        run the regional HTTP server
  migrate                      apply schema/ to the database (idempotent)
  keys init                    create the pepper and signing keys
  keys rotate signing|pepper   add a new version of a key
  users import FILE|- [--checkpoint FILE] [--concurrency N]
                               bulk import (JSON lines); resumable
  users protect-legacy         wrap every fast legacy hash in Argon2id
  clients create --name N --redirect-uri URI [--confidential] [--first-party]
  clients list | show ID | rotate-secret ID [--overlap 24h] | delete ID
                               OAuth/OIDC clients (secrets shown once)
  hash calibrate [--target 250ms] [--max-memory 256MiB]
                               recommend Argon2id parameters for this host
  purge                        delete the region's expired and spent rows
  events tail [--user ID] [--since 15m] [--follow=false] [--type TYPE]
                               print the audit trail as CloudEvents JSON lines
  version                      print version, commit and Go version

Every command takes --config FILE (YAML); environment variables override it.
`

// run is the whole program: main only adds signals and exit codes.
func run(ctx context.Context, args []string, getenv env, stdin io.Reader, stdout, stderr io.Writer) error {
	std := stdio{in: stdin, out: stdout, err: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return usagef("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, getenv, std)
	case "migrate":
		return cmdMigrate(ctx, rest, getenv, std)
	case "keys":
		return cmdKeys(ctx, rest, getenv, std)
	case "hash":
		return cmdHash(ctx, rest, std)
	case "users":
		return cmdUsers(ctx, rest, getenv, std)
	case "purge":
		return cmdPurge(ctx, rest, getenv, std)
	case "events":
		return cmdEvents(ctx, rest, getenv, std)
	case "clients":
		return cmdClients(ctx, rest, getenv, std)
	case "version", "--version":
		return cmdVersion(std)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText)
		return nil
	}
	fmt.Fprint(stderr, usageText)
	return usagef("unknown command %q", cmd)
}

// commonFlags parses the flags every command shares and returns the
// configuration.
func commonFlags(name string, args []string, getenv env, std stdio, need needs, extra func(*flag.FlagSet)) (*Config, *flag.FlagSet, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(std.err)
	configFile := fs.String("config", "", "YAML configuration file")
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil, nil, err
		}
		return nil, nil, usagef("%s: %v", name, err)
	}
	cfg, err := loadConfig(*configFile, getenv, need)
	if err != nil {
		return nil, nil, err
	}
	return cfg, fs, nil
}

// newLogger builds the process's logger from the configuration.
func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func cmdVersion(std stdio) error {
	c := commit
	if c == "" {
		if info, ok := debug.ReadBuildInfo(); ok {
			for _, s := range info.Settings {
				if s.Key == "vcs.revision" {
					c = s.Value
				}
			}
		}
	}
	if c == "" {
		c = "unknown"
	}
	fmt.Fprintf(std.out, "gatehouse %s\ncommit %s\n%s %s/%s\n", version, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// timeNow is the wall clock the commands run on.
func timeNow() time.Time { return time.Now() }

// readFile is the one place besides loadConfig that reads files named in
// the configuration.
func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}
