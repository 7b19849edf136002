package router

import (
	"encoding/base64"
	"strings"
)

const (
	refreshPrefix      = "ghr_"
	refreshRandomChars = 43 // base64url, no padding, of 32 random bytes
	refreshRandomBytes = 32
	maxRefreshLen      = 128
)

// RegionOfRefreshToken returns the home region carried in the clear by a
// refresh token shaped ghr_<region>_<43 base64url characters> (contract
// §3), so a refresh request can be routed without a lookup. The region ends
// at the first underscore after "ghr_" (region names have none; the random
// part may). It checks the shape only, not that the region exists (look it
// up in the topology) nor that the token is valid (only its home region's
// store knows). The region comes from the client: never use it unchecked
// as a metric label.
func RegionOfRefreshToken(tok string) (string, bool) {
	if len(tok) > maxRefreshLen || !strings.HasPrefix(tok, refreshPrefix) {
		return "", false
	}
	region, random, ok := strings.Cut(tok[len(refreshPrefix):], "_")
	if !ok || !regionPattern.MatchString(region) || len(random) != refreshRandomChars {
		return "", false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(random)
	if err != nil || len(raw) != refreshRandomBytes {
		return "", false
	}
	return region, true
}
