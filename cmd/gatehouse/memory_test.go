package main

import (
	"log/slog"
	"runtime/debug"
	"testing"
)

func TestMemoryLimitLeavesRoomForFourRoundsOfHashing(t *testing.T) {
	if got, want := memoryLimit(2, 64*1024), int64(768<<20); got != want {
		t.Errorf("2 workers at 64 MiB: limit %d MiB, want %d MiB", got>>20, want>>20)
	}
	if got, want := memoryLimit(16, 19*1024), int64((256+4*16*19)<<20); got != want {
		t.Errorf("16 workers at 19 MiB: limit %d MiB, want %d MiB", got>>20, want>>20)
	}
}

func TestTuneMemoryKeepsTheOperatorsSettings(t *testing.T) {
	gc, limit := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1)
	debug.SetGCPercent(gc)
	t.Cleanup(func() { debug.SetGCPercent(gc); debug.SetMemoryLimit(limit) })
	logger := slog.New(slog.DiscardHandler)

	// Set by the operator: left as the runtime applied them.
	debug.SetGCPercent(150)
	debug.SetMemoryLimit(3 << 30)
	tuneMemory(lookup(map[string]string{"GOGC": "150", "GOMEMLIMIT": "3GiB"}), 2, 64*1024, logger)
	if got := debug.SetGCPercent(150); got != 150 {
		t.Errorf("GOGC set: gc percent %d, want 150 kept", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 3<<30 {
		t.Errorf("GOMEMLIMIT set: limit %d, want 3 GiB kept", got)
	}

	// Not set: the defaults.
	tuneMemory(lookup(nil), 2, 64*1024, logger)
	if got := debug.SetGCPercent(gc); got != defaultGCPercent {
		t.Errorf("gc percent %d, want %d", got, defaultGCPercent)
	}
	if got := debug.SetMemoryLimit(-1); got != memoryLimit(2, 64*1024) {
		t.Errorf("limit %d, want %d", got, memoryLimit(2, 64*1024))
	}
}
