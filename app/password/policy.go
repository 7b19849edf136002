package password

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// Error codes of Policy.Check.
const (
	CodePasswordTooShort    = "password_too_short"
	CodePasswordTooLong     = "password_too_long"
	CodePasswordInvalid     = "password_invalid"
	CodePasswordBlocklisted = "password_blocklisted"
)

// Policy defaults and floors.
const (
	// DefaultMinLength is the least number of characters (code points), as
	// NIST SP 800-63B requires of a password used with a second factor.
	DefaultMinLength = 8
	// DefaultMaxBytes is the longest password accepted, in UTF-8 bytes
	// after normalisation.
	DefaultMaxBytes = 1024
	// minMaxBytes is the floor of MaxBytes: 64 characters of up to 4 bytes
	// each, since NIST and ASVS require at least 64 characters be allowed.
	minMaxBytes = 64 * utf8.UTFMax
)

// Policy is the rule a new password must meet (NIST SP 800-63B 3.1.1.2,
// OWASP ASVS 5.0 V6.2): a minimum length, a generous maximum, no composition
// rules, and not among the passwords attackers try first. The zero value is
// usable: it means DefaultMinLength, DefaultMaxBytes and no blocklist.
type Policy struct {
	// MinLength is the least number of code points; <= 0 means
	// DefaultMinLength.
	MinLength int
	// MaxBytes is the most UTF-8 bytes; <= 0 means DefaultMaxBytes, and
	// anything below 256 is raised to 256 so 64 characters always fit.
	MaxBytes int
	// Blocklist, when set, refuses common passwords.
	Blocklist *Blocklist
}

// Normalise returns the NFKC form of a password, the bytes Gatehouse hashes.
// Use it at login: unlike Policy.Check it refuses nothing, so a policy made
// stricter later never locks out a password that was accepted earlier.
func Normalise(password string) []byte {
	return norm.NFKC.Bytes([]byte(password))
}

// Check vets a new password and returns its NFKC form, which is what to hash
// (as []byte). It never truncates, changes case, or demands character
// classes. It refuses, with an errs.KindInvalid error whose message says why:
// invalid UTF-8 and control characters (tabs, newlines, NUL; ordinary spaces
// are fine) with CodePasswordInvalid; fewer than MinLength code points with
// CodePasswordTooShort; more than MaxBytes bytes with CodePasswordTooLong; and
// passwords on the blocklist, compared case-insensitively, with
// CodePasswordBlocklisted.
func (p Policy) Check(password string) (string, error) {
	minLength, maxBytes := p.limits()
	// Bound the input before normalising it; normalising can only lengthen
	// what is checked again below.
	if len(password) > maxBytes {
		return "", tooLong(maxBytes)
	}
	if !utf8.ValidString(password) {
		return "", errs.Invalid(CodePasswordInvalid, "password is not valid UTF-8 text")
	}
	normalised := norm.NFKC.String(password)
	if len(normalised) > maxBytes {
		return "", tooLong(maxBytes)
	}
	for _, r := range normalised {
		if isForbidden(r) {
			return "", errs.Invalid(CodePasswordInvalid, "password must not contain control characters such as tabs, line breaks or NUL")
		}
	}
	if utf8.RuneCountInString(normalised) < minLength {
		e := errs.Invalid(CodePasswordTooShort, fmt.Sprintf("password must be at least %d characters long", minLength))
		e.Details = map[string]any{"min_length": minLength}
		return "", e
	}
	if p.Blocklist != nil && p.Blocklist.Contains(normalised) {
		return "", errs.Invalid(CodePasswordBlocklisted, "password is too common: it is on a list of passwords attackers try first; choose another")
	}
	return normalised, nil
}

// limits applies the defaults and floor to p.
func (p Policy) limits() (minLength, maxBytes int) {
	minLength, maxBytes = p.MinLength, p.MaxBytes
	if minLength <= 0 {
		minLength = DefaultMinLength
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	maxBytes = max(maxBytes, minMaxBytes)
	return minLength, maxBytes
}

// isForbidden reports control characters (Unicode Cc, which includes tab,
// newline and NUL) and the Unicode line and paragraph separators.
func isForbidden(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp)
}

// tooLong builds Check's error for an over-long password.
func tooLong(maxBytes int) *errs.Error {
	e := errs.Invalid(CodePasswordTooLong, fmt.Sprintf("password must be at most %d bytes long", maxBytes))
	e.Details = map[string]any{"max_bytes": maxBytes}
	return e
}
