package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
)

// IDToken is an OpenID Connect ID token's claims (OIDC Core 1.0 §2, §3.1.3.6).
type IDToken struct {
	Issuer        string   `json:"iss"`
	Subject       string   `json:"sub"`
	Audience      string   `json:"aud"`
	ExpiresAt     int64    `json:"exp"`
	IssuedAt      int64    `json:"iat"`
	AuthTime      int64    `json:"auth_time"`
	Nonce         string   `json:"nonce,omitempty"`
	ACR           string   `json:"acr,omitempty"`
	AMR           []string `json:"amr,omitempty"`
	SessionID     string   `json:"sid,omitempty"`
	AtHash        string   `json:"at_hash,omitempty"`
	AuthorizedBy  string   `json:"azp,omitempty"`
	Email         string   `json:"email,omitempty"`
	EmailVerified *bool    `json:"email_verified,omitempty"`
	HomeRegion    string   `json:"home_region,omitempty"`
}

// SignIDToken signs an ID token with the ring's current key (ES256, typ
// "JWT", so that it is never mistaken for an at+jwt access token). iss,
// iat and exp are filled in when unset (exp: iat plus the issuer's
// lifetime).
func (is *Issuer) SignIDToken(c IDToken) (string, error) {
	if c.Issuer == "" {
		c.Issuer = is.issuer
	}
	if c.IssuedAt == 0 {
		c.IssuedAt = is.now().Unix()
	}
	if c.ExpiresAt == 0 {
		c.ExpiresAt = c.IssuedAt + int64(is.ttl.Seconds())
	}
	if c.Subject == "" || c.Audience == "" || c.Issuer != is.issuer {
		return "", issueError("id token without sub or aud, or with a foreign iss")
	}
	key := is.keys.Signer()
	hdr, err := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": key.KID()})
	if err != nil {
		return "", issueError("id token header: %w", err)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", issueError("id token claims: %w", err)
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(hdr) + "." + enc.EncodeToString(payload)
	digest := sha256.Sum256([]byte(signing))
	der, err := ecdsa.SignASN1(rand.Reader, key.Private, digest[:])
	if err != nil {
		return "", issueError("signing with key %s: %w", key.KID(), err)
	}
	raw, err := rawFromDER(der)
	if err != nil {
		return "", issueError("signing with key %s: %w", key.KID(), err)
	}
	return signing + "." + enc.EncodeToString(raw[:]), nil
}

// AtHash is the at_hash of an access token for ES256 (OIDC Core §3.1.3.6):
// the base64url left half of its SHA-256.
func AtHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// VerifyIDTokenHint checks an ID token Gatehouse issued (an
// id_token_hint of RP-initiated logout): ES256 only, typ JWT, a key of
// keys, the exact issuer. Expiry is not checked: OIDC RP-Initiated Logout
// 1.0 §2 accepts an expired hint. Anything else is an error.
func VerifyIDTokenHint(ctx context.Context, keys KeyLookup, issuer, tok string) (IDToken, error) {
	var out IDToken
	parts := strings.Split(tok, ".")
	if len(tok) > 8192 || len(parts) != 3 {
		return out, errors.New("token: id token hint: malformed")
	}
	enc := base64.RawURLEncoding.Strict()
	rawHdr, err1 := enc.DecodeString(parts[0])
	payload, err2 := enc.DecodeString(parts[1])
	sig, err3 := enc.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || len(sig) != sigSize {
		return out, errors.New("token: id token hint: malformed")
	}
	var hdr struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
		Kid string `json:"kid"`
	}
	if json.Unmarshal(rawHdr, &hdr) != nil || hdr.Alg != "ES256" || hdr.Typ != "JWT" {
		return out, errors.New("token: id token hint: not an ES256 ID token")
	}
	pub, ok := keys.PublicKey(ctx, hdr.Kid)
	if !ok {
		return out, errors.New("token: id token hint: unknown key")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return out, errors.New("token: id token hint: bad signature")
	}
	if err := json.Unmarshal(payload, &out); err != nil || out.Issuer != issuer {
		return IDToken{}, errors.New("token: id token hint: bad claims")
	}
	return out, nil
}
