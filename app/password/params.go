// Package password hashes, verifies and vets Gatehouse passwords.
//
// A password is NFKC-normalised (by Normalise at login, by Policy.Check when
// it is set), keyed with the current pepper through HMAC-SHA256 and stretched
// with Argon2id (RFC 9106). The result is stored as a PHC string carrying the
// Argon2id parameters and the pepper version, so that parameters can be
// raised and the pepper rotated without invalidating stored hashes: Verify
// reports NeedsRehash when a hash is behind.
//
// Argon2id is deliberately expensive in memory, so every derivation runs
// through a Pool that bounds how many run at once and sheds load beyond a
// short queue instead of letting memory grow with the number of logins.
package password

import (
	"fmt"
)

// Sizes of what Hash produces.
const (
	// SaltBytes is the length of the random salt of every new hash (RFC 9106
	// recommends 16 bytes).
	SaltBytes = 16
	// KeyBytes is the length of the Argon2id tag of every new hash.
	KeyBytes = 32
)

// Upper bounds on Argon2id parameters, for our own Params and for any hash
// ParsePHC accepts, so that neither a configuration slip nor an imported hash
// can make one verification take unbounded memory or time.
const (
	// MaxMemoryKiB is 256 MiB, four times the default: with the Pool's
	// worker count it bounds the memory hashing can take.
	MaxMemoryKiB = 256 * 1024
	// MaxIterations bounds the number of passes over memory.
	MaxIterations = 16
	// MaxParallelism bounds the number of lanes.
	MaxParallelism = 16
)

// Lower bounds of OWASP ASVS 5.0 Appendix C (and the OWASP Password Storage
// Cheat Sheet) for Argon2id: the memory a configuration must use for a given
// number of iterations.
const (
	minMemoryKiBOneIteration  = 46 * 1024 // t = 1
	minMemoryKiBTwoIterations = 19 * 1024 // t = 2
	minMemoryKiBThreeOrMore   = 12 * 1024 // t >= 3
)

// Params are the Argon2id cost parameters.
type Params struct {
	// MemoryKiB is the memory each derivation fills, in KiB (m).
	MemoryKiB uint32
	// Iterations is the number of passes over that memory (t).
	Iterations uint32
	// Parallelism is the number of lanes (p). The Go implementation computes
	// lanes on separate goroutines, so p > 1 also uses more CPUs per hash.
	Parallelism uint8
}

// DefaultParams returns the parameters Gatehouse hashes with unless
// configured otherwise: m = 64 MiB, t = 3, p = 1.
func DefaultParams() Params {
	return Params{MemoryKiB: 64 * 1024, Iterations: 3, Parallelism: 1}
}

// Validate checks that the parameters are strong enough to hash new
// passwords with (OWASP ASVS 5.0 Appendix C: t = 1 needs m >= 46 MiB, t = 2
// needs m >= 19 MiB, t >= 3 needs m >= 12 MiB; p >= 1) and small enough to
// be served (m <= MaxMemoryKiB, t <= MaxIterations, p <= MaxParallelism).
func (p Params) Validate() error {
	if p.Parallelism < 1 || p.Parallelism > MaxParallelism {
		return fmt.Errorf("password: argon2id parallelism %d out of range [1, %d]", p.Parallelism, MaxParallelism)
	}
	if p.Iterations < 1 || p.Iterations > MaxIterations {
		return fmt.Errorf("password: argon2id iterations %d out of range [1, %d]", p.Iterations, MaxIterations)
	}
	if p.MemoryKiB > MaxMemoryKiB {
		return fmt.Errorf("password: argon2id memory %d KiB is above the maximum of %d KiB", p.MemoryKiB, MaxMemoryKiB)
	}
	if minimum := minMemoryKiB(p.Iterations); p.MemoryKiB < minimum {
		return fmt.Errorf("password: argon2id memory %d KiB with t=%d is below the OWASP minimum of %d KiB", p.MemoryKiB, p.Iterations, minimum)
	}
	return nil
}

// minMemoryKiB is the least memory OWASP accepts for t iterations.
func minMemoryKiB(iterations uint32) uint32 {
	switch iterations {
	case 1:
		return minMemoryKiBOneIteration
	case 2:
		return minMemoryKiBTwoIterations
	default:
		return minMemoryKiBThreeOrMore
	}
}

// String renders the parameters as in a PHC string, e.g. "m=65536,t=3,p=1".
func (p Params) String() string {
	return fmt.Sprintf("m=%d,t=%d,p=%d", p.MemoryKiB, p.Iterations, p.Parallelism)
}
