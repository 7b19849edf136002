package legacyhash

import (
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"hash"
	"strconv"
	"strings"
	"unicode/utf8"
)

// pbkdf2PRF is one HMAC hash PBKDF2 may be built on.
type pbkdf2PRF struct {
	newHash func() hash.Hash
	size    int
}

var (
	prfSHA1   = &pbkdf2PRF{newHash: sha1.New, size: sha1.Size}
	prfSHA256 = &pbkdf2PRF{newHash: sha256.New, size: sha256.Size}
	prfSHA512 = &pbkdf2PRF{newHash: sha512.New, size: sha512.Size}
)

// pbkdf2Verify derives len(want) bytes and compares them in constant time.
func pbkdf2Verify(prf *pbkdf2PRF, password, salt []byte, iterations int, want []byte) bool {
	got, err := pbkdf2.Key(prf.newHash, string(password), salt, iterations, len(want))
	if err != nil {
		// Only reachable in FIPS-140-only mode (short salt or key); the
		// comparison below still runs so the work stays the same.
		got = make([]byte, len(want))
	}
	return subtle.ConstantTimeCompare(got, want) == 1 && err == nil
}

// djangoPBKDF2Hash is Django's "pbkdf2_sha256$iterations$salt$base64(hash)"
// (or pbkdf2_sha1). The salt is text, used as its UTF-8 bytes; the hash is
// always the digest's full size, since Django never sets dklen.
type djangoPBKDF2Hash struct {
	algorithm  string // "pbkdf2_sha256" or "pbkdf2_sha1"
	prf        *pbkdf2PRF
	iterations int
	salt       string
	sum        []byte
}

var djangoPRFs = map[string]*pbkdf2PRF{"pbkdf2_sha256": prfSHA256, "pbkdf2_sha1": prfSHA1}

func parseDjangoPBKDF2(s string) (format, error) {
	fields := strings.Split(s, "$")
	prf, known := djangoPRFs[fields[0]]
	if !known {
		return nil, invalid("unsupported Django hasher (want pbkdf2_sha256 or pbkdf2_sha1)")
	}
	if len(fields) != 4 {
		return nil, invalid("Django hash must be algorithm$iterations$salt$hash")
	}
	n, err := parseDecimal(fields[1], "PBKDF2 iterations", 1, MaxPBKDF2Iterations)
	if err != nil {
		return nil, err
	}
	salt := fields[2]
	if salt == "" || len(salt) > MaxSaltBytes || !utf8.ValidString(salt) {
		return nil, invalid("Django salt must be 1 to 1024 bytes of UTF-8")
	}
	sum, err := decodePadded(fields[3])
	if err != nil || len(sum) != prf.size {
		return nil, invalid("Django hash must be the base64 of " + strconv.Itoa(prf.size) + " bytes")
	}
	return &djangoPBKDF2Hash{algorithm: fields[0], prf: prf, iterations: int(n), salt: salt, sum: sum}, nil
}

func (h *djangoPBKDF2Hash) scheme() Scheme { return SchemeDjangoPBKDF2 }

func (h *djangoPBKDF2Hash) encode() string {
	return h.algorithm + "$" + strconv.Itoa(h.iterations) + "$" + h.salt + "$" + paddedBase64.EncodeToString(h.sum)
}

func (h *djangoPBKDF2Hash) verify(password []byte) bool {
	return pbkdf2Verify(h.prf, password, []byte(h.salt), h.iterations, h.sum)
}

// passlibPBKDF2Hash is passlib's "$pbkdf2-sha256$rounds$salt$hash" (also
// $pbkdf2$ for SHA-1 and $pbkdf2-sha512$); salt and hash are raw bytes in
// passlib's adapted base64, and the hash is the digest's full size.
type passlibPBKDF2Hash struct {
	ident  string // "pbkdf2", "pbkdf2-sha256" or "pbkdf2-sha512"
	prf    *pbkdf2PRF
	rounds int
	salt   []byte
	sum    []byte
}

var passlibPRFs = map[string]*pbkdf2PRF{"pbkdf2": prfSHA1, "pbkdf2-sha256": prfSHA256, "pbkdf2-sha512": prfSHA512}

func parsePasslibPBKDF2(s string) (format, error) {
	fields := strings.Split(s, "$")
	prf, known := passlibPRFs[fields[1]]
	if !known {
		return nil, invalid("unsupported passlib PBKDF2 variant (want $pbkdf2$, $pbkdf2-sha256$ or $pbkdf2-sha512$)")
	}
	if len(fields) != 5 {
		return nil, invalid("passlib PBKDF2 hash must be $" + fields[1] + "$rounds$salt$hash")
	}
	n, err := parseDecimal(fields[2], "PBKDF2 rounds", 1, MaxPBKDF2Iterations)
	if err != nil {
		return nil, err
	}
	salt, err := decodeAB64(fields[3])
	if err != nil || len(salt) > MaxSaltBytes {
		return nil, invalid("passlib PBKDF2 salt must be adapted base64 of at most 1024 bytes")
	}
	sum, err := decodeAB64(fields[4])
	if err != nil || len(sum) != prf.size {
		return nil, invalid("passlib PBKDF2 hash must be adapted base64 of " + strconv.Itoa(prf.size) + " bytes")
	}
	return &passlibPBKDF2Hash{ident: fields[1], prf: prf, rounds: int(n), salt: salt, sum: sum}, nil
}

func (h *passlibPBKDF2Hash) scheme() Scheme { return SchemePasslibPBKDF }

func (h *passlibPBKDF2Hash) encode() string {
	return "$" + h.ident + "$" + strconv.Itoa(h.rounds) + "$" + encodeAB64(h.salt) + "$" + encodeAB64(h.sum)
}

func (h *passlibPBKDF2Hash) verify(password []byte) bool {
	return pbkdf2Verify(h.prf, password, h.salt, h.rounds, h.sum)
}
