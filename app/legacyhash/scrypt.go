package legacyhash

import (
	"crypto/subtle"
	"strconv"
	"strings"

	"golang.org/x/crypto/scrypt"
)

// scryptHash is passlib's "$scrypt$ln=L,r=R,p=P$salt$hash" (the same form as
// npm's @phc/scrypt): N = 2^L, salt and hash in unpadded standard base64.
// passlib always writes a 32-byte hash; other writers use other lengths, so
// the key length is taken from the hash (16 to 128 bytes).
type scryptHash struct {
	logN, r, p int
	salt, sum  []byte
}

const (
	scryptMinKey = 16
	scryptMaxKey = 128
)

func parseScrypt(s string) (format, error) {
	fields := strings.Split(s, "$")
	if len(fields) != 5 {
		return nil, invalid("scrypt hash must be $scrypt$ln=L,r=R,p=P$salt$hash")
	}
	params := strings.Split(fields[2], ",")
	if len(params) != 3 {
		return nil, invalid("scrypt parameters must be ln=L,r=R,p=P")
	}
	var vals [3]uint64
	for i, name := range []string{"ln", "r", "p"} {
		v, ok := cutField(params[i], name)
		if !ok {
			return nil, invalid("scrypt parameters must be ln=L,r=R,p=P")
		}
		n, err := parseDecimal(v, "scrypt "+name, 1, MaxScryptWork)
		if err != nil {
			return nil, err
		}
		vals[i] = n
	}
	logN, r, p := vals[0], vals[1], vals[2]
	// Checked in this order no product can overflow: 128·N <= 2^28 once
	// ln <= 21 (MaxScryptMemory = 2^28), then 128·N·r <= 2^28 and p <= 2^30.
	if logN > 21 || r > MaxScryptMemory/(uint64(128)<<logN) {
		return nil, invalid("scrypt memory 128·N·r is above the limit of 256 MiB")
	}
	if mem := uint64(128) << logN * r; mem*p > MaxScryptWork {
		return nil, invalid("scrypt work 128·N·r·p is above the limit of 1 GiB")
	}
	salt, err := decodePHC(fields[3])
	if err != nil || len(salt) > MaxSaltBytes {
		return nil, invalid("scrypt salt must be unpadded base64 of at most 1024 bytes")
	}
	sum, err := decodePHC(fields[4])
	if err != nil || len(sum) < scryptMinKey || len(sum) > scryptMaxKey {
		return nil, invalid("scrypt hash must be unpadded base64 of 16 to 128 bytes")
	}
	return &scryptHash{logN: int(logN), r: int(r), p: int(p), salt: salt, sum: sum}, nil
}

func (h *scryptHash) scheme() Scheme { return SchemeScrypt }

func (h *scryptHash) encode() string {
	return "$scrypt$ln=" + strconv.Itoa(h.logN) + ",r=" + strconv.Itoa(h.r) + ",p=" + strconv.Itoa(h.p) +
		"$" + phcBase64.EncodeToString(h.salt) + "$" + phcBase64.EncodeToString(h.sum)
}

func (h *scryptHash) verify(password []byte) bool {
	got, err := scrypt.Key(password, h.salt, 1<<h.logN, h.r, h.p, len(h.sum))
	if err != nil {
		return false // parameters were checked at parse; unreachable
	}
	return subtle.ConstantTimeCompare(got, h.sum) == 1
}
