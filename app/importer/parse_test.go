package importer

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/app/auth"
	"github.com/gatehouse-id/gatehouse/app/legacyhash"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testParser() *LineParser {
	return &LineParser{Region: "us-east1", Regions: []string{"us-east1", "europe-west1"}, Now: testNow}
}

func TestParseGoodLines(t *testing.T) {
	cases := []struct {
		name, line string
		check      func(t *testing.T, r Record)
	}{
		{"minimal", `{"email":"  Alice@Example.COM "}`, func(t *testing.T, r Record) {
			if r.User.Email != "alice@example.com" || r.Credential != nil || r.User.HomeRegion != "us-east1" ||
				!r.User.CreatedAt.Equal(testNow) || r.User.EmailVerified {
				t.Fatalf("got %+v", r.User)
			}
			if string(r.EmailHash) != string(auth.EmailHash("alice@example.com")) {
				t.Fatal("email hash is not auth.EmailHash of the normalised email")
			}
		}},
		{"all fields", `{"email":"b@example.com","email_verified":true,"external_id":"ext-1","home_region":"europe-west1",
			"created_at":"2019-05-01T10:00:00+02:00","password":{"hash":"$2y$05$RzFDRjqYkvX99vpxJm4HreXY7z53MUpHbDqkhxU.N5/bNzPk4rENm"}}`,
			func(t *testing.T, r Record) {
				u := r.User
				if !u.EmailVerified || u.ExternalID != "ext-1" || u.HomeRegion != "europe-west1" ||
					!u.CreatedAt.Equal(time.Date(2019, 5, 1, 8, 0, 0, 0, time.UTC)) {
					t.Fatalf("got %+v", u)
				}
				if r.Credential.Kind != auth.CredentialLegacy || !strings.HasPrefix(r.Credential.Hash, "$2y$05$") || r.Credential.Recipe != nil {
					t.Fatalf("credential %+v", r.Credential)
				}
			}},
		{"foreign argon2id is legacy", `{"email":"c@example.com","password":{"hash":"$argon2id$v=19$m=4096,t=3,p=1$c2FsdHNhbHRzYWx0$APVfdGnAKxzAbw4vJ6OxGA"}}`,
			func(t *testing.T, r Record) {
				if r.Credential.Kind != auth.CredentialLegacy || !strings.HasPrefix(r.Credential.Hash, "$argon2id$") {
					t.Fatalf("credential %+v", r.Credential)
				}
			}},
		{"salted sha256 digest", `{"email":"d@example.com","password":{"algorithm":"sha256","encoding":"hex","salt":"pepper",
			"salt_position":"suffix","hash":"` + strings.Repeat("Ab", 32) + `"}}`,
			func(t *testing.T, r Record) {
				h, err := legacyhash.Parse(r.Credential.Hash)
				if err != nil || !h.Fast() {
					t.Fatalf("stored hash does not parse back as a fast digest: %v", err)
				}
				var rc legacyhash.Recipe
				if err := json.Unmarshal(r.Credential.Recipe, &rc); err != nil || rc.Algorithm != "sha256" || rc.Salt != "pepper" || rc.SaltPosition != "suffix" {
					t.Fatalf("recipe %s (%v)", r.Credential.Recipe, err)
				}
			}},
		{"nulls are absent", `{"email":"e@example.com","external_id":null,"password":null,"email_verified":null}`, func(t *testing.T, r Record) {
			if r.Credential != nil || r.User.ExternalID != "" {
				t.Fatalf("got %+v", r)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := testParser().Parse([]byte(tc.line), 7)
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if r.Line != 7 || r.User.ID.String() == "00000000-0000-0000-0000-000000000000" {
				t.Fatalf("line %d id %s", r.Line, r.User.ID)
			}
			tc.check(t, r)
		})
	}
}

func TestParseBadLines(t *testing.T) {
	md5 := `"algorithm":"md5","encoding":"hex","hash":"5f4dcc3b5aa765d61d8327deb882cf99"`
	cases := []struct{ line, want string }{
		{`not json`, "not valid JSON"},
		{`[1,2]`, "must be a JSON object"},
		{`{"email":"a@example.com"} {"email":"b@example.com"}`, "not valid JSON"},
		{`{}`, "email is required"},
		{`{"email":null}`, "email is required"},
		{`{"email":42}`, "field email must be a string"},
		{`{"email":"nope"}`, "the email address"},
		{`{"email":"a@example.com","nickname":"x"}`, `unknown field "nickname"`},
		{`{"EMAIL":"a@example.com"}`, `unknown field "EMAIL"`},
		{`{"email":"a@example.com","email":"b@example.com"}`, "field email appears twice"},
		{`{"email":"a@example.com","email_verified":"yes"}`, "email_verified must be a boolean"},
		{`{"email":"a@example.com","external_id":""}`, "external_id must be"},
		{`{"email":"a@example.com","external_id":"a\u0000b"}`, "control character"},
		{`{"email":"a@example.com","home_region":"Mars 1"}`, "home_region must look like"},
		{`{"email":"a@example.com","home_region":"asia-south1"}`, "not a region of this deployment"},
		{`{"email":"a@example.com","created_at":"yesterday"}`, "created_at must be an RFC 3339 time"},
		{`{"email":"a@example.com","created_at":"2999-01-01T00:00:00Z"}`, "in the future"},
		{`{"email":"a@example.com","password":{}}`, "password.hash is required"},
		{`{"email":"a@example.com","password":"hunter2"}`, "password must be an object, not string"},
		{`{"email":"a@example.com","password":{"hash":"hunter2"}}`, "unrecognised hash format"},
		{`{"email":"a@example.com","password":{"hash":"$argon2id$v=19$m=19456,t=2,p=1,pv=1$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo"}}`, "peppered Gatehouse hash"},
		{`{"email":"a@example.com","password":{"hash":"x","salt":"s"}}`, "go with password.algorithm"},
		{`{"email":"a@example.com","password":{"hash":"{\"algorithm\":\"md5\"}"}}`, "give a raw digest as"},
		{`{"email":"a@example.com","password":{"algorithm":"md5","hash":"00"}}`, "password.encoding is required"},
		{`{"email":"a@example.com","password":{"algorithm":"md4","encoding":"hex","hash":"00"}}`, "digest algorithm must be"},
		{`{"email":"a@example.com","password":{"algorithm":"md5","encoding":"hex","hash":"00"}}`, "digest must be the hex of 16 bytes"},
		{`{"email":"a@example.com","password":{` + md5 + `,"salt":"a\u0000"}}`, "must not contain NUL"},
		{`{"email":"a@example.com","password":{` + md5 + `,"salt_position":"prefix"}}`, "salt_position given without"},
		{`{"email":"a@example.com","password":{` + md5 + `,"Salt":"x"}}`, `unknown field "password.Salt"`},
		{`{"email":"a@example.com","password":{` + md5 + `,"hash":"x"}}`, "password.hash appears twice"},
		{`{"email":"a@example.com","password":{"hash":"$2y$99$RzFDRjqYkvX99vpxJm4HreXY7z53MUpHbDqkhxU.N5/bNzPk4rENm"}}`, "password:"},
	}
	for _, tc := range cases {
		_, err := testParser().Parse([]byte(tc.line), 1)
		if err == nil {
			t.Errorf("%s: accepted", tc.line)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %q, want it to contain %q", tc.line, err, tc.want)
		}
		for _, secret := range []string{"a@example.com", "hunter2", "5f4dcc3b5aa765d61d8327deb882cf99", "RzFDRjqYkvX99"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: the reason %q quotes the line's email or hash", tc.line, err)
			}
		}
	}
}
