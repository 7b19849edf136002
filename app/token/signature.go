package token

import "errors"

// JWS ES256 signatures are the raw 32-byte big-endian r and s concatenated
// (RFC 7518 §3.4); crypto/ecdsa speaks ASN.1 DER. These two functions
// convert between the forms without crypto/ecdsa's big.Int round trip.

// sigSize is the length of an ES256 signature in JOSE form.
const sigSize = 64

// derSignatureMax is the largest DER encoding of a P-256 signature:
// SEQUENCE(2) + 2 × INTEGER(2 + 33).
const derSignatureMax = 72

var errDERSignature = errors.New("malformed ECDSA signature")

// appendDERSignature appends the DER form of a raw r||s signature.
func appendDERSignature(dst []byte, raw *[sigSize]byte) []byte {
	r := trimInteger(raw[:32])
	s := trimInteger(raw[32:])
	dst = append(dst, 0x30, byte(integerLen(r)+integerLen(s)))
	dst = appendInteger(dst, r)
	return appendInteger(dst, s)
}

// trimInteger drops leading zero bytes, keeping at least one byte.
func trimInteger(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// integerLen is the length of the DER INTEGER holding the unsigned b.
func integerLen(b []byte) int {
	if b[0]&0x80 != 0 {
		return 3 + len(b)
	}
	return 2 + len(b)
}

func appendInteger(dst, b []byte) []byte {
	if b[0]&0x80 != 0 {
		return append(append(dst, 0x02, byte(len(b)+1), 0), b...)
	}
	return append(append(dst, 0x02, byte(len(b))), b...)
}

// rawFromDER converts a DER ECDSA P-256 signature to r||s.
func rawFromDER(der []byte) ([sigSize]byte, error) {
	var raw [sigSize]byte
	if len(der) < 2 || der[0] != 0x30 || int(der[1]) != len(der)-2 || der[1] >= 0x80 {
		return raw, errDERSignature
	}
	rest := der[2:]
	for half := range 2 {
		if len(rest) < 2 || rest[0] != 0x02 || int(rest[1]) > len(rest)-2 || rest[1] == 0 {
			return raw, errDERSignature
		}
		n := int(rest[1])
		v := rest[2 : 2+n]
		rest = rest[2+n:]
		if v[0]&0x80 != 0 {
			return raw, errDERSignature // negative
		}
		v = trimInteger(v)
		if len(v) > 32 {
			return raw, errDERSignature
		}
		copy(raw[half*32+32-len(v):], v)
	}
	if len(rest) != 0 {
		return raw, errDERSignature
	}
	return raw, nil
}
