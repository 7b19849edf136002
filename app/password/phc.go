package password

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// CodeHashInvalid is the error code of a PHC string ParsePHC refuses.
const CodeHashInvalid = "password_hash_invalid"

// Bounds ParsePHC puts on the salt and tag of a hash, whoever made it.
const (
	minSaltBytes = 8
	maxSaltBytes = 64
	minHashBytes = 16
	maxHashBytes = 128
	// maxPHCLength is longer than any string within the bounds above; longer
	// input is refused before it is split.
	maxPHCLength = 512
	// maxPepperVersion keeps pepper versions within an int on every platform.
	maxPepperVersion = 1<<31 - 1
)

const (
	algorithmArgon2id = "argon2id"
	argon2Version     = 19 // 0x13, the only version Gatehouse accepts
)

// Encoded is a parsed Argon2id PHC string:
//
//	$argon2id$v=19$m=65536,t=3,p=1,pv=2$<salt>$<hash>
//
// where salt and hash are unpadded standard base64 and pv, Gatehouse's own
// parameter, is the version of the pepper the password was keyed with. A hash
// without pv (one imported from another system) is not peppered.
type Encoded struct {
	Params Params
	// PepperVersion is the pepper version, 0 when the hash is not peppered.
	PepperVersion int
	Salt          []byte
	Hash          []byte
}

// PHC formats e as a PHC string. ParsePHC(e.PHC()) gives e back for every e
// that ParsePHC returned.
func (e Encoded) PHC() string {
	var b strings.Builder
	b.Grow(64 + base64.RawStdEncoding.EncodedLen(len(e.Salt)) + base64.RawStdEncoding.EncodedLen(len(e.Hash)))
	b.WriteString("$" + algorithmArgon2id + "$v=")
	b.WriteString(strconv.Itoa(argon2Version))
	b.WriteString("$")
	b.WriteString(e.Params.String())
	if e.PepperVersion != 0 {
		b.WriteString(",pv=")
		b.WriteString(strconv.Itoa(e.PepperVersion))
	}
	b.WriteString("$")
	b.WriteString(base64.RawStdEncoding.EncodeToString(e.Salt))
	b.WriteString("$")
	b.WriteString(base64.RawStdEncoding.EncodeToString(e.Hash))
	return b.String()
}

// phcParams lists the parameters ParsePHC knows, in the order it requires.
var phcParams = [...]string{"m", "t", "p", "pv"}

// ParsePHC parses an Argon2id PHC string strictly: only argon2id version 19;
// parameters m, t, p (required) and pv (optional) in that order, each once,
// in canonical decimal; unpadded standard base64 with no stray characters;
// and sizes within bounds (m from 8*p to MaxMemoryKiB, t from 1 to
// MaxIterations, p from 1 to MaxParallelism, salt 8-64 bytes, hash 16-128
// bytes) so that a hash imported from elsewhere cannot exhaust the server.
// The parameters may be weaker than Params.Validate allows: such hashes
// verify, and Verify asks for them to be rehashed.
//
// Errors are *errs.Error of kind errs.KindInvalid and code CodeHashInvalid.
func ParsePHC(s string) (Encoded, error) {
	if len(s) > maxPHCLength {
		return Encoded{}, invalidHash("is too long")
	}
	fields := strings.Split(s, "$")
	if len(fields) != 6 || fields[0] != "" {
		return Encoded{}, invalidHash("is not of the form $argon2id$v=19$m=..,t=..,p=..$salt$hash")
	}
	if fields[1] != algorithmArgon2id {
		return Encoded{}, invalidHash(fmt.Sprintf("uses algorithm %q, want %s", truncate(fields[1]), algorithmArgon2id))
	}
	version, ok := strings.CutPrefix(fields[2], "v=")
	if !ok {
		return Encoded{}, invalidHash("has no version")
	}
	if v, err := parseDecimal(version, 1<<31); err != nil || v != argon2Version {
		return Encoded{}, invalidHash(fmt.Sprintf("has version %q, want %d", truncate(version), argon2Version))
	}

	var e Encoded
	if err := parseParams(fields[3], &e); err != nil {
		return Encoded{}, err
	}
	var err error
	if e.Salt, err = decodeBase64(fields[4]); err != nil {
		return Encoded{}, invalidHash("salt is not unpadded base64")
	}
	if len(e.Salt) < minSaltBytes || len(e.Salt) > maxSaltBytes {
		return Encoded{}, invalidHash(fmt.Sprintf("salt is %d bytes, want %d to %d", len(e.Salt), minSaltBytes, maxSaltBytes))
	}
	if e.Hash, err = decodeBase64(fields[5]); err != nil {
		return Encoded{}, invalidHash("hash is not unpadded base64")
	}
	if len(e.Hash) < minHashBytes || len(e.Hash) > maxHashBytes {
		return Encoded{}, invalidHash(fmt.Sprintf("hash is %d bytes, want %d to %d", len(e.Hash), minHashBytes, maxHashBytes))
	}
	return e, nil
}

