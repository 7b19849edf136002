package auth

import (
	"crypto/rand"
	"strings"
	"testing"
)

// FuzzParseLoginCode: the emailed-code parser never panics and accepts
// exactly six digits (with spaces or dashes between them), returning them.
func FuzzParseLoginCode(f *testing.F) {
	for _, seed := range []string{"123456", "123 456", "123-456", "12345", "1234567", "١٢٣٤٥٦", "", "12345a"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseLoginCode(in)
		if err != nil {
			return
		}
		if len(got) != 6 || strings.Trim(got, "0123456789") != "" {
			t.Fatalf("%q parsed as %q", in, got)
		}
		if strings.Trim(in, "0123456789 -") != "" {
			t.Fatalf("%q has characters other than digits, spaces and dashes", in)
		}
	})
}

// FuzzParseVerifyToken: the verification_token parser never panics and
// accepts only its own prefix.
func FuzzParseVerifyToken(f *testing.F) {
	s := New(Config{}, Deps{Random: rand.Reader})
	f.Add("ghv_us-east1_" + strings.Repeat("A", 43))
	f.Add("ghm_us-east1_" + strings.Repeat("A", 43))
	f.Add("ghv__")
	f.Fuzz(func(t *testing.T, in string) {
		region, err := ParseVerifyToken(in)
		if err == nil && (!strings.HasPrefix(in, verifyTokenPrefix) || region == "") {
			t.Fatalf("%q parsed (region %q)", in, region)
		}
		code := s.newLoginCode()
		if _, err := ParseLoginCode(code); err != nil {
			t.Fatalf("a drawn code %q does not parse", code)
		}
	})
}
