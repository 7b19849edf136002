package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/app/password"
)

// cmdHash runs `hash calibrate`: it measures this host and recommends
// Argon2id parameters for a target time per hash.
func cmdHash(_ context.Context, args []string, std stdio) error {
	if len(args) == 0 || args[0] != "calibrate" {
		return usagef("hash: want calibrate")
	}
	fs := flag.NewFlagSet("hash calibrate", flag.ContinueOnError)
	fs.SetOutput(std.err)
	target := fs.Duration("target", 250*time.Millisecond, "time one hash may take on one core")
	maxMem := fs.String("max-memory", "256MiB", "memory one hash may use (KiB, MiB or GiB)")
	if err := fs.Parse(args[1:]); err != nil {
		return usagef("hash calibrate: %v", err)
	}
	if fs.NArg() > 0 {
		return usagef("hash calibrate: unexpected argument %q", fs.Arg(0))
	}
	if *target <= 0 || *target > time.Minute {
		return usagef("hash calibrate: --target must be between 0 and 1m")
	}
	kib, err := parseKiB(*maxMem)
	if err != nil {
		return usagef("hash calibrate: --max-memory: %v", err)
	}
	cores := runtime.GOMAXPROCS(0)
	fmt.Fprintf(std.out, "measuring Argon2id on %d cores (%s), target %v per hash, at most %d MiB\n", cores, runtime.Version(), *target, kib/1024)
	cal, err := password.Calibrate(*target, kib, password.MeasureArgon2id)
	for _, tr := range cal.Trials {
		fmt.Fprintf(std.out, "  m=%-7d KiB t=%-2d p=%d  %6.1f ms\n", tr.Params.MemoryKiB, tr.Params.Iterations, tr.Params.Parallelism, ms(tr.HashTime))
	}
	if err != nil {
		return err
	}
	per := cal.LoginsPerSecondPerCore()
	fmt.Fprintf(std.out, "recommended: m=%d KiB, t=%d, p=%d (%.1f ms per hash)\n", cal.Params.MemoryKiB, cal.Params.Iterations, cal.Params.Parallelism, ms(cal.HashTime))
	fmt.Fprintf(std.out, "  %.1f logins/s per core, %.1f logins/s on this host (%d cores); %d MiB per concurrent hash\n", per, per*float64(cores), cores, cal.Params.MemoryKiB/1024)
	fmt.Fprintf(std.out, "set:\n  GATEHOUSE_ARGON2_MEMORY_KIB=%d\n  GATEHOUSE_ARGON2_ITERATIONS=%d\n  GATEHOUSE_ARGON2_PARALLELISM=%d\n",
		cal.Params.MemoryKiB, cal.Params.Iterations, cal.Params.Parallelism)
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// parseKiB reads a memory size: a number with KiB, MiB or GiB (or no unit:
// KiB).
func parseKiB(s string) (uint32, error) {
	s = strings.TrimSpace(s)
	mult := uint64(1)
	for _, u := range []struct {
		suffix string
		mult   uint64
	}{{"GiB", 1024 * 1024}, {"MiB", 1024}, {"KiB", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("want a size such as 256MiB, not %q", s)
	}
	kib := n * mult
	if kib > 4*1024*1024 {
		return 0, fmt.Errorf("%d KiB is more than 4 GiB", kib)
	}
	return uint32(kib), nil
}