// parseParams parses "m=..,t=..,p=..[,pv=..]" into e.
func parseParams(s string, e *Encoded) error {
	items := strings.Split(s, ",")
	if len(items) > len(phcParams) {
		return invalidHash("has too many parameters")
	}
	next := 0 // index in phcParams of the next parameter allowed
	var memory, iterations, parallelism uint64
	for _, item := range items {
		name, value, ok := strings.Cut(item, "=")
		if !ok {
			return invalidHash(fmt.Sprintf("parameter %q has no value", truncate(item)))
		}
		index := -1
		for i, known := range phcParams {
			if name == known {
				index = i
			}
		}
		switch {
		case index < 0:
			return invalidHash(fmt.Sprintf("has unknown parameter %q", truncate(name)))
		case index < next:
			return invalidHash(fmt.Sprintf("parameter %q is repeated or out of order (want m,t,p[,pv])", name))
		case index > next && next < 3:
			return invalidHash(fmt.Sprintf("parameter %q is missing", phcParams[next]))
		}
		next = index + 1
		var err error
		switch name {
		case "m":
			memory, err = parseDecimal(value, MaxMemoryKiB)
		case "t":
			iterations, err = parseDecimal(value, MaxIterations)
		case "p":
			parallelism, err = parseDecimal(value, MaxParallelism)
		case "pv":
			var v uint64
			v, err = parseDecimal(value, maxPepperVersion)
			if err == nil && v == 0 {
				err = fmt.Errorf("zero")
			}
			e.PepperVersion = int(v)
		}
		if err != nil {
			return invalidHash(fmt.Sprintf("parameter %s=%q is out of range or malformed", name, truncate(value)))
		}
	}
	if next < 3 {
		return invalidHash(fmt.Sprintf("parameter %q is missing", phcParams[next]))
	}
	if iterations < 1 {
		return invalidHash("parameter t must be at least 1")
	}
	if parallelism < 1 {
		return invalidHash("parameter p must be at least 1")
	}
	if memory < 8*parallelism {
		return invalidHash("parameter m must be at least 8*p")
	}
	e.Params = Params{MemoryKiB: uint32(memory), Iterations: uint32(iterations), Parallelism: uint8(parallelism)}
	return nil
}

// parseDecimal parses a canonical unsigned decimal (digits only, no sign, no
// leading zero) no greater than limit.
func parseDecimal(s string, limit uint64) (uint64, error) {
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("not a canonical decimal")
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not a canonical decimal")
		}
		n = n*10 + uint64(c-'0')
	}
	if n > limit {
		return 0, fmt.Errorf("%d is above %d", n, limit)
	}
	return n, nil
}

// decodeBase64 decodes unpadded standard base64, refusing what Go's decoder
// would otherwise skip (newlines) or accept loosely (non-zero trailing bits),
// so that every accepted string has exactly one encoding.
func decodeBase64(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return nil, fmt.Errorf("byte %d is not base64", i)
		}
	}
	return base64.RawStdEncoding.Strict().DecodeString(s)
}

// invalidHash builds ParsePHC's error.
func invalidHash(why string) *errs.Error {
	return errs.Invalid(CodeHashInvalid, "password hash "+why)
}

// truncate shortens untrusted text quoted in an error message.
func truncate(s string) string {
	const limit = 32
	if len(s) > limit {
		return s[:limit] + "..."
	}
	return s
}
