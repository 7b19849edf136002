package auth

import "encoding/hex"

// deviceRef is how the defense layers tell one presented device token from
// another, so that a trusted device is limited on its own rather than by
// its address: the hex of the token's SHA-256 ("" without a token). The
// defense keys it again before it reaches Redis.
func deviceRef(tok string) string {
	if tok == "" {
		return ""
	}
	return hex.EncodeToString(sha256Sum([]byte(tok)))
}
