package router

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
)

// MinSecretBytes is the shortest inter-region secret accepted: 256 bits,
// the strength of HMAC-SHA256.
const MinSecretBytes = 32

// maxSecretBytes bounds a secret (HMAC hashes longer keys down anyway).
const maxSecretBytes = 512

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)

// Key is one version of the secret every region shares to authenticate
// forwarded requests. Its ID travels in the clear in each forwarded request
// so that a rotation (new key first, old one kept for verification until
// every region signs with the new one) does not break forwarding.
//
// Key redacts its secret when printed, logged or marshalled.
type Key struct {
	ID     string
	Secret []byte
}

// String names the key without its secret.
func (k Key) String() string { return "router.Key{ID:" + k.ID + ", Secret:[redacted]}" }

// Format keeps %v, %+v and %#v from printing the secret.
func (k Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// LogValue keeps slog from logging the secret.
func (k Key) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", k.ID), slog.String("secret", "[redacted]"))
}

// MarshalJSON keeps encoding/json from writing the secret.
func (k Key) MarshalJSON() ([]byte, error) {
	return []byte(`{"id":` + fmt.Sprintf("%q", k.ID) + `,"secret":"[redacted]"}`), nil
}

// Keys is where the Forwarder and the Verifier find the shared secrets.
// StaticKeys is the implementation for keys from configuration; a key
// source with background refresh can satisfy it as well.
type Keys interface {
	// Current is the key new forwarded requests are signed with.
	Current() Key
	// Lookup finds any live key by ID, the current one included.
	Lookup(id string) (secret []byte, ok bool)
}

// StaticKeys is a fixed set of keys: one current, others still accepted.
type StaticKeys struct {
	current Key
	byID    map[string][]byte
}

// NewStaticKeys checks and holds keys: current signs, current and previous
// verify. Each secret must be at least MinSecretBytes long; IDs are 1-32
// characters of [A-Za-z0-9._-] and distinct. The secrets are copied.
func NewStaticKeys(current Key, previous ...Key) (*StaticKeys, error) {
	s := &StaticKeys{byID: map[string][]byte{}}
	for i, k := range append([]Key{current}, previous...) {
		if !keyIDPattern.MatchString(k.ID) {
			return nil, fmt.Errorf("router: key %d: id must be 1-32 characters of A-Z a-z 0-9 . _ -", i+1)
		}
		if len(k.Secret) < MinSecretBytes || len(k.Secret) > maxSecretBytes {
			return nil, fmt.Errorf("router: key %q: secret must be %d to %d bytes, got %d", k.ID, MinSecretBytes, maxSecretBytes, len(k.Secret))
		}
		if _, dup := s.byID[k.ID]; dup {
			return nil, fmt.Errorf("router: key %q given twice", k.ID)
		}
		s.byID[k.ID] = append([]byte(nil), k.Secret...)
	}
	s.current = Key{ID: current.ID, Secret: s.byID[current.ID]}
	return s, nil
}

// ParseKeys reads keys written as a configuration value:
// "id:base64secret[,id:base64secret...]", the current key first. Secrets are
// standard padded base64 (`openssl rand -base64 32`). Errors never quote a
// secret.
func ParseKeys(s string) (*StaticKeys, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("router: no inter-region keys configured")
	}
	var keys []Key
	for i, part := range strings.Split(s, ",") {
		id, b64, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return nil, fmt.Errorf("router: key %d: want id:base64secret", i+1)
		}
		if len(b64) > base64.StdEncoding.EncodedLen(maxSecretBytes) {
			return nil, fmt.Errorf("router: key %d: secret longer than %d bytes", i+1, maxSecretBytes)
		}
		secret, err := base64.StdEncoding.Strict().DecodeString(b64)
		if err != nil {
			// The decoder's error names an offset only, never the data.
			return nil, fmt.Errorf("router: key %d: secret is not valid base64: %w", i+1, err)
		}
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	return NewStaticKeys(keys[0], keys[1:]...)
}

// Current is the signing key.
func (s *StaticKeys) Current() Key { return s.current }

// Lookup finds a key by ID.
func (s *StaticKeys) Lookup(id string) ([]byte, bool) {
	k, ok := s.byID[id]
	return k, ok
}

// String lists the key IDs, never the secrets.
func (s *StaticKeys) String() string {
	ids := make([]string, 0, len(s.byID))
	ids = append(ids, s.current.ID)
	for id := range s.byID {
		if id != s.current.ID {
			ids = append(ids, id)
		}
	}
	return "router.StaticKeys{" + strings.Join(ids, ",") + "}"
}

// LogValue logs the key IDs only.
func (s *StaticKeys) LogValue() slog.Value { return slog.StringValue(s.String()) }
