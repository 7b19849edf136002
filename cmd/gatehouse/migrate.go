package main

import (
	"context"
	"fmt"

	"github.com/gatehouse-id/gatehouse/app/store"
	"github.com/gatehouse-id/gatehouse/regions"
	"github.com/gatehouse-id/gatehouse/schema"
)

// cmdMigrate applies the portable migrations and, on CockroachDB, the
// multi-region ones rendered with the region topology. Safe to run twice
// and from several processes at once.
func cmdMigrate(ctx context.Context, args []string, getenv env, std stdio) error {
	cfg, _, err := commonFlags("migrate", args, getenv, std, needDatabase, nil)
	if err != nil {
		return err
	}
	topo, err := loadTopology(cfg)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, std.err)
	db, err := store.Open(ctx, cfg.Database.URL, store.Options{Logger: logger, MaxConns: 2})
	if err != nil {
		return err
	}
	defer db.Close()
	portable, err := store.LoadMigrations(schema.Files)
	if err != nil {
		return err
	}
	report, err := db.Migrate(ctx, "main", portable)
	if err != nil {
		return err
	}
	fmt.Fprintf(std.out, "schema: %d applied, %d already applied\n", len(report.Applied), report.Skipped)
	if !db.Cockroach() {
		fmt.Fprintln(std.out, "PostgreSQL: multi-region statements skipped (CockroachDB only)")
		return nil
	}
	name, err := db.CurrentDatabase(ctx)
	if err != nil {
		return err
	}
	mr, err := store.LoadCockroachMigrations(schema.Files, store.Topology{Database: name, PrimaryRegion: topo.Primary, Regions: topo.Names()})
	if err != nil {
		return err
	}
	report, err = db.Migrate(ctx, "cockroach", mr)
	if err != nil {
		return err
	}
	fmt.Fprintf(std.out, "multi-region: %d applied, %d already applied (regions %s)\n", len(report.Applied), report.Skipped, topo)
	return nil
}

// loadTopology reads the regions file and checks that the configured region
// is one of its regions.
func loadTopology(cfg *Config) (*regions.Topology, error) {
	data, err := readFile(cfg.RegionsFile)
	if err != nil {
		return nil, &configError{key: "GATEHOUSE_REGIONS_FILE", msg: err.Error()}
	}
	topo, err := regions.Parse(data)
	if err != nil {
		return nil, &configError{key: "GATEHOUSE_REGIONS_FILE", msg: err.Error()}
	}
	if _, ok := topo.Lookup(cfg.Region); !ok {
		return nil, &configError{key: "GATEHOUSE_REGION", msg: fmt.Sprintf("unknown region %q: %s defines %s", cfg.Region, cfg.RegionsFile, topo)}
	}
	for country, region := range cfg.Residency.Rules {
		if _, ok := topo.Lookup(region); !ok {
			return nil, &configError{key: "GATEHOUSE_RESIDENCY_RULES", msg: fmt.Sprintf("%s=%s: unknown region", country, region)}
		}
	}
	return topo, nil
}
