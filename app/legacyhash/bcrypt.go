package legacyhash

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// bcryptAlphabet is bcrypt's own base64 alphabet.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// bcryptMaxPassword is the number of password bytes bcrypt uses.
const bcryptMaxPassword = 72

// bcryptHash is a $2a$, $2b$ or $2y$ hash. The three differ only in bugs of
// old implementations that do not touch passwords of up to 72 bytes, so all
// three are verified alike ($2y$ as $2b$).
//
// Django stores bcrypt as "bcrypt$" + hash, or as "bcrypt_sha256$" + hash of
// the hex SHA-256 of the password (its BCryptSHA256PasswordHasher).
type bcryptHash struct {
	djangoPrefix string // "", "bcrypt" or "bcrypt_sha256"
	encoded      string // "$2b$10$" + 22 salt + 31 hash characters
}

// Django's bcrypt hasher names.
const (
	djangoBcrypt       = "bcrypt"
	djangoBcryptSHA256 = "bcrypt_sha256"
)

// parseDjangoBcrypt parses "bcrypt$$2b$…" or "bcrypt_sha256$$2b$…".
func parseDjangoBcrypt(s string) (format, error) {
	prefix, rest, _ := strings.Cut(s, "$")
	if !strings.HasPrefix(rest, "$2") {
		return nil, invalid("Django " + prefix + " hash must be " + prefix + "$ followed by a bcrypt hash")
	}
	f, err := parseBcrypt(rest)
	if err != nil {
		return nil, err
	}
	h := f.(*bcryptHash)
	h.djangoPrefix = prefix
	return h, nil
}

func parseBcrypt(s string) (format, error) {
	// $2x$ marks crypt_blowfish's sign-extension bug; bare $2$ predates the
	// NUL-terminator fix. Neither can be verified faithfully.
	if len(s) < 4 || !strings.Contains("aby", s[2:3]) || s[3] != '$' {
		return nil, invalid("unsupported bcrypt variant (want $2a$, $2b$ or $2y$)")
	}
	if len(s) != 60 || s[6] != '$' {
		return nil, invalid("bcrypt hash must be $2?$NN$ and 53 characters")
	}
	if _, err := parseDecimal(strings.TrimPrefix(s[4:6], "0"), "bcrypt cost", 4, MaxBcryptCost); err != nil {
		return nil, err
	}
	body := s[7:]
	for i := 0; i < len(body); i++ {
		if strings.IndexByte(bcryptAlphabet, body[i]) < 0 {
			return nil, invalid("bcrypt hash has a character outside its alphabet")
		}
	}
	// 22 characters carry the 16-byte salt and 31 the 23-byte hash; the bits
	// left over must be zero, or no C implementation would ever match it.
	if strings.IndexByte(bcryptAlphabet, body[21])%16 != 0 || strings.IndexByte(bcryptAlphabet, body[52])%4 != 0 {
		return nil, invalid("bcrypt salt or hash is not canonically encoded")
	}
	return &bcryptHash{encoded: s}, nil
}

func (h *bcryptHash) scheme() Scheme { return SchemeBcrypt }

func (h *bcryptHash) encode() string {
	if h.djangoPrefix != "" {
		return h.djangoPrefix + "$" + h.encoded
	}
	return h.encoded
}

func (h *bcryptHash) verify(password []byte) bool {
	if h.djangoPrefix == djangoBcryptSHA256 {
		sum := sha256.Sum256(password)
		password = []byte(hex.EncodeToString(sum[:]))
	}
	// C implementations read the password as a NUL-terminated string and use
	// at most 72 bytes of it; x/crypto would hash the bytes after a NUL.
	if i := bytes.IndexByte(password, 0); i >= 0 {
		password = password[:i]
	}
	if len(password) > bcryptMaxPassword {
		password = password[:bcryptMaxPassword]
	}
	return bcrypt.CompareHashAndPassword([]byte(h.encoded), password) == nil
}
