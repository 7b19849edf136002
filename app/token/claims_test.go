package token

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestAudienceJSON(t *testing.T) {
	for _, tc := range []struct {
		aud  Audience
		json string
	}{
		{Audience{"a"}, `"a"`},
		{Audience{"a", "b"}, `["a","b"]`},
		{Audience{}, `[]`},
	} {
		got, err := json.Marshal(tc.aud)
		if err != nil || string(got) != tc.json {
			t.Errorf("Marshal(%q) = %s, %v; want %s", tc.aud, got, err, tc.json)
		}
		var back Audience
		if err := json.Unmarshal([]byte(tc.json), &back); err != nil || !reflect.DeepEqual(back, tc.aud) {
			t.Errorf("Unmarshal(%s) = %q, %v", tc.json, back, err)
		}
	}
	var a Audience
	if err := json.Unmarshal([]byte(`null`), &a); err != nil || a != nil {
		t.Errorf("null: %q, %v", a, err)
	}
	for _, bad := range []string{`1`, `{"a":1}`, `["a",1]`, `[null]`, `true`} {
		if err := json.Unmarshal([]byte(bad), &a); err == nil {
			t.Errorf("Unmarshal(%s) accepted", bad)
		}
	}
}

// CVE-2020-26160: jwt-go read an array "aud" as "" when it expected a
// string, so an audience check with an empty expected value passed. Here an
// array audience is read in full, in a claims set and on its own, and an
// empty audience never matches.
func TestAudienceArrayIsNotReadAsEmpty(t *testing.T) {
	var c Claims
	if err := json.Unmarshal([]byte(`{"sub":"u","aud":["x","`+testAudience+`"],"exp":1,"iat":1}`), &c); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Audience, Audience{"x", testAudience}) {
		t.Fatalf("aud = %q", c.Audience)
	}
	if !c.Audience.Contains(testAudience) || c.Audience.Contains("") || (Audience{""}).Contains("") {
		t.Fatal("Contains is wrong")
	}
	// Through the verifier: an array with ours passes, without it fails.
	f := newFixture(t)
	for aud, ok := range map[string]bool{
		`["x","` + testAudience + `"]`: true,
		`["x","y"]`:                    false,
		`[""]`:                         false,
	} {
		p := strings.Replace(validPayload(), `"`+testAudience+`"`, aud, 1)
		_, err := f.verifier.Verify(bg, signES256(t, f.key.Private, headerFor(f.key), p))
		if (err == nil) != ok {
			t.Errorf("aud %s: err = %v, want ok=%v", aud, err, ok)
		}
	}
}

func TestClaimsJSONRoundTrip(t *testing.T) {
	c := testClaims()
	c.Issuer = testIssuer
	c.ID = "jti-1"
	c.IssuedAt = time.Unix(testNow.Unix(), 0)
	c.ExpiresAt = c.IssuedAt.Add(time.Hour)
	c.NotBefore = c.IssuedAt
	c.AuthTime = time.Unix(c.AuthTime.Unix(), 0)
	c.Subject = "quote\" backslash\\ tab\t <html> & \u2028 é 😀"
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	// encoding/json reads what we write the same way.
	var generic map[string]any
	if err := json.Unmarshal(data, &generic); err != nil {
		t.Fatal(err)
	}
	if generic["sub"] != c.Subject || generic["home_region"] != "eu-west" || generic["exp"] != float64(c.ExpiresAt.Unix()) {
		t.Fatalf("encoding/json reads %v", generic)
	}
	var back Claims
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, c)
	}
	if _, err := json.Marshal(Claims{ExpiresAt: time.Unix(-1, 0)}); err == nil {
		t.Fatal("date before 1970 encoded")
	}
	// Optional claims are left out when empty.
	min, _ := json.Marshal(Claims{Subject: "s", Audience: Audience{"a"}, ExpiresAt: time.Unix(2, 0), IssuedAt: time.Unix(1, 0)})
	if want := `{"iss":"","sub":"s","aud":"a","exp":2,"iat":1,"jti":""}`; string(min) != want {
		t.Fatalf("minimal claims %s, want %s", min, want)
	}
	none, _ := json.Marshal(Claims{})
	if want := `{"iss":"","sub":"","aud":[],"jti":""}`; string(none) != want {
		t.Fatalf("empty claims %s, want %s", none, want)
	}
}

func TestClaimsUnmarshalStrict(t *testing.T) {
	for _, bad := range []string{
		`{"sub":"a","sub":"b"}`,
		`{"exp":1.5}`,
		`{"exp":-1}`,
		`{"exp":1e3}`,
		`{"exp":01}`,
		`{"exp":9999999999999}`,
		`{"amr":"pwd"}`,
		`{"sub":1}`,
		`{"sub":"a",}`,
		`{"sub":"a"} x`,
		`{"x":[1,]}`,
		`{"x":01}`,
		`{"x":tru}`,
		`{"x":"\x"}`,
		"{\"x\":\"\x01\"}",
		`{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
		`[]`,
		``,
	} {
		var c Claims
		if err := c.UnmarshalJSON([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	var c Claims
	if err := c.UnmarshalJSON([]byte(" {\"SUB\":\"upper\", \"sub\" : \"a\\/b\\u00e9\\ud83d\\ude00\", \"x\":{\"y\":[1.5e-3,-0,{}]}} \n")); err != nil {
		t.Fatal(err)
	}
	if c.Subject != "a/bé😀" {
		t.Fatalf("sub = %q", c.Subject)
	}
}
