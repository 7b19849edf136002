// Package breach checks passwords against the corpus of passwords exposed in
// known data breaches (Have I Been Pwned's Pwned Passwords), as NIST SP
// 800-63B 3.1.1.2 and OWASP ASVS V6.2 ask of a new password.
//
// Two checkers implement Checker. Range asks the online range API with
// k-anonymity: only the first five hex characters of the password's SHA-1
// leave the process, and the comparison with the returned suffixes happens
// here. Offline reads the per-prefix files that the HIBP downloader writes,
// for sites that cannot reach the internet. Policy turns a count into a
// client-facing refusal.
//
// Nothing in this package logs, stores or returns a password or its full
// hash; errors and logs do not carry even the prefix.
package breach

import (
	"context"
	"crypto/sha1" //nolint:gosec // SHA-1 is what the Pwned Passwords corpus is keyed by; not used for security.
	"encoding/hex"
	"strings"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// Checker reports how many times a password appears in known breaches.
type Checker interface {
	// Breached returns the number of times password (the exact UTF-8 bytes
	// given; the caller normalises) appears in the corpus, 0 when it does
	// not. An error means the corpus could not be consulted.
	Breached(ctx context.Context, password string) (count int, err error)
}

// Error codes this package uses in *errs.Error values.
const (
	// CodePasswordBreached is the code of Policy.Refuse's refusal.
	CodePasswordBreached = "password_breached"
	// CodeUnavailable is the code of every error a checker returns: the
	// corpus could not be consulted (endpoint down, bad answer, missing
	// file).
	CodeUnavailable = "breach_check_unavailable"
)

const (
	prefixLen = 5
	suffixLen = 40 - prefixLen
	// maxRangeBytes bounds a range response or file. Real ranges with
	// padding are about 40 KB; the bound leaves room for growth.
	maxRangeBytes = 2 << 20
)

// split hashes password with SHA-1 and returns the upper-case hex prefix
// (the only part that may leave the process) and suffix.
func split(password string) (prefix string, suffix [suffixLen]byte) {
	sum := sha1.Sum([]byte(password)) //nolint:gosec // see import
	var h [40]byte
	hex.Encode(h[:], sum[:])
	up := strings.ToUpper(string(h[:prefixLen]))
	for i := range suffix {
		suffix[i] = upperHex(h[prefixLen+i])
	}
	return up, suffix
}

// upperHex upper-cases a lower-case hex letter and leaves anything else.
func upperHex(c byte) byte {
	if c >= 'a' && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}

// unavailable wraps a checker failure as a KindUnavailable *errs.Error,
// leaving one that already is untouched.
func unavailable(err error) error {
	if e := errs.As(err); e != nil && e.Code == CodeUnavailable {
		return err
	}
	return errs.Wrap(errs.KindUnavailable, CodeUnavailable,
		"the breached-password check is unavailable", err)
}
