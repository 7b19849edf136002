package legacyhash

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"hash"
	"strconv"
	"strings"
)

// The crypt(3) SHA-256/SHA-512 scheme, as specified by Ulrich Drepper in
// "Unix crypt using SHA-256 and SHA-512" (SHA-crypt.txt).
const (
	shaCryptDefaultRounds = 5000
	shaCryptMinRounds     = 1000
	shaCryptMaxSalt       = 16
	// cryptAlphabet is crypt(3)'s base64 alphabet.
	cryptAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// shaCryptVariant holds what differs between $5$ and $6$.
type shaCryptVariant struct {
	id       string // "5" or "6"
	scheme   Scheme
	newHash  func() hash.Hash
	size     int      // digest bytes
	encLen   int      // characters of the encoded digest
	lastMask int      // the final character's index must be below this
	order    [][3]int // byte triples in the order the spec encodes them
}

var sha256Crypt = &shaCryptVariant{
	id: "5", scheme: SchemeSHA256Crypt, newHash: sha256.New, size: 32, encLen: 43, lastMask: 16,
	order: [][3]int{{0, 10, 20}, {21, 1, 11}, {12, 22, 2}, {3, 13, 23}, {24, 4, 14},
		{15, 25, 5}, {6, 16, 26}, {27, 7, 17}, {18, 28, 8}, {9, 19, 29}, {-1, 31, 30}},
}

var sha512Crypt = &shaCryptVariant{
	id: "6", scheme: SchemeSHA512Crypt, newHash: sha512.New, size: 64, encLen: 86, lastMask: 4,
	order: [][3]int{{0, 21, 42}, {22, 43, 1}, {44, 2, 23}, {3, 24, 45}, {25, 46, 4},
		{47, 5, 26}, {6, 27, 48}, {28, 49, 7}, {50, 8, 29}, {9, 30, 51}, {31, 52, 10},
		{53, 11, 32}, {12, 33, 54}, {34, 55, 13}, {56, 14, 35}, {15, 36, 57}, {37, 58, 16},
		{59, 17, 38}, {18, 39, 60}, {40, 61, 19}, {62, 20, 41}, {-1, -1, 63}},
}

// shaCryptHash is a $5$ or $6$ hash.
type shaCryptHash struct {
	v            *shaCryptVariant
	rounds       int
	roundsStated bool // "rounds=N$" was written, even if N is the default
	salt         string
	checksum     string // encoded, compared as the C library compares: as text
}

func parseShaCrypt(s string) (format, error) {
	v := sha256Crypt
	if s[1] == '6' {
		v = sha512Crypt
	}
	rest := s[3:]
	h := &shaCryptHash{v: v, rounds: shaCryptDefaultRounds}
	fields := strings.Split(rest, "$")
	if r, ok := cutField(fields[0], "rounds"); ok && len(fields) == 3 {
		n, err := parseDecimal(r, "crypt rounds", shaCryptMinRounds, MaxShaCryptRounds)
		if err != nil {
			return nil, err
		}
		h.rounds, h.roundsStated = int(n), true
		fields = fields[1:]
	}
	if len(fields) != 2 {
		return nil, invalid("crypt hash must be $" + v.id + "$[rounds=N$]salt$hash")
	}
	h.salt, h.checksum = fields[0], fields[1]
	if len(h.salt) > shaCryptMaxSalt || !inAlphabet(h.salt, cryptAlphabet) {
		return nil, invalid("crypt salt must be at most 16 characters of [./0-9A-Za-z]")
	}
	if len(h.checksum) != v.encLen || !inAlphabet(h.checksum, cryptAlphabet) {
		return nil, invalid("crypt hash must be " + strconv.Itoa(v.encLen) + " characters of [./0-9A-Za-z]")
	}
	if strings.IndexByte(cryptAlphabet, h.checksum[v.encLen-1]) >= v.lastMask {
		return nil, invalid("crypt hash is not canonically encoded")
	}
	return h, nil
}

func inAlphabet(s, alphabet string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(alphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}

func (h *shaCryptHash) scheme() Scheme { return h.v.scheme }

func (h *shaCryptHash) encode() string {
	var b strings.Builder
	b.WriteString("$" + h.v.id + "$")
	if h.roundsStated {
		b.WriteString("rounds=" + strconv.Itoa(h.rounds) + "$")
	}
	b.WriteString(h.salt + "$" + h.checksum)
	return b.String()
}

func (h *shaCryptHash) verify(password []byte) bool {
	// crypt(3) takes the password as a NUL-terminated string.
	if i := bytes.IndexByte(password, 0); i >= 0 {
		password = password[:i]
	}
	got := h.v.encodeDigest(h.v.digest(password, []byte(h.salt), h.rounds))
	return subtle.ConstantTimeCompare([]byte(got), []byte(h.checksum)) == 1
}

// digest runs the algorithm of SHA-crypt.txt, steps 1 to 21.
func (v *shaCryptVariant) digest(password, salt []byte, rounds int) []byte {
	// Digest B = H(password ‖ salt ‖ password).
	h := v.newHash()
	h.Write(password)
	h.Write(salt)
	h.Write(password)
	b := h.Sum(nil)

	// Digest A = H(password ‖ salt ‖ B repeated to len(password) ‖ …).
	h.Reset()
	h.Write(password)
	h.Write(salt)
	h.Write(repeatTo(b, len(password)))
	for n := len(password); n > 0; n >>= 1 {
		if n&1 != 0 {
			h.Write(b)
		} else {
			h.Write(password)
		}
	}
	a := h.Sum(nil)

	// P sequence: H(password repeated len(password) times), cut to len(password).
	h.Reset()
	for range len(password) {
		h.Write(password)
	}
	p := repeatTo(h.Sum(nil), len(password))

	// S sequence: H(salt repeated 16+A[0] times), cut to len(salt).
	h.Reset()
	for range 16 + int(a[0]) {
		h.Write(salt)
	}
	s := repeatTo(h.Sum(nil), len(salt))

	c := a
	for i := range rounds {
		h.Reset()
		if i&1 != 0 {
			h.Write(p)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(s)
		}
		if i%7 != 0 {
			h.Write(p)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(p)
		}
		c = h.Sum(c[:0])
	}
	return c
}

// repeatTo returns block repeated and cut to exactly n bytes.
func repeatTo(block []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out)+len(block) <= n {
		out = append(out, block...)
	}
	return append(out, block[:n-len(out)]...)
}

// encodeDigest renders a digest in crypt's base64, bytes taken in the
// spec's order, three at a time, least significant six bits first.
func (v *shaCryptVariant) encodeDigest(d []byte) string {
	out := make([]byte, 0, v.encLen)
	for _, t := range v.order {
		var w uint32
		chars := 4
		for _, idx := range t {
			w <<= 8
			if idx < 0 {
				chars--
				continue
			}
			w |= uint32(d[idx])
		}
		for range chars {
			out = append(out, cryptAlphabet[w&0x3f])
			w >>= 6
		}
	}
	return string(out)
}
