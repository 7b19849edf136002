package router

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Header names (contract §2, plus the internal forwarding header).
const (
	// HeaderRegion is on every response: the region that executed it.
	HeaderRegion = "Gatehouse-Region"
	// HeaderEntryRegion is on the response to a forwarded request: the
	// region the client reached.
	HeaderEntryRegion = "Gatehouse-Entry-Region"
	// HeaderForwarded carries the signed forwarding envelope from the entry
	// region to the home region. Only the Verifier may interpret it.
	HeaderForwarded = "Gatehouse-Forwarded"
)

// maxHeaderLen bounds the forwarding header; a real one is about 200 bytes.
const maxHeaderLen = 512

const (
	nonceBytes = 16
	nonceChars = 22 // base64url, no padding, of 16 bytes
	sigChars   = 43 // base64url, no padding, of 32 bytes
)

var regionPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`)

// envelope is the parsed forwarding header:
//
//	Gatehouse-Forwarded: v=1; kid=k1; entry=us-east1; to=europe-west1;
//	    client=203.0.113.7; ts=1732320000; nonce=<22 b64url>; sig=<43 b64url>
//
// The signature is HMAC-SHA256 under key kid over the canonical string of
// signingInput: the fields above but sig, plus the method, the request
// target (path and query), the SHA-256 of the body, and the Content-Type
// and Authorization headers.
type envelope struct {
	KeyID  string
	Entry  string
	To     string
	Client netip.Addr
	TS     int64 // unix seconds
	Nonce  string
	Sig    []byte
}

var errMalformed = errors.New("router: malformed forwarding header")

// parseHeader parses a forwarding header strictly: every field exactly
// once, in any order, nothing else, canonical forms only.
func parseHeader(s string) (envelope, error) {
	var e envelope
	if len(s) == 0 || len(s) > maxHeaderLen {
		return e, errMalformed
	}
	var seen uint8
	for part := range strings.SplitSeq(s, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || v == "" {
			return e, errMalformed
		}
		var bit uint8
		switch k {
		case "v":
			bit = 1 << 0
			if v != "1" {
				return e, errMalformed
			}
		case "kid":
			bit = 1 << 1
			if !keyIDPattern.MatchString(v) {
				return e, errMalformed
			}
			e.KeyID = v
		case "entry":
			bit = 1 << 2
			if !regionPattern.MatchString(v) {
				return e, errMalformed
			}
			e.Entry = v
		case "to":
			bit = 1 << 3
			if !regionPattern.MatchString(v) {
				return e, errMalformed
			}
			e.To = v
		case "client":
			bit = 1 << 4
			a, err := netip.ParseAddr(v)
			if err != nil || a.Zone() != "" || a.String() != v {
				return e, errMalformed
			}
			e.Client = a
		case "ts":
			bit = 1 << 5
			ts, err := strconv.ParseInt(v, 10, 64)
			if err != nil || ts <= 0 || strconv.FormatInt(ts, 10) != v {
				return e, errMalformed
			}
			e.TS = ts
		case "nonce":
			bit = 1 << 6
			if len(v) != nonceChars || !isB64URL(v, nonceBytes) {
				return e, errMalformed
			}
			e.Nonce = v
		case "sig":
			bit = 1 << 7
			if len(v) != sigChars {
				return e, errMalformed
			}
			sig, err := base64.RawURLEncoding.Strict().DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return e, errMalformed
			}
			e.Sig = sig
		default:
			return e, errMalformed
		}
		if seen&bit != 0 {
			return e, errMalformed
		}
		seen |= bit
	}
	if seen != 0xff {
		return e, errMalformed
	}
	return e, nil
}

func isB64URL(s string, n int) bool {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == n
}

// format writes the header; the inverse of parseHeader.
func (e envelope) format() string {
	var b strings.Builder
	b.Grow(256)
	b.WriteString("v=1; kid=")
	b.WriteString(e.KeyID)
	b.WriteString("; entry=")
	b.WriteString(e.Entry)
	b.WriteString("; to=")
	b.WriteString(e.To)
	b.WriteString("; client=")
	b.WriteString(e.Client.String())
	b.WriteString("; ts=")
	b.WriteString(strconv.FormatInt(e.TS, 10))
	b.WriteString("; nonce=")
	b.WriteString(e.Nonce)
	b.WriteString("; sig=")
	b.WriteString(base64.RawURLEncoding.EncodeToString(e.Sig))
	return b.String()
}

// signedRequest is what the signature covers besides the envelope.
type signedRequest struct {
	Method        string
	Target        string // path and query as on the wire: "/v1/login?x=1"
	ContentType   string
	Authorization string
	Body          []byte
}

// mac computes the envelope's signature over the request. Each field is
// length-prefixed, so no choice of values can make two different requests
// sign the same bytes.
func (e envelope) mac(secret []byte, r signedRequest) []byte {
	h := hmac.New(sha256.New, secret)
	bodySum := sha256.Sum256(r.Body)
	for _, f := range []string{
		"gatehouse-forward-v1",
		e.KeyID, e.Entry, e.To, e.Client.String(), strconv.FormatInt(e.TS, 10), e.Nonce,
		r.Method, r.Target, r.ContentType, r.Authorization,
		hex.EncodeToString(bodySum[:]),
	} {
		writeField(h, f)
	}
	return h.Sum(nil)
}

func writeField(h hash.Hash, f string) {
	_, _ = h.Write([]byte(strconv.Itoa(len(f))))
	_, _ = h.Write([]byte{':'})
	_, _ = h.Write([]byte(f))
	_, _ = h.Write([]byte{'\n'})
}
