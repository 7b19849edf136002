package keys

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// This file holds the parsing and encoding of key material shared by the key
// sources (Vault Transit exports and the local keyring use the same formats),
// and the redaction that keeps key material out of logs and error messages.
//
// No error returned from here ever quotes the material it was given.

// MaxPepperBytes is the largest pepper accepted (Vault's HMAC keys go up to
// 512 bytes).
const MaxPepperBytes = 512

// maxPEMBytes bounds the PEM text accepted for one signing key; a P-256 key
// in PEM is about 230 bytes.
const maxPEMBytes = 16 << 10

// ParseVersion parses a key version as written by a key source: a positive
// decimal integer in canonical form ("1", "12"; not "01", "+1" or "v1").
func ParseVersion(s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 || strconv.Itoa(v) != s {
		return 0, fmt.Errorf("keys: bad key version %q", truncate(s, 20))
	}
	return v, nil
}

// ParsePepper decodes a pepper written as standard, padded base64 (the form
// Vault's hmac-key export and the local keyring use). Surrounding whitespace
// and line breaks (as in wrapped `openssl rand -base64 64` output) are
// ignored.
func ParsePepper(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("keys: pepper is empty")
	}
	if len(s) > base64.StdEncoding.EncodedLen(MaxPepperBytes) {
		return nil, fmt.Errorf("keys: pepper is longer than %d bytes", MaxPepperBytes)
	}
	key, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		// The decoder's error names only an offset, never the data.
		return nil, fmt.Errorf("keys: pepper is not valid base64: %w", err)
	}
	if len(key) > MaxPepperBytes {
		return nil, fmt.Errorf("keys: pepper is longer than %d bytes", MaxPepperBytes)
	}
	return key, nil
}

// EncodePepper is the inverse of ParsePepper.
func EncodePepper(key []byte) string { return base64.StdEncoding.EncodeToString(key) }

// ParseSigningKeyPEM parses one ECDSA P-256 private key in PEM: either SEC 1
// ("EC PRIVATE KEY", what Vault's signing-key export and the local keyring
// write) or PKCS #8 ("PRIVATE KEY"). An "EC PARAMETERS" block, as written by
// `openssl ecparam -genkey`, is skipped; any other block, a second key,
// encrypted PEM and trailing data are refused.
func ParseSigningKeyPEM(data []byte) (*ecdsa.PrivateKey, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("keys: signing key is empty (no private key material)")
	}
	if len(data) > maxPEMBytes {
		return nil, fmt.Errorf("keys: signing key PEM is longer than %d bytes", maxPEMBytes)
	}
	var (
		priv  *ecdsa.PrivateKey
		rest  = data
		found bool
	)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if len(block.Headers) != 0 {
			return nil, errors.New("keys: encrypted or annotated PEM signing keys are not supported")
		}
		switch block.Type {
		case "EC PARAMETERS":
			continue
		case "EC PRIVATE KEY", "PRIVATE KEY":
		default:
			return nil, fmt.Errorf("keys: unexpected PEM block %q, want EC PRIVATE KEY or PRIVATE KEY", truncate(block.Type, 40))
		}
		if found {
			return nil, errors.New("keys: more than one private key in one PEM signing key")
		}
		found = true
		var err error
		if priv, err = parsePrivateKeyDER(block.Type, block.Bytes); err != nil {
			return nil, err
		}
	}
	if !found {
		return nil, errors.New("keys: signing key is not a PEM private key")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("keys: unexpected data after the PEM signing key")
	}
	return priv, nil
}

func parsePrivateKeyDER(typ string, der []byte) (*ecdsa.PrivateKey, error) {
	var priv *ecdsa.PrivateKey
	switch typ {
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("keys: bad SEC 1 EC private key: %w", err)
		}
		priv = k
	default: // "PRIVATE KEY"
		k, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return nil, fmt.Errorf("keys: bad PKCS #8 private key: %w", err)
		}
		ec, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("keys: PKCS #8 private key is %T, want ECDSA P-256", k)
		}
		priv = ec
	}
	if priv.Curve != elliptic.P256() {
		return nil, fmt.Errorf("keys: signing key is on curve %s, want P-256", priv.Curve.Params().Name)
	}
	return priv, nil
}

// EncodeSigningKeyPEM writes a private key as SEC 1 "EC PRIVATE KEY" PEM,
// the format Vault Transit exports.
func EncodeSigningKeyPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("keys: encoding signing key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// SigningKeys returns every live signing key, oldest first (for a JWKS).
// The slice is the Set's own: do not modify it.
func (s *Set) SigningKeys() []SigningKey { return s.Signing }

// Redaction. Secret, SigningKey and Set print, log and marshal to JSON
// without their key material, whatever verb or handler is used, so a stray
// log line or %+v in an error can never leak a pepper or a private key.

const redacted = "REDACTED"

// String describes the secret without its key.
func (s Secret) String() string {
	return fmt.Sprintf("Secret{Version: %d, Key: %s (%d bytes)}", s.Version, redacted, len(s.Key))
}

// GoString is String, so %#v redacts too.
func (s Secret) GoString() string { return s.String() }

// Format makes every fmt verb print String.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// LogValue logs the version only.
func (s Secret) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("version", s.Version), slog.String("key", redacted))
}

// MarshalJSON writes the version only.
func (s Secret) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `{"version":%d,"key":%q}`, s.Version, redacted), nil
}

// String describes the key by its KID, without the private key.
func (k SigningKey) String() string {
	return fmt.Sprintf("SigningKey{KID: %s, Private: %s}", strconv.Quote(k.KID()), redacted)
}

// GoString is String, so %#v redacts too.
func (k SigningKey) GoString() string { return k.String() }

// Format makes every fmt verb print String.
func (k SigningKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// LogValue logs the KID only.
func (k SigningKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kid", k.KID()), slog.String("private", redacted))
}

// MarshalJSON writes the KID only.
func (k SigningKey) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `{"kid":%q,"private":%q}`, k.KID(), redacted), nil
}

func (s *Set) pepperVersions() []int {
	v := make([]int, len(s.Peppers))
	for i, p := range s.Peppers {
		v[i] = p.Version
	}
	return v
}

func (s *Set) kids() []string {
	v := make([]string, len(s.Signing))
	for i, k := range s.Signing {
		v[i] = k.KID()
	}
	return v
}

// String lists the versions in the set, without key material.
func (s *Set) String() string {
	if s == nil {
		return "Set(nil)"
	}
	return fmt.Sprintf("Set{Peppers: versions %v, Signing: %v}", s.pepperVersions(), s.kids())
}

// GoString is String, so %#v redacts too.
func (s *Set) GoString() string { return s.String() }

// Format makes every fmt verb print String.
func (s *Set) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// LogValue logs the versions only.
func (s *Set) LogValue() slog.Value {
	if s == nil {
		return slog.StringValue("nil")
	}
	return slog.GroupValue(
		slog.Any("pepper_versions", s.pepperVersions()),
		slog.Any("signing_kids", s.kids()),
	)
}

// MarshalJSON writes the versions only.
func (s *Set) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("null"), nil
	}
	return json.Marshal(struct {
		PepperVersions []int    `json:"pepper_versions"`
		SigningKIDs    []string `json:"signing_kids"`
	}{s.pepperVersions(), s.kids()})
}
