// Package legacyhash verifies password hashes imported from other systems.
//
// Users migrating to Gatehouse arrive with the hash their old system stored.
// At login the old algorithm is checked once, then the credential is replaced
// by Gatehouse's own Argon2id hash. This package recognises and verifies:
//
//   - bcrypt: $2a$, $2b$, $2y$ (the password is cut at 72 bytes and at the
//     first NUL byte, exactly as the C implementations that made them do),
//     also as Django's bcrypt$ and bcrypt_sha256$;
//   - PBKDF2: Django's pbkdf2_sha256$ / pbkdf2_sha1$ and passlib's
//     $pbkdf2$, $pbkdf2-sha256$, $pbkdf2-sha512$;
//   - scrypt in passlib's $scrypt$ln=..,r=..,p=..$salt$hash form;
//   - crypt(3) SHA-256 and SHA-512 ($5$, $6$) per Ulrich Drepper's spec;
//   - argon2i and argon2id PHC strings (version 19) with their own parameters;
//   - raw MD5 / SHA-1 / SHA-256 / SHA-512 digests, salted or not (FromDigest).
//
// Raw digests are fast to brute-force, so Gatehouse never stores them as they
// came: the caller keeps only a Recipe (how to recompute the digest) and
// argon2id(pepper(digest)). Derive and RecipeDerive recompute the digest from
// a password; Wrapped splits a fast Hash into its Recipe and digest.
//
// Every cost parameter read from an imported hash is capped (see the Max
// constants) so that a hostile import cannot make one login take minutes or
// gigabytes; a hash over a cap is rejected by Parse with a clear reason.
package legacyhash

