package legacyhash

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// phcBase64 is the PHC string format's base64: standard alphabet, no padding.
// Strict, so that every accepted string is the one encoding of its bytes.
var phcBase64 = base64.RawStdEncoding.Strict()

// paddedBase64 is standard base64 with padding (Django, raw digests).
var paddedBase64 = base64.StdEncoding.Strict()

// decodeAB64 decodes passlib's "adapted base64": the standard alphabet with
// '.' in place of '+' and no padding. Like passlib, it also takes '+'.
func decodeAB64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "=\r\n") {
		return nil, base64.CorruptInputError(0)
	}
	return phcBase64.DecodeString(strings.ReplaceAll(s, ".", "+"))
}

// encodeAB64 encodes b in passlib's adapted base64.
func encodeAB64(b []byte) string {
	return strings.ReplaceAll(phcBase64.EncodeToString(b), "+", ".")
}

// decodePHC decodes PHC base64, refusing the newlines Go's decoder skips.
func decodePHC(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, base64.CorruptInputError(0)
	}
	return phcBase64.DecodeString(s)
}

// decodePadded decodes padded standard base64, refusing newlines.
func decodePadded(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, base64.CorruptInputError(0)
	}
	return paddedBase64.DecodeString(s)
}

// parseDecimal parses a canonical decimal in [lo, hi]: digits only, no sign,
// no leading zero. The systems we import from render numbers with %d and
// compare whole strings, so a non-canonical number could never verify there.
func parseDecimal(s, what string, lo, hi uint64) (uint64, error) {
	if s == "" {
		return 0, invalid(what + " is empty")
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, invalid(what + " has a leading zero")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, invalid(what + " is not a decimal number")
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > hi {
		return 0, invalid(what + " is above the limit of " + strconv.FormatUint(hi, 10))
	}
	if n < lo {
		return 0, invalid(what + " is below the minimum of " + strconv.FormatUint(lo, 10))
	}
	return n, nil
}

// cutField removes "name=" from the front of s and reports whether it was there.
func cutField(s, name string) (string, bool) {
	return strings.CutPrefix(s, name+"=")
}
