package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// DefaultLeeway is the clock skew the Verifier allows when checking exp, nbf
// and iat if VerifierOptions.Leeway is zero.
const DefaultLeeway = 30 * time.Second

// DefaultMaxTokenBytes is the longest token the Verifier looks at if
// VerifierOptions.MaxTokenBytes is zero.
const DefaultMaxTokenBytes = 8 << 10

// CodeInvalidToken is the errs code of every verification failure (RFC 6750
// §3.1 "invalid_token").
const CodeInvalidToken = "invalid_token"

// KeyLookup finds a trusted ECDSA P-256 public key by its key id. It is the
// only way the Verifier finds keys. LocalKeySet, RemoteKeySet and KeySet
// implement it.
type KeyLookup interface {
	PublicKey(ctx context.Context, kid string) (*ecdsa.PublicKey, bool)
}

// KeyLookupFunc adapts a function to KeyLookup.
type KeyLookupFunc func(ctx context.Context, kid string) (*ecdsa.PublicKey, bool)

// PublicKey calls f.
func (f KeyLookupFunc) PublicKey(ctx context.Context, kid string) (*ecdsa.PublicKey, bool) {
	return f(ctx, kid)
}

// VerifierOptions configures a Verifier.
type VerifierOptions struct {
	// Issuer is the expected "iss", compared exactly. Required.
	Issuer string
	// Audience must be one of the token's "aud" values. Required.
	Audience string
	// Keys finds the public key named by the header's "kid". Required.
	Keys KeyLookup
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Leeway is the clock skew allowed on exp, nbf and iat: zero means
	// DefaultLeeway, a negative value none.
	Leeway time.Duration
	// MaxTokenBytes bounds the token's length; zero means
	// DefaultMaxTokenBytes.
	MaxTokenBytes int
}

// Verifier checks Gatehouse access tokens. It is safe for concurrent use.
//
// It accepts only what Issue produces: a compact JWS with alg exactly
// "ES256", typ "at+jwt" (or "application/at+jwt"), no "crit", a kid that
// KeyLookup knows, a 64-byte r||s signature that verifies, and claims with
// the expected iss and aud, a sub, and exp, nbf and iat consistent with the
// clock. Header members that carry or point at keys (jwk, jku, x5c, x5u) are
// ignored. Base64url must be unpadded and canonical; JSON must be strict
// (see Claims.UnmarshalJSON), and no header member or claim that is read
// may appear twice.
type Verifier struct {
	issuer   string
	audience string
	keys     KeyLookup
	now      func() time.Time
	leeway   time.Duration
	maxBytes int
	b64      *base64.Encoding
}

// NewVerifier returns a Verifier. Missing required options do not panic;
// every Verify then fails with an internal error.
func NewVerifier(opts VerifierOptions) *Verifier {
	v := &Verifier{
		issuer:   opts.Issuer,
		audience: opts.Audience,
		keys:     opts.Keys,
		now:      opts.Now,
		leeway:   opts.Leeway,
		maxBytes: opts.MaxTokenBytes,
		b64:      base64.RawURLEncoding.Strict(),
	}
	if v.now == nil {
		v.now = time.Now
	}
	switch {
	case v.leeway == 0:
		v.leeway = DefaultLeeway
	case v.leeway < 0:
		v.leeway = 0
	}
	if v.maxBytes <= 0 {
		v.maxBytes = DefaultMaxTokenBytes
	}
	return v
}

// invalid is a verification failure; reason is for the log.
func invalid(reason string) error {
	return errs.E(errs.KindUnauthenticated, CodeInvalidToken, "token: "+reason)
}

// invalidErr is a verification failure with a cause.
func invalidErr(reason string, err error) error {
	return errs.Wrap(errs.KindUnauthenticated, CodeInvalidToken, "token: "+reason, err)
}

