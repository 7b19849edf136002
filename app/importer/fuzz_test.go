package importer

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/legacyhash"
)

// FuzzParseLine: any bytes either are rejected with a reason or give a
// record whose email is normalised, whose directory key is its hash and
// whose credential parses back; nothing panics and no field that reaches
// the database holds a NUL byte.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		`{"email":"a@example.com"}`,
		`{"email":"B@Example.com","email_verified":true,"external_id":"x1","home_region":"europe-west1","created_at":"2020-01-01T00:00:00Z"}`,
		`{"email":"c@example.com","password":{"hash":"$2y$05$RzFDRjqYkvX99vpxJm4HreXY7z53MUpHbDqkhxU.N5/bNzPk4rENm"}}`,
		`{"email":"d@example.com","password":{"algorithm":"md5","encoding":"hex","hash":"5f4dcc3b5aa765d61d8327deb882cf99","salt":"s","salt_position":"prefix"}}`,
		`{"email":"e@example.com","password":{"hash":"pbkdf2_sha1$1$salt$DGDID5YfDnHzqbUkr2ASBi/gN6Y="}}`,
		`{"email":"f@example.com","password":{"hash":"$argon2id$v=19$m=4096,t=3,p=1$c2FsdHNhbHRzYWx0$APVfdGnAKxzAbw4vJ6OxGA"}}`,
		`{"email":"g@example.com","password":{"algorithm":"sha1","encoding":"base64","hash":"W6ph5Mm5Pz8GgiULbPgzG37mj9g="}}`,
		`{"email":"h@example.com","password":{"hash":"$scrypt$ln=4,r=1,p=1$$d9ZXYjhleyA7GcpCwYoEl/FrSETjB0ro39/6P+3iFEL80Aad7QlI+DJqdToPyB8X6NPg+y4NNijPNeIMONGJBg"}}`,
		`{"email":"i@example.com","EMAIL":"x","email":"y"}`,
		`{"email":"\u0130@example.com"}`,
		"",
		`{"password":{"hash":"{}"}}`,
	} {
		f.Add([]byte(s))
	}
	p := testParser()
	f.Fuzz(func(t *testing.T, line []byte) {
		rec, err := p.Parse(line, 1)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("a rejection without a reason")
			}
			return
		}
		norm, nerr := auth.NormaliseEmail(rec.User.Email)
		if nerr != nil || norm != rec.User.Email {
			t.Fatalf("accepted email %q is not normalised (%q, %v)", rec.User.Email, norm, nerr)
		}
		if !bytes.Equal(rec.EmailHash, auth.EmailHash(rec.User.Email)) {
			t.Fatal("email hash does not match the email")
		}
		for _, s := range []string{rec.User.Email, rec.User.ExternalID, rec.User.HomeRegion} {
			if strings.IndexByte(s, 0) >= 0 {
				t.Fatalf("NUL byte in %q", s)
			}
		}
		if c := rec.Credential; c != nil {
			h, err := legacyhash.Parse(c.Hash)
			if err != nil {
				t.Fatalf("accepted hash does not parse back: %v", err)
			}
			if h.String() != c.Hash || c.Kind != auth.CredentialLegacy || h.Fast() != (c.Recipe != nil) {
				t.Fatalf("credential not canonical: %+v", c)
			}
			if bytes.Contains(c.Recipe, []byte(`\u0000`)) || strings.IndexByte(c.Hash, 0) >= 0 {
				t.Fatal("NUL in the stored credential")
			}
		}
	})
}
