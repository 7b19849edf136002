package router

import (
	"strings"
	"testing"
)

func TestHeaderRoundTrip(t *testing.T) {
	e := envelope{KeyID: "k1", Entry: regionA, To: regionB, Client: mustAddr("2001:db8::7"), TS: 1732320000, Nonce: nonceN(5), Sig: make([]byte, 32)}
	got, err := parseHeader(e.format())
	if err != nil {
		t.Fatal(err)
	}
	if got.format() != e.format() {
		t.Errorf("round trip: %q != %q", got.format(), e.format())
	}
	valid := e.format()
	for _, bad := range []string{
		"",
		strings.Replace(valid, "v=1", "v=2", 1),
		strings.Replace(valid, "; ts=", "; ts=0", 1),
		strings.Replace(valid, "client=2001:db8::7", "client=2001:0db8::7", 1),
		strings.Replace(valid, "client=2001:db8::7", "client=fe80::1%eth0", 1),
		strings.Replace(valid, "kid=k1", "kid=k 1", 1),
		strings.Replace(valid, "entry=us-east1", "entry=US-EAST1", 1),
		valid + "; extra=1",
		valid + "; kid=k1",
		strings.Replace(valid, "; nonce=", "; nonce=A", 1),
		strings.Replace(valid, "; sig=", "; sig=A", 1),
		valid[:strings.Index(valid, "; sig=")],
		valid + strings.Repeat(" ", maxHeaderLen),
	} {
		if _, err := parseHeader(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	e := envelope{KeyID: "k1", Entry: regionA, To: regionB, Client: mustAddr("203.0.113.7"), TS: 1732320000, Nonce: nonceN(5), Sig: make([]byte, 32)}
	f.Add(e.format())
	f.Add("v=1;kid=a;entry=ab;to=cd;client=::1;ts=1;nonce=AAAAAAAAAAAAAAAAAAAAAA;sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("v=1; v=1; v=1; v=1; v=1; v=1; v=1; v=1")
	f.Add(";;;===;")
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseHeader(s)
		if err != nil {
			return
		}
		again, err := parseHeader(e.format())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", e.format(), err)
		}
		if again.format() != e.format() {
			t.Fatalf("not stable: %q vs %q", again.format(), e.format())
		}
		// The MAC input is defined for anything parsed.
		_ = e.mac(testSecret, signedRequest{Method: "POST", Target: "/"})
	})
}

func TestRegionOfRefreshToken(t *testing.T) {
	random := "abcdefghijklmnopqrstuvwxyz_ABCDEFGHIJ-01234" // 43 chars with _ and -
	for _, tc := range []struct {
		tok, region string
		ok          bool
	}{
		{"ghr_europe-west1_" + random, "europe-west1", true},
		{"ghr_us-east1_" + strings.Repeat("_", 42) + "A", "us-east1", true},
		{"ghr_us-east1_" + random[:42], "", false},
		{"ghr_us-east1_" + random + "A", "", false},
		{"ghr_us-east1_" + random[:42] + "=", "", false},
		{"ghr_us-east1_" + random[:42] + "B", "", false}, // non-canonical last char
		{"ghr_US-EAST1_" + random, "", false},
		{"ghr_us_east1_" + random, "", false},
		{"ghr__" + random, "", false},
		{"ghr_us-east1" + random, "", false},
		{"ghx_us-east1_" + random, "", false},
		{"", "", false},
		{"ghr_", "", false},
	} {
		region, ok := RegionOfRefreshToken(tc.tok)
		if region != tc.region || ok != tc.ok {
			t.Errorf("RegionOfRefreshToken(%q) = %q, %v; want %q, %v", tc.tok, region, ok, tc.region, tc.ok)
		}
	}
}

func FuzzRegionOfRefreshToken(f *testing.F) {
	f.Add("ghr_europe-west1_abcdefghijklmnopqrstuvwxyz_ABCDEFGHIJ-01234")
	f.Add("ghr_a_")
	f.Fuzz(func(t *testing.T, tok string) {
		region, ok := RegionOfRefreshToken(tok)
		if !ok {
			return
		}
		if !regionPattern.MatchString(region) || !strings.HasPrefix(tok, "ghr_"+region+"_") || len(tok) != len("ghr__")+len(region)+43 {
			t.Fatalf("%q gave region %q", tok, region)
		}
	})
}
