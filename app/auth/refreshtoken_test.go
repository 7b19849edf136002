package auth

import (
	"crypto/rand"
	"strings"
	"testing"
)

func TestRefreshTokenFormat(t *testing.T) {
	s := New(Config{}, Deps{Random: rand.Reader})
	tok, hash := s.newRefreshToken("europe-west1")
	if !strings.HasPrefix(tok, "ghr_europe-west1_") || len(hash) != 32 {
		t.Fatalf("token %q hash %d bytes", tok, len(hash))
	}
	region, err := ParseRefreshToken(tok)
	if err != nil || region != "europe-west1" {
		t.Fatalf("parse: %q %v", region, err)
	}
	other, _ := s.newRefreshToken("europe-west1")
	if other == tok {
		t.Fatal("two tokens are equal")
	}
	for _, bad := range []string{"", "ghr_", "ghr__" + strings.Repeat("A", 43), "ghx_us-east1_" + tok[len(tok)-43:],
		"ghr_US_" + tok[len(tok)-43:], "ghr_us-east1_" + tok[len(tok)-42:], "ghr_us-east1_" + tok[len(tok)-43:] + "A",
		"ghr_us-east1_" + strings.Repeat("*", 43)} {
		if _, err := ParseRefreshToken(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzParseRefreshToken(f *testing.F) {
	f.Add("ghr_us-east1_" + strings.Repeat("A", 43))
	f.Add("ghr_a_b_" + strings.Repeat("_", 43))
	f.Add("ghr_")
	f.Fuzz(func(t *testing.T, tok string) {
		region, err := ParseRefreshToken(tok)
		if err != nil {
			return
		}
		if !strings.HasPrefix(tok, "ghr_"+region+"_") || len(tok) != len("ghr_")+len(region)+1+43 {
			t.Fatalf("accepted %q as region %q", tok, region)
		}
	})
}

// The random part is base64url and may contain '_' itself: parsing must
// split at the first underscore after the region, never the last.
func TestRefreshTokenWithUnderscoresInRandomPart(t *testing.T) {
	tok := "ghr_us-east1_" + strings.Repeat("_", 20) + strings.Repeat("A", 22) + "A"
	region, err := ParseRefreshToken(tok)
	if err != nil || region != "us-east1" {
		t.Fatalf("parse %q: %q %v", tok, region, err)
	}
}
