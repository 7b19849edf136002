package auth

import (
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
)

// Refresh tokens look like ghr_<home region>_<43 base64url characters>:
// 256 random bits, prefixed with the region that holds them so that any
// region can route them without a lookup (contract §3). Only their SHA-256
// is stored.
const (
	refreshPrefix      = "ghr_"
	refreshRandomBytes = 32
	refreshRandomChars = 43 // base64url, no padding, of 32 bytes
)

var refreshRegion = regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`)

// errMalformedRefresh is what the token parsers return for anything that
// is not a token of theirs.
var errMalformedRefresh = errors.New("auth: malformed token")

// newRefreshToken returns a fresh refresh token homed in region and its hash.
func (s *Service) newRefreshToken(region string) (tok string, hash []byte) {
	tok = refreshPrefix + region + "_" + base64.RawURLEncoding.EncodeToString(s.randomBytes(refreshRandomBytes))
	return tok, sha256Sum([]byte(tok))
}

// ParseRefreshToken checks a refresh token's shape and returns its home
// region. It does not say whether the token is valid: only the store knows.
func ParseRefreshToken(tok string) (region string, err error) {
	return parseRegionToken(refreshPrefix, tok)
}

// Password-reset tokens have the same shape with their own prefix, so a
// reset confirmed in any region reaches the user's home region.
const resetPrefix = "ghp_"

// ParseResetToken checks a reset token's shape and returns its region.
func ParseResetToken(tok string) (region string, err error) {
	return parseRegionToken(resetPrefix, tok)
}

// parseRegionToken parses <prefix><region>_<43 base64url characters>.
func parseRegionToken(prefix, tok string) (string, error) {
	if len(tok) > 128 || !strings.HasPrefix(tok, prefix) {
		return "", errMalformedRefresh
	}
	rest := tok[len(prefix):]
	i := strings.IndexByte(rest, '_')
	if i < 0 {
		return "", errMalformedRefresh
	}
	region, random := rest[:i], rest[i+1:]
	if !refreshRegion.MatchString(region) || len(random) != refreshRandomChars {
		return "", errMalformedRefresh
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(random)
	if err != nil || len(raw) != refreshRandomBytes {
		return "", errMalformedRefresh
	}
	return region, nil
}
