package password

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse-id/gatehouse/app/password/argon2id"
)

// Calibration is a recommendation for this host.
type Calibration struct {
	Params Params
	// HashTime is the median time of one hash with Params on one core.
	HashTime time.Duration
	// Trials lists every measurement made, in order.
	Trials []Trial
}

// Trial is one measured parameter set.
type Trial struct {
	Params   Params
	HashTime time.Duration
}

// LoginsPerSecondPerCore is the physical limit of password logins one core
// can serve with these parameters.
func (c Calibration) LoginsPerSecondPerCore() float64 {
	return float64(time.Second) / float64(c.HashTime)
}

// Measure times one Argon2id hash with p; Calibrate takes it as a parameter
// so tests can give it a model of a host.
type Measure func(p Params) time.Duration

// MeasureArgon2id hashes a random password with p a few times, in one
// working memory as the server does, and returns the median duration.
func MeasureArgon2id(p Params) time.Duration {
	var salt [SaltBytes]byte
	var pw [32]byte
	_, _ = rand.Read(salt[:])
	_, _ = rand.Read(pw[:])
	var memory argon2id.Memory
	times := make([]time.Duration, 3)
	for i := range times {
		start := time.Now()
		memory.Key(pw[:], salt[:], p.Iterations, p.MemoryKiB, p.Parallelism, KeyBytes)
		times[i] = time.Since(start)
	}
	slices.Sort(times)
	return times[1]
}

// Calibrate finds the strongest parameters whose hash takes at most target
// on this host, using at most maxMemoryKiB: memory first (Argon2id's
// defence against GPUs), then passes. It never recommends parameters below
// the OWASP ASVS minimums that Params.Validate enforces; when even those
// exceed the target it says so.
func Calibrate(target time.Duration, maxMemoryKiB uint32, measure Measure) (Calibration, error) {
	if target <= 0 {
		return Calibration{}, errors.New("password: calibration target must be positive")
	}
	if maxMemoryKiB > MaxMemoryKiB {
		maxMemoryKiB = MaxMemoryKiB
	}
	var cal Calibration
	try := func(p Params) time.Duration {
		d := measure(p)
		cal.Trials = append(cal.Trials, Trial{Params: p, HashTime: d})
		return d
	}
	// Memory: halve from the cap until one pass fits the target; t=1 needs
	// at least 46 MiB (ASVS), so below that use t=2 (≥19 MiB) or t=3 (≥12 MiB).
	mem := maxMemoryKiB
	minMem := func(t uint32) uint32 {
		switch t {
		case 1:
			return 46 * 1024
		case 2:
			return 19 * 1024
		}
		return 12 * 1024
	}
	t := uint32(1)
	var best Params
	var bestTime time.Duration
	for {
		if mem < minMem(t) {
			if t >= 3 {
				break
			}
			t++
			mem = maxMemoryKiB
			continue
		}
		p := Params{MemoryKiB: mem, Iterations: t, Parallelism: 1}
		if d := try(p); d <= target {
			best, bestTime = p, d
			break
		}
		if mem == minMem(t) {
			mem = 0 // the minimum itself was too slow: next pass count
		} else {
			mem = max(mem/2, minMem(t))
		}
	}
	if best.MemoryKiB == 0 {
		return cal, fmt.Errorf("password: even the ASVS minimum parameters take longer than %v on this host", target)
	}
	// Passes: add passes while the hash still fits.
	for best.Iterations < MaxIterations {
		p := best
		p.Iterations++
		d := try(p)
		if d > target {
			break
		}
		best, bestTime = p, d
	}
	cal.Params, cal.HashTime = best, bestTime
	return cal, best.Validate()
}
