package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"

	"golang.org/x/term"

	"github.com/gatehouse-id/gatehouse/app/importer"
	"github.com/gatehouse-id/gatehouse/app/password"
	"github.com/gatehouse-id/gatehouse/app/store"
)

// cmdUsers runs `users import FILE|-` and `users protect-legacy`.
func cmdUsers(ctx context.Context, args []string, getenv env, std stdio) error {
	if len(args) == 0 {
		return usagef("users: want import FILE|- or protect-legacy")
	}
	switch args[0] {
	case "import":
		return cmdUsersImport(ctx, args[1:], getenv, std)
	case "protect-legacy":
		return cmdProtectLegacy(ctx, args[1:], getenv, std)
	}
	return usagef("users: unknown subcommand %q (want import or protect-legacy)", args[0])
}

// isTerminal reports whether w is a terminal (for a progress bar).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func cmdUsersImport(ctx context.Context, args []string, getenv env, std stdio) error {
	var checkpoint string
	var noCheckpoint bool
	var batch, concurrency int
	cfg, fs, err := commonFlags("users import", args, getenv, std, needDatabase, func(fs *flag.FlagSet) {
		fs.StringVar(&checkpoint, "checkpoint", "", "where to record progress (default FILE.checkpoint; none for -)")
		fs.BoolVar(&noCheckpoint, "no-checkpoint", false, "do not record progress")
		fs.IntVar(&batch, "batch-size", importer.DefaultBatchSize, "users per transaction")
		fs.IntVar(&concurrency, "concurrency", importer.DefaultConcurrency,
			"transactions committing batches at once (1: one after the other; order per user is kept either way)")
	})
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("users import: want exactly one FILE (or - for standard input)")
	}
	if batch < 1 || batch > 50_000 {
		return usagef("users import: --batch-size must be 1 to 50000")
	}
	if concurrency < 1 || concurrency > importer.MaxConcurrency {
		return usagef("users import: --concurrency must be 1 to %d", importer.MaxConcurrency)
	}
	topo, err := loadTopology(cfg)
	if err != nil {
		return err
	}
	name := fs.Arg(0)
	var in io.Reader = std.in
	var size int64 = -1
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		in = f
		if checkpoint == "" {
			checkpoint = name + ".checkpoint"
		}
	}
	if noCheckpoint {
		checkpoint = ""
	}
	logger := newLogger(cfg, std.err)
	db, err := store.Open(ctx, cfg.Database.URL, store.Options{Logger: logger, MaxConns: int32(max(4, concurrency+1)), Region: cfg.Region})
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := importer.New(db, logger, timeNow).Run(ctx, in, importer.Options{
		Region: cfg.Region, Regions: topo.Names(), CheckpointPath: checkpoint, BatchSize: batch, Concurrency: concurrency,
		OnReject: func(r importer.Rejection) { fmt.Fprintf(std.err, "line %d: %s\n", r.Line, r.Error) },
		Progress: importer.NewProgress(std.err, size, isTerminal(std.err)),
	})
	fmt.Fprintln(std.out, rep.String())
	if err != nil {
		return err
	}
	if rep.RejectedCount > 0 {
		return fmt.Errorf("%d lines were rejected (listed above); the others were imported", rep.RejectedCount)
	}
	return nil
}

// cmdProtectLegacy wraps every fast legacy hash in Argon2id.
func cmdProtectLegacy(ctx context.Context, args []string, getenv env, std stdio) error {
	cfg, fs, err := commonFlags("users protect-legacy", args, getenv, std, needDatabase|needKeys, nil)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("users protect-legacy: unexpected argument %q", fs.Arg(0))
	}
	logger := newLogger(cfg, std.err)
	params, err := argon2Params(cfg)
	if err != nil {
		return err
	}
	ring, err := loadKeyRing(ctx, cfg, logger)
	if err != nil {
		return err
	}
	workers := runtime.GOMAXPROCS(0)
	hasher, err := password.NewHasher(params, ring, password.NewPool(workers, 4*workers, password.DefaultMaxWait, nil))
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, cfg.Database.URL, store.Options{Logger: logger, MaxConns: int32(workers + 2), Region: cfg.Region})
	if err != nil {
		return err
	}
	defer db.Close()
	start := timeNow()
	rep, err := importer.NewProtector(db, hasher, logger, timeNow).Run(ctx, importer.ProtectOptions{
		Workers:  workers,
		Progress: importer.NewProgressLabel(std.err, -1, isTerminal(std.err), "examined", "credentials"),
	})
	took := timeNow().Sub(start)
	fmt.Fprintf(std.out, "protect-legacy: %d examined, %d wrapped, %d already slow (left as they are), %d changed meanwhile, %d unreadable; %.2fs, %.1f wrapped/s\n",
		rep.Examined, rep.Wrapped, rep.Slow, rep.Changed, rep.Unreadable, took.Seconds(), float64(rep.Wrapped)/max(took.Seconds(), 1e-9))
	return err
}

// adminImporter adapts the importer to httpapi.Importer: the admin
// endpoint imports into this region, reporting bad lines in the answer.
type adminImporter struct {
	imp     *importer.Importer
	region  string
	regions []string
}

func (a adminImporter) Import(ctx context.Context, body io.Reader) (any, error) {
	rep, err := a.imp.Run(ctx, body, importer.Options{Region: a.region, Regions: a.regions})
	if err != nil {
		return nil, err
	}
	return rep.Admin(), nil
}
