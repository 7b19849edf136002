package legacyhash

import (
	"crypto/subtle"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2Hash is a PHC string "$argon2id$v=19$m=M,t=T,p=P$salt$hash" (or
// $argon2i$) from any system, with its own parameters and no pepper. Only
// version 19 (0x13) is supported: the reference code has written it since
// 2016, and x/crypto cannot compute version 16.
type argon2Hash struct {
	variant   string // "argon2i" or "argon2id"
	memoryKiB uint32
	passes    uint32
	lanes     uint8
	salt, sum []byte
}

// Limits of the Argon2 specification (RFC 9106, section 3.1) that the
// reference implementation enforces.
const (
	argon2MinSalt = 8
	argon2MinKey  = 4
	argon2MaxKey  = 1024
)

func parseArgon2(s string) (format, error) {
	fields := strings.Split(s, "$")
	variant := fields[1]
	if variant != "argon2i" && variant != "argon2id" {
		return nil, invalid("unsupported argon2 variant (want argon2i or argon2id)")
	}
	if len(fields) == 5 {
		return nil, invalid("argon2 version 16 (no v= field) is not supported; want v=19")
	}
	if len(fields) != 6 {
		return nil, invalid("argon2 hash must be $" + variant + "$v=19$m=M,t=T,p=P$salt$hash")
	}
	if fields[2] != "v=19" {
		return nil, invalid("argon2 version must be v=19")
	}
	params := strings.Split(fields[3], ",")
	if len(params) != 3 {
		return nil, invalid("argon2 parameters must be m=M,t=T,p=P (no keyid or data)")
	}
	limits := []struct {
		name string
		hi   uint64
	}{{"m", MaxArgon2MemoryKiB}, {"t", MaxArgon2Passes}, {"p", MaxArgon2Lanes}}
	var vals [3]uint64
	for i, l := range limits {
		v, ok := cutField(params[i], l.name)
		if !ok {
			return nil, invalid("argon2 parameters must be m=M,t=T,p=P (no keyid or data)")
		}
		n, err := parseDecimal(v, "argon2 "+l.name, 1, l.hi)
		if err != nil {
			return nil, err
		}
		vals[i] = n
	}
	m, t, p := vals[0], vals[1], vals[2]
	if m < 8*p {
		return nil, invalid("argon2 memory must be at least 8 KiB per lane")
	}
	if m*t > MaxArgon2Work {
		return nil, invalid("argon2 work m·t is above the limit of 1 GiB")
	}
	salt, err := decodePHC(fields[4])
	if err != nil || len(salt) < argon2MinSalt || len(salt) > MaxSaltBytes {
		return nil, invalid("argon2 salt must be unpadded base64 of 8 to 1024 bytes")
	}
	sum, err := decodePHC(fields[5])
	if err != nil || len(sum) < argon2MinKey || len(sum) > argon2MaxKey {
		return nil, invalid("argon2 hash must be unpadded base64 of 4 to 1024 bytes")
	}
	return &argon2Hash{variant: variant, memoryKiB: uint32(m), passes: uint32(t), lanes: uint8(p), salt: salt, sum: sum}, nil
}

func (h *argon2Hash) scheme() Scheme { return SchemeArgon2 }

func (h *argon2Hash) encode() string {
	return "$" + h.variant + "$v=19$m=" + strconv.FormatUint(uint64(h.memoryKiB), 10) +
		",t=" + strconv.FormatUint(uint64(h.passes), 10) + ",p=" + strconv.Itoa(int(h.lanes)) +
		"$" + phcBase64.EncodeToString(h.salt) + "$" + phcBase64.EncodeToString(h.sum)
}

func (h *argon2Hash) verify(password []byte) bool {
	keyFn := argon2.IDKey
	if h.variant == "argon2i" {
		keyFn = argon2.Key
	}
	got := keyFn(password, h.salt, h.passes, h.memoryKiB, h.lanes, uint32(len(h.sum)))
	return subtle.ConstantTimeCompare(got, h.sum) == 1
}