import (
	"strings"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// Caps on the cost parameters of imported hashes. They sit well above every
// default of the systems we import from (bcrypt 10-12, Django PBKDF2 up to
// 1,200,000 iterations, passlib sha512_crypt 656,000 rounds, scrypt and
// argon2 at 16-64 MiB) and refuse only the absurd. Extrapolated from timings
// on a 2-core dev machine, one verification at a cap costs about: bcrypt 16 7 s, PBKDF2-SHA256
// 10M 4 s, SHA-512-crypt 1M 1 s, scrypt at 1 GiB of work 6 s, argon2 at 1 GiB
// of work 2.5 s; memory never exceeds 256 MiB. Lower them here if needed.
const (
	// MaxBcryptCost is the highest bcrypt cost accepted (2^16 rounds, ~7 s).
	MaxBcryptCost = 16
	// MaxPBKDF2Iterations is the highest PBKDF2 iteration count accepted.
	MaxPBKDF2Iterations = 10_000_000
	// MaxScryptMemory is the highest scrypt memory (128·N·r bytes) accepted.
	MaxScryptMemory = 256 << 20
	// MaxScryptWork is the highest scrypt work (128·N·r·p bytes mixed) accepted.
	MaxScryptWork = 1 << 30
	// MaxShaCryptRounds is the highest $5$/$6$ rounds value accepted. The spec
	// allows up to 999,999,999 (about ten minutes of SHA-512); we stop at one
	// million, above passlib's 656,000 default, the largest seen in practice.
	MaxShaCryptRounds = 1_000_000
	// MaxArgon2MemoryKiB is the highest argon2 memory (m, in KiB) accepted.
	MaxArgon2MemoryKiB = 256 << 10
	// MaxArgon2Passes is the highest argon2 time cost (t) accepted.
	MaxArgon2Passes = 10
	// MaxArgon2Work caps m·t (KiB·passes), i.e. 1 GiB of memory filled.
	MaxArgon2Work = 1 << 20
	// MaxArgon2Lanes is the highest argon2 parallelism (p) accepted.
	MaxArgon2Lanes = 16
	// MaxSaltBytes is the longest salt accepted in any format.
	MaxSaltBytes = 1024
	// MaxPasswordBytes is the longest password Verify will hash. Longer ones
	// never verify: SHA-crypt's cost grows with the password's length, and no
	// real password is this long.
	MaxPasswordBytes = 1024
)

// Scheme names an algorithm family; Hash.Scheme reports it for logs and metrics.
type Scheme string

// The schemes this package recognises.
const (
	SchemeBcrypt       Scheme = "bcrypt"
	SchemeDjangoPBKDF2 Scheme = "django_pbkdf2"
	SchemePasslibPBKDF Scheme = "passlib_pbkdf2"
	SchemeScrypt       Scheme = "scrypt"
	SchemeSHA256Crypt  Scheme = "sha256_crypt"
	SchemeSHA512Crypt  Scheme = "sha512_crypt"
	SchemeArgon2       Scheme = "argon2"
	SchemeDigest       Scheme = "digest"
)

// format is one parsed hash format.
type format interface {
	scheme() Scheme
	// verify recomputes the hash of password and compares it in constant time.
	verify(password []byte) bool
	// encode renders the hash in the form it was parsed from.
	encode() string
}

// Hash is an imported password hash, ready to verify passwords.
type Hash struct {
	f format
}

// Parse recognises an encoded hash by its form and validates it: modular-crypt
// ($2b$…, $5$…, $6$…), PHC ($argon2id$…, $scrypt$…, $pbkdf2-sha256$…),
// Django (pbkdf2_sha256$…, bcrypt_sha256$…) or the JSON object of a raw digest as FromDigest
// takes it. A malformed or over-cap hash is an errs.Invalid "invalid_hash".
func Parse(encoded string) (*Hash, error) {
	f, err := parseFormat(encoded)
	if err != nil {
		return nil, err
	}
	return &Hash{f: f}, nil
}

func parseFormat(s string) (format, error) {
	switch {
	case strings.HasPrefix(s, "$2"):
		return parseBcrypt(s)
	case strings.HasPrefix(s, "$5$"), strings.HasPrefix(s, "$6$"):
		return parseShaCrypt(s)
	case strings.HasPrefix(s, "$argon2"):
		return parseArgon2(s)
	case strings.HasPrefix(s, "$scrypt$"):
		return parseScrypt(s)
	case strings.HasPrefix(s, "$pbkdf2"):
		return parsePasslibPBKDF2(s)
	case strings.HasPrefix(s, djangoBcrypt+"$"), strings.HasPrefix(s, djangoBcryptSHA256+"$"):
		return parseDjangoBcrypt(s)
	case strings.HasPrefix(s, "pbkdf2_"):
		return parseDjangoPBKDF2(s)
	case strings.HasPrefix(s, "{"):
		return parseDigestJSON(s)
	case s == "":
		return nil, invalid("empty hash")
	}
	return nil, invalid("unrecognised hash format")
}

// Verify reports whether password matches the hash. The comparison is in
// constant time and the work done does not depend on whether it matches.
// A password longer than MaxPasswordBytes never matches.
func (h *Hash) Verify(password []byte) bool {
	if len(password) > MaxPasswordBytes {
		return false
	}
	return h.f.verify(password)
}

// Scheme names the hash's algorithm family.
func (h *Hash) Scheme() Scheme { return h.f.scheme() }

// String re-encodes the hash in the form it was parsed from; Parse accepts it.
func (h *Hash) String() string { return h.f.encode() }

// Fast reports whether the hash is a fast digest (MD5, SHA-x) that must be
// wrapped at rest rather than stored as it is.
func (h *Hash) Fast() bool {
	_, ok := h.f.(*digestHash)
	return ok
}

// Derive returns the digest bytes the source system stored for password
// (H(salt‖password) or H(password‖salt)), for a fast hash; nil otherwise.
func (h *Hash) Derive(password []byte) []byte {
	d, ok := h.f.(*digestHash)
	if !ok {
		return nil
	}
	return d.recipe.derive(password)
}

// Wrapped splits a fast hash into its Recipe and the stored digest. ok is
// false for a slow hash, which is kept whole (see String).
func (h *Hash) Wrapped() (recipe Recipe, digest []byte, ok bool) {
	d, isDigest := h.f.(*digestHash)
	if !isDigest {
		return Recipe{}, nil, false
	}
	return d.recipe, append([]byte(nil), d.digest...), true
}

// invalid builds the error for a malformed or over-cap hash.
func invalid(reason string) error {
	return errs.Invalid("invalid_hash", reason)
}