// Verify checks token and returns its claims. A token that fails any check
// gives an *errs.Error of kind KindUnauthenticated and code "invalid_token"
// whose message names the reason; ctx bounds any key fetch the KeyLookup
// makes.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if v.issuer == "" || v.audience == "" || v.keys == nil {
		return nil, errs.Internal(errors.New("token: verifier needs Issuer, Audience and Keys"))
	}
	if len(token) == 0 {
		return nil, invalid("empty token")
	}
	if len(token) > v.maxBytes {
		return nil, invalid("token too long")
	}
	dot1 := strings.IndexByte(token, '.')
	if dot1 < 0 {
		return nil, invalid("not a compact JWS")
	}
	dot2 := strings.IndexByte(token[dot1+1:], '.')
	if dot2 < 0 {
		return nil, invalid("not a compact JWS")
	}
	dot2 += dot1 + 1
	if strings.IndexByte(token[dot2+1:], '.') >= 0 {
		return nil, invalid("not a compact JWS (JWE or extra segment)")
	}
	// encoding/base64 skips CR and LF even in strict mode; we do not.
	if strings.IndexByte(token, '\n') >= 0 || strings.IndexByte(token, '\r') >= 0 {
		return nil, invalid("bad base64url")
	}

	// Header.
	var hdrBuf [256]byte
	hdrJSON, err := v.decode(hdrBuf[:0], token[:dot1])
	if err != nil {
		return nil, invalidErr("bad base64url in header", err)
	}
	kid, err := v.checkHeader(hdrJSON)
	if err != nil {
		return nil, err
	}

	// Signature.
	sigB64 := token[dot2+1:]
	if len(sigB64) != v.b64.EncodedLen(sigSize) {
		return nil, invalid("signature is not 64 bytes")
	}
	var sig [sigSize]byte
	if n, err := v.b64.Decode(sig[:], []byte(sigB64)); err != nil || n != sigSize {
		return nil, invalid("bad base64url in signature")
	}
	pub, ok := v.keys.PublicKey(ctx, kid)
	if !ok {
		return nil, invalid("unknown kid")
	}
	if pub == nil || pub.Curve != elliptic.P256() {
		return nil, invalid("key is not P-256")
	}
	digest := sha256.Sum256([]byte(token[:dot2]))
	var der [derSignatureMax]byte
	if !ecdsa.VerifyASN1(pub, digest[:], appendDERSignature(der[:0], &sig)) {
		return nil, invalid("bad signature")
	}

	// Claims.
	var payloadBuf [1024]byte
	payload, err := v.decode(payloadBuf[:0], token[dot1+1:dot2])
	if err != nil {
		return nil, invalidErr("bad base64url in payload", err)
	}
	c := new(Claims)
	if err := parseClaims(string(payload), c); err != nil {
		return nil, invalidErr("bad claims", err)
	}
	if err := v.checkClaims(c); err != nil {
		return nil, err
	}
	return c, nil
}

// decode decodes strict, unpadded base64url, using buf when it is large
// enough.
func (v *Verifier) decode(buf []byte, s string) ([]byte, error) {
	if len(s) == 0 {
		return nil, errors.New("empty segment")
	}
	return v.b64.AppendDecode(buf, []byte(s))
}

// Header members the Verifier reads, to refuse duplicates.
const (
	hdrAlg = 1 << iota
	hdrTyp
	hdrKid
	hdrCrit
)

// checkHeader checks the JOSE header and returns its kid.
func (v *Verifier) checkHeader(data []byte) (string, error) {
	var h joseHeader
	if err := h.parse(string(data)); err != nil {
		return "", invalidErr("bad header", err)
	}
	switch {
	case h.alg != "ES256":
		return "", invalid("alg is not ES256")
	case !strings.EqualFold(h.typ, "at+jwt") && !strings.EqualFold(h.typ, "application/at+jwt"):
		return "", invalid("typ is not at+jwt")
	case h.seen&hdrCrit != 0:
		return "", invalid("crit header not supported")
	case h.kid == "":
		return "", invalid("no kid")
	}
	return h.kid, nil
}

// joseHeader is the part of a JOSE header the Verifier reads. Everything
// else, jwk, jku, x5c and x5u included, is skipped unread.
type joseHeader struct {
	alg, typ, kid string
	seen          uint8
}

// parse reads a header; a member it reads may appear only once.
func (h *joseHeader) parse(data string) error {
	r := jsonReader{data: data}
	it, err := r.openObject()
	if err != nil {
		return err
	}
	for {
		name, ok, err := it.next()
		if err != nil {
			return err
		}
		if !ok {
			return r.end()
		}
		var bit uint8
		var dst *string
		switch name {
		case "alg":
			bit, dst = hdrAlg, &h.alg
		case "typ":
			bit, dst = hdrTyp, &h.typ
		case "kid":
			bit, dst = hdrKid, &h.kid
		case "crit":
			bit = hdrCrit
		}
		if h.seen&bit != 0 {
			return fmt.Errorf("%q: %w", name, errDuplicateClaim)
		}
		h.seen |= bit
		if dst != nil {
			*dst, err = r.string()
		} else {
			err = r.skip(1)
		}
		if err != nil {
			return err
		}
	}
}

// checkClaims applies the claim rules to verified claims.
func (v *Verifier) checkClaims(c *Claims) error {
	now := v.now()
	switch {
	case c.ExpiresAt.IsZero():
		return invalid("no exp")
	case !now.Before(c.ExpiresAt.Add(v.leeway)):
		return invalid("token expired")
	case !c.NotBefore.IsZero() && now.Add(v.leeway).Before(c.NotBefore):
		return invalid("token not valid yet (nbf)")
	case c.IssuedAt.IsZero():
		return invalid("no iat")
	case now.Add(v.leeway).Before(c.IssuedAt):
		return invalid("iat in the future")
	case c.Issuer != v.issuer:
		return invalid("wrong iss")
	case !c.Audience.Contains(v.audience):
		return invalid("wrong aud")
	case c.Subject == "":
		return invalid("no sub")
	}
	return nil
}
