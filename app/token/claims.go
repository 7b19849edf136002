// Package token issues and verifies Gatehouse access tokens: JWTs per
// RFC 9068 ("at+jwt"), signed with ES256 (ECDSA P-256, SHA-256).
//
// The Issuer signs tokens with the current key of a key ring. The Verifier
// checks them the way RFC 8725 asks: a single allowed algorithm, an explicit
// type, keys found only by key id in a trusted set, exact issuer and
// audience, and no trust in anything else the header says. JWKS publishes the
// public keys; RemoteKeySet fetches them for resource servers; Middleware
// puts verified claims into the request context of any net/http service.
package token

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Claims is the claims set of a Gatehouse access token (RFC 9068 §2.2 plus
// Gatehouse's own). Dates have whole-second precision. Claims has its own
// strict JSON encoding; see MarshalJSON and UnmarshalJSON.
type Claims struct {
	Issuer     string    `json:"iss"`
	Subject    string    `json:"sub"`
	Audience   Audience  `json:"aud"`
	ExpiresAt  time.Time `json:"exp"`
	IssuedAt   time.Time `json:"iat"`
	NotBefore  time.Time `json:"nbf,omitzero"` // optional; Issue does not set it
	ID         string    `json:"jti"`
	ClientID   string    `json:"client_id,omitempty"`
	SessionID  string    `json:"sid,omitempty"`
	AMR        []string  `json:"amr,omitempty"` // authentication methods, RFC 8176
	ACR        string    `json:"acr,omitempty"`
	AuthTime   time.Time `json:"auth_time,omitzero"`
	HomeRegion string    `json:"home_region,omitempty"`
}

// Audience is the "aud" claim. It is written as a single string when it has
// one element and as an array otherwise, and read from either form.
type Audience []string

// Contains reports whether aud names want. An empty want never matches.
func (aud Audience) Contains(want string) bool {
	return want != "" && slices.Contains(aud, want)
}

// MarshalJSON writes a one-element audience as a string, otherwise an array.
func (aud Audience) MarshalJSON() ([]byte, error) { return appendAudience(nil, aud) }

// UnmarshalJSON reads a string or an array of strings; null gives nil.
func (aud *Audience) UnmarshalJSON(data []byte) error {
	r := jsonReader{data: string(data)}
	if r.peek() == 'n' {
		if err := r.literal("null"); err != nil {
			return err
		}
		*aud = nil
		return r.end()
	}
	v, err := r.audience()
	if err != nil {
		return fmt.Errorf("token: aud: %w", err)
	}
	*aud = v
	return r.end()
}

// audience reads "aud" as a string or an array of strings.
func (r *jsonReader) audience() (Audience, error) {
	if r.peek() == '"' {
		s, err := r.string()
		return Audience{s}, err
	}
	v, err := r.stringArray()
	return Audience(v), err
}

func appendAudience(dst []byte, aud Audience) ([]byte, error) {
	if len(aud) == 1 {
		return appendJSONString(dst, aud[0])
	}
	return appendStringArray(dst, aud)
}

func appendStringArray(dst []byte, a []string) ([]byte, error) {
	dst = append(dst, '[')
	for i, s := range a {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendJSONString(dst, s); err != nil {
			return nil, err
		}
	}
	return append(dst, ']'), nil
}

// MarshalJSON encodes the claims as Issue signs them. iss, sub, aud and jti
// are always written; other empty strings and zero dates are left out.
// Dates before 1970 or after 9999 are an error.
func (c Claims) MarshalJSON() ([]byte, error) { return appendClaims(make([]byte, 0, 256), &c) }

// UnmarshalJSON decodes claims strictly: a claim Gatehouse reads may appear
// only once, with the right type; dates must be integers; unknown claims are
// ignored.
func (c *Claims) UnmarshalJSON(data []byte) error {
	var out Claims
	if err := parseClaims(string(data), &out); err != nil {
		return fmt.Errorf("token: claims: %w", err)
	}
	*c = out
	return nil
}

// appendClaims appends the JSON claims set.
func appendClaims(dst []byte, c *Claims) ([]byte, error) {
	var err error
	str := func(name, v string, always bool) {
		if err != nil || (v == "" && !always) {
			return
		}
		dst = appendJSONName(dst, name)
		dst, err = appendJSONString(dst, v)
	}
	date := func(name string, t time.Time) {
		if err != nil || t.IsZero() {
			return
		}
		if sec := t.Unix(); sec < 0 || sec > maxNumericDate {
			err = fmt.Errorf("%s %v is out of range", name, t)
			return
		}
		dst = appendJSONName(dst, name)
		dst = appendJSONInt(dst, t.Unix())
	}
	dst = append(dst, '{')
	str("iss", c.Issuer, true)
	str("sub", c.Subject, true)
	if err == nil {
		dst = appendJSONName(dst, "aud")
		dst, err = appendAudience(dst, c.Audience)
	}
	date("exp", c.ExpiresAt)
	date("iat", c.IssuedAt)
	date("nbf", c.NotBefore)
	str("jti", c.ID, true)
	str("client_id", c.ClientID, false)
	str("sid", c.SessionID, false)
	if err == nil && len(c.AMR) > 0 {
		dst = appendJSONName(dst, "amr")
		dst, err = appendStringArray(dst, c.AMR)
	}
	str("acr", c.ACR, false)
	date("auth_time", c.AuthTime)
	str("home_region", c.HomeRegion, false)
	if err != nil {
		return nil, err
	}
	return append(dst, '}'), nil
}

// Bits recording which claims parseClaims has seen, to refuse duplicates.
const (
	seenIss = 1 << iota
	seenSub
	seenAud
	seenExp
	seenIat
	seenNbf
	seenJti
	seenClientID
	seenSid
	seenAMR
	seenACR
	seenAuthTime
	seenHomeRegion
)

// errDuplicateClaim is returned when a claim we read appears twice.
var errDuplicateClaim = errors.New("appears more than once")

// parseClaims decodes a claims set into c. Strings without escapes are
// substrings of data.
func parseClaims(data string, c *Claims) error {
	r := jsonReader{data: data}
	it, err := r.openObject()
	if err != nil {
		return err
	}
	var seen uint32
	for {
		name, ok, err := it.next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if err := r.claim(name, c, &seen); err != nil {
			return fmt.Errorf("%q: %w", name, err)
		}
	}
	return r.end()
}

// claim reads the value of the member name into c.
func (r *jsonReader) claim(name string, c *Claims, seen *uint32) error {
	var (
		bit  uint32
		str  *string
		date *time.Time
	)
	switch name {
	case "iss":
		bit, str = seenIss, &c.Issuer
	case "sub":
		bit, str = seenSub, &c.Subject
	case "aud":
		bit = seenAud
	case "exp":
		bit, date = seenExp, &c.ExpiresAt
	case "iat":
		bit, date = seenIat, &c.IssuedAt
	case "nbf":
		bit, date = seenNbf, &c.NotBefore
	case "jti":
		bit, str = seenJti, &c.ID
	case "client_id":
		bit, str = seenClientID, &c.ClientID
	case "sid":
		bit, str = seenSid, &c.SessionID
	case "amr":
		bit = seenAMR
	case "acr":
		bit, str = seenACR, &c.ACR
	case "auth_time":
		bit, date = seenAuthTime, &c.AuthTime
	case "home_region":
		bit, str = seenHomeRegion, &c.HomeRegion
	default:
		return r.skip(1)
	}
	if *seen&bit != 0 {
		return errDuplicateClaim
	}
	*seen |= bit
	var err error
	switch {
	case str != nil:
		*str, err = r.string()
	case date != nil:
		var v int64
		v, err = r.numericDate()
		*date = time.Unix(v, 0)
	case bit == seenAud:
		c.Audience, err = r.audience()
	case bit == seenAMR:
		c.AMR, err = r.stringArray()
	}
	return err
}
