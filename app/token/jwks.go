package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/gatehouse-id/gatehouse/keys"
)

// jwk is one JSON Web Key (RFC 7517 §4, RFC 7518 §6.2) as Gatehouse
// publishes it.
type jwk struct {
	Kty    string   `json:"kty"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	D      string   `json:"d,omitempty"`
	Kid    string   `json:"kid"`
	Alg    string   `json:"alg,omitempty"`
	Use    string   `json:"use,omitempty"`
	KeyOps []string `json:"key_ops,omitempty"`
}

// jwkSet is a JWK Set (RFC 7517 §5).
type jwkSet struct {
	Keys []json.RawMessage `json:"keys"`
}

// JWKS returns the JWK Set of the public halves of signing keys, for the
// jwks_uri: {"keys":[{"kty":"EC","crv":"P-256","x":…,"y":…,"kid":…,
// "alg":"ES256","use":"sig"}]}, coordinates as 32-byte big-endian base64url.
func JWKS(signing []keys.SigningKey) ([]byte, error) {
	out := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, 0, len(signing))}
	for _, k := range signing {
		if k.Private == nil || k.Private.Curve != elliptic.P256() {
			return nil, fmt.Errorf("token: jwks: key %s: %w", k.KID(), errNotP256)
		}
		point, err := k.Private.PublicKey.Bytes() // 0x04 || X || Y, padded
		if err != nil {
			return nil, fmt.Errorf("token: jwks: key %s: %w", k.KID(), err)
		}
		out.Keys = append(out.Keys, jwk{
			Kty: "EC",
			Crv: "P-256",
			X:   base64.RawURLEncoding.EncodeToString(point[1:33]),
			Y:   base64.RawURLEncoding.EncodeToString(point[33:65]),
			Kid: k.KID(),
			Alg: "ES256",
			Use: "sig",
		})
	}
	return json.Marshal(out)
}

// KeySet is a fixed set of public keys by key id. It implements KeyLookup.
type KeySet map[string]*ecdsa.PublicKey

// PublicKey returns the key named kid.
func (s KeySet) PublicKey(_ context.Context, kid string) (*ecdsa.PublicKey, bool) {
	k, ok := s[kid]
	return k, ok
}

// ParseJWKS reads a JWK Set and keeps the keys usable for ES256: kty "EC",
// crv "P-256", alg "ES256" or absent, use "sig" or absent, key_ops absent or
// holding "verify", and a kid. Other keys are skipped, as RFC 7517 §5 asks.
// A usable key with a bad point, a private part, or a kid already seen makes
// the whole set an error.
func ParseJWKS(data []byte) (KeySet, error) {
	var set jwkSet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("token: jwks: %w", err)
	}
	if set.Keys == nil {
		return nil, errors.New("token: jwks: no \"keys\" array")
	}
	out := make(KeySet, len(set.Keys))
	for _, raw := range set.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			continue // not an object of the shape we know: not understood
		}
		if k.Kty != "EC" || k.Crv != "P-256" || (k.Alg != "" && k.Alg != "ES256") ||
			(k.Use != "" && k.Use != "sig") || (k.KeyOps != nil && !contains(k.KeyOps, "verify")) || k.Kid == "" {
			continue
		}
		if k.D != "" {
			return nil, fmt.Errorf("token: jwks: key %q has a private part", k.Kid)
		}
		if _, dup := out[k.Kid]; dup {
			return nil, fmt.Errorf("token: jwks: kid %q appears twice", k.Kid)
		}
		pub, err := parseP256Point(k.X, k.Y)
		if err != nil {
			return nil, fmt.Errorf("token: jwks: key %q: %w", k.Kid, err)
		}
		out[k.Kid] = pub
	}
	return out, nil
}

func contains(a []string, s string) bool {
	for _, v := range a {
		if v == s {
			return true
		}
	}
	return false
}

// parseP256Point decodes base64url x and y, each exactly 32 bytes (RFC 7518
// §6.2.1.2), and checks that they are a point on P-256.
func parseP256Point(x, y string) (*ecdsa.PublicKey, error) {
	enc := base64.RawURLEncoding.Strict()
	var point [65]byte
	point[0] = 4
	for i, c := range []string{x, y} {
		if len(c) != enc.EncodedLen(32) {
			return nil, errors.New("coordinate is not 32 bytes")
		}
		if n, err := enc.Decode(point[1+32*i:], []byte(c)); err != nil || n != 32 {
			return nil, errors.New("coordinate is not canonical base64url")
		}
	}
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point[:])
}

// LocalKeySet is the KeyLookup of the server that holds the signing keys: it
// reads the ring on every call, so rotation is seen at once, and caches the
// public keys by kid until the ring's keys change.
type LocalKeySet struct {
	keys SigningKeys
	snap atomic.Pointer[localSnapshot]
}

// localSnapshot is the public keys of one version of the ring.
type localSnapshot struct {
	from  []keys.SigningKey
	byKID KeySet
}

// NewLocalKeySet returns a LocalKeySet reading ring.
func NewLocalKeySet(ring SigningKeys) *LocalKeySet { return &LocalKeySet{keys: ring} }

// PublicKey returns the public half of the live signing key named kid.
func (l *LocalKeySet) PublicKey(_ context.Context, kid string) (*ecdsa.PublicKey, bool) {
	live := l.keys.SigningKeys()
	snap := l.snap.Load()
	if snap == nil || !sameKeys(snap.from, live) {
		snap = &localSnapshot{from: append([]keys.SigningKey(nil), live...), byKID: make(KeySet, len(live))}
		for _, k := range live {
			if k.Private != nil && k.Private.Curve == elliptic.P256() {
				snap.byKID[k.KID()] = &k.Private.PublicKey
			}
		}
		l.snap.Store(snap)
	}
	pub, ok := snap.byKID[kid]
	return pub, ok
}

func sameKeys(a, b []keys.SigningKey) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
