package password

import (
	"testing"
	"time"
)

// A model host where a hash costs 1 ms per MiB per pass.
func modelHost(p Params) time.Duration {
	return time.Duration(p.MemoryKiB/1024) * time.Duration(p.Iterations) * time.Millisecond
}

func TestCalibrateFavoursMemoryThenPasses(t *testing.T) {
	cal, err := Calibrate(250*time.Millisecond, 256*1024, modelHost)
	if err != nil {
		t.Fatal(err)
	}
	// 256 MiB × 1 pass = 256 ms > 250: halve to 128 MiB, then add passes
	// while 128 × t ≤ 250: t = 1 only (2 passes = 256 ms).
	if cal.Params != (Params{MemoryKiB: 128 * 1024, Iterations: 1, Parallelism: 1}) {
		t.Fatalf("params = %+v", cal.Params)
	}
	if cal.HashTime != 128*time.Millisecond || cal.LoginsPerSecondPerCore() < 7.8 || cal.LoginsPerSecondPerCore() > 7.9 {
		t.Fatalf("time %v, %.2f/s", cal.HashTime, cal.LoginsPerSecondPerCore())
	}
	cal, err = Calibrate(500*time.Millisecond, 64*1024, modelHost)
	if err != nil {
		t.Fatal(err)
	}
	if cal.Params != (Params{MemoryKiB: 64 * 1024, Iterations: 7, Parallelism: 1}) {
		t.Fatalf("with a 64 MiB cap and 500 ms: %+v", cal.Params)
	}
}

func TestCalibrateNeverGoesBelowTheMinimums(t *testing.T) {
	slow := func(p Params) time.Duration { return time.Second }
	if _, err := Calibrate(10*time.Millisecond, 256*1024, slow); err == nil {
		t.Fatal("a host too slow for the minimums must get an error, not weak parameters")
	}
	if _, err := Calibrate(30*time.Millisecond, 256*1024, modelHost); err == nil {
		t.Fatal("46 MiB×1, 19 MiB×2 and 12 MiB×3 all exceed 30 ms on the model host: want an error")
	}
	// 40 ms: 46 MiB×1 = 46 ms is too slow, 19 MiB×2 = 38 ms fits exactly
	// at the minimum (halving 32 → 16 must not skip it).
	cal, err := Calibrate(40*time.Millisecond, 256*1024, modelHost)
	if err != nil {
		t.Fatal(err)
	}
	if cal.Params != (Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1}) {
		t.Fatalf("recommended %+v", cal.Params)
	}
}

func TestMeasureArgon2idIsPositive(t *testing.T) {
	if d := MeasureArgon2id(Params{MemoryKiB: 12 * 1024, Iterations: 3, Parallelism: 1}); d <= 0 {
		t.Fatalf("measured %v", d)
	}
}
