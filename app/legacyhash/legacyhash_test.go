package legacyhash

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// vector returns the named vector from testdata/vectors.json.
func vector(t *testing.T, name string) (password, encoded string) {
	t.Helper()
	for _, v := range loadVectors(t).Encoded {
		if v.Name == name {
			return v.Password, v.Encoded
		}
	}
	t.Fatalf("no vector %q", name)
	return "", ""
}

func mustParse(t *testing.T, s string) *Hash {
	t.Helper()
	h, err := Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return h
}

func TestBcryptTruncatesLikeC(t *testing.T) {
	pw, enc := vector(t, "pybcrypt-80-bytes")
	h := mustParse(t, enc)
	for _, p := range []string{pw, pw[:72], pw[:72] + "anything else"} {
		if !h.Verify([]byte(p)) {
			t.Errorf("%q (first 72 bytes equal) does not verify", p)
		}
	}
	if h.Verify([]byte(pw[:71])) {
		t.Error("71-byte prefix verifies")
	}
	// Django's bcrypt_sha256 pre-hashes, so all 100 bytes count.
	pw, enc = vector(t, "django-bcrypt_sha256-100")
	h = mustParse(t, enc)
	if !h.Verify([]byte(pw)) || h.Verify([]byte(pw[:72])) || h.Verify([]byte(pw[:99]+"y")) {
		t.Error("bcrypt_sha256 must use the whole password")
	}
	// crypt_blowfish and OpenBSD read a NUL-terminated string.
	pw, enc = vector(t, "htpasswd-2y-c5")
	h = mustParse(t, enc)
	if !h.Verify([]byte(pw + "\x00ignored")) {
		t.Error("bytes after a NUL are not ignored")
	}
	if h.Verify([]byte(pw[:3] + "\x00" + pw[3:])) {
		t.Error("a NUL inside the password is ignored")
	}
}

func TestShaCryptStopsAtNUL(t *testing.T) {
	pw, enc := vector(t, "mkpasswd-sha-512-r5000")
	h := mustParse(t, enc)
	if !h.Verify([]byte(pw + "\x00tail")) {
		t.Error("crypt(3) reads a C string: bytes after NUL must be ignored")
	}
}

func TestSchemes(t *testing.T) {
	want := map[string]Scheme{
		"htpasswd-2y-c5":              SchemeBcrypt,
		"drepper-sha256-0":            SchemeSHA256Crypt,
		"drepper-sha512-7":            SchemeSHA512Crypt,
		"django-pbkdf2_sha1-1000":     SchemeDjangoPBKDF2,
		"passlib-pbkdf2_sha512-1000":  SchemePasslibPBKDF,
		"passlib-doc-scrypt":          SchemeScrypt,
		"argon2cli-id-t3-k4096":       SchemeArgon2,
		"argon2cli-i-t1-k256":         SchemeArgon2,
		"rfc6070-django-sha1-1":       SchemeDjangoPBKDF2,
		"django-bcrypt-7":             SchemeBcrypt,
		"django-bcrypt_sha256-7":      SchemeBcrypt,
		"passlib-pbkdf2_sha256-29000": SchemePasslibPBKDF,
	}
	for name, scheme := range want {
		_, enc := vector(t, name)
		if got := mustParse(t, enc).Scheme(); got != scheme {
			t.Errorf("%s: scheme %s, want %s", name, got, scheme)
		}
	}
}

func TestPasslibAB64AcceptsPlus(t *testing.T) {
	// passlib writes '.' for '+', and its decoder accepts both.
	pw, enc := vector(t, "passlib-doc-pbkdf2_sha256")
	h := mustParse(t, enc)
	plus := strings.ReplaceAll(enc, ".", "+")
	if plus == enc {
		plus = "$pbkdf2-sha256$1000$.59T6l0LYexdC.G8txYixA$l8.3PA.X.n4xdUIVNLw9nREdEvSCqB0BCiPtCtAmQw8"
		h = mustParse(t, plus)
		plus = strings.ReplaceAll(plus, ".", "+")
		pw = "password"
	}
	h2 := mustParse(t, plus)
	if h2.String() != h.String() {
		t.Errorf("'+' form re-encodes as %q, want %q", h2.String(), h.String())
	}
	if !h2.Verify([]byte(pw)) {
		t.Error("'+' form does not verify")
	}
}

// TestRejects checks that malformed and over-cap hashes are refused at parse
// with an invalid_hash error whose message says why.
func TestRejects(t *testing.T) {
	const (
		b64salt16 = "c29tZXNhbHRzb21lc2FsdA"
		b64key32  = "GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo"
		crypt43   = "5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"
		bcBody    = "XaOrNxLJ2XXqwJXNLCADLuwKmgrGDBfKMJSRcWe4Ouj3fcLdGPSty"
	)
	cases := []struct{ in, reason string }{
		{"", "empty"},
		{"5f4dcc3b5aa765d61d8327deb882cf99", "unrecognised"},
		{"$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", "unrecognised"},
		{"bcrypt_sha256$" + bcBody, "followed by a bcrypt hash"},
		{"bcrypt$$2y$17$" + bcBody, "above the limit of 16"},
		// bcrypt
		{"$2y$17$" + bcBody, "above the limit of 16"},
		{"$2y$03$" + bcBody, "below the minimum"},
		{"$2x$05$" + bcBody, "unsupported bcrypt variant"},
		{"$2$05$" + bcBody, "unsupported bcrypt variant"},
		{"$2y$05$" + bcBody[:52], "53 characters"},
		{"$2y$05$" + bcBody[:52] + "!", "alphabet"},
		{"$2y$05$" + bcBody[:52] + "/", "canonically"},
		{"$2y$05$" + bcBody[:21] + "P" + bcBody[22:], "canonically"},
		{"$2y$5x$" + bcBody, "decimal"},
		// SHA-crypt
		{"$5$rounds=1000001$salt$" + crypt43, "above the limit of 1000000"},
		{"$5$rounds=999999999$salt$" + crypt43, "above the limit"},
		{"$5$rounds=999$salt$" + crypt43, "below the minimum of 1000"},
		{"$5$rounds=05000$salt$" + crypt43, "leading zero"},
		{"$5$rounds=5000$" + crypt43, "salt must be"},
		{"$5$saltstringsaltstr$" + crypt43, "at most 16"},
		{"$5$sa:t$" + crypt43, "salt must be"},
		{"$5$salt$" + crypt43[:42], "43 characters"},
		{"$5$salt$" + crypt43[:42] + "z", "canonically"},
		{"$5$salt$" + crypt43 + "$", "must be $5$"},
		{"$6$salt$" + crypt43, "86 characters"},
		// Django PBKDF2
		{"pbkdf2_sha256$10000001$salt$" + b64key32 + "=", "above the limit of 10000000"},
		{"pbkdf2_sha256$0$salt$" + b64key32 + "=", "below the minimum"},
		{"pbkdf2_sha256$0100$salt$" + b64key32 + "=", "leading zero"},
		{"pbkdf2_sha256$+100$salt$" + b64key32 + "=", "decimal"},
		{"pbkdf2_sha256$100$$" + b64key32 + "=", "salt"},
		{"pbkdf2_sha256$100$salt$" + b64key32, "base64 of 32"},
		{"pbkdf2_sha1$100$salt$" + b64key32 + "=", "base64 of 20"},
		{"pbkdf2_sha512$100$salt$" + b64key32 + "=", "unsupported Django"},
		{"pbkdf2_sha256$100$salt", "algorithm$iterations$salt$hash"},
		// passlib PBKDF2
		{"$pbkdf2-sha256$10000001$" + b64salt16 + "$" + b64key32, "above the limit"},
		{"$pbkdf2-sha256$1000$" + b64salt16 + "$" + b64key32 + "A", "base64 of 32"},
		{"$pbkdf2-sha256$1000$" + b64salt16 + "=$" + b64key32, "salt"},
		{"$pbkdf2-md5$1000$" + b64salt16 + "$" + b64key32, "unsupported passlib"},
		{"$pbkdf2-sha512$1000$" + b64salt16 + "$" + b64key32, "base64 of 64"},
		// scrypt: RFC 7914's fourth vector needs 1 GiB
		{"$scrypt$ln=20,r=8,p=1$U29kaXVtQ2hsb3JpZGU$IQHLm2pRGq6t274Jz3D4gexWjVdKL/1Nq+XumCCtqkeOVv2PS6XQn/ocbZJ8QPTDNzBASeipUvvL9Fxvp3p2Ww", "256 MiB"},
		{"$scrypt$ln=15,r=128,p=1$" + b64salt16 + "$" + b64key32, "256 MiB"},
		{"$scrypt$ln=14,r=8,p=65$" + b64salt16 + "$" + b64key32, "1 GiB"},
		{"$scrypt$ln=64,r=8,p=1$" + b64salt16 + "$" + b64key32, "256 MiB"},
		{"$scrypt$ln=14,r=1073741824,p=1073741824$" + b64salt16 + "$" + b64key32, "256 MiB"},
		{"$scrypt$ln=0,r=8,p=1$" + b64salt16 + "$" + b64key32, "below the minimum"},
		{"$scrypt$r=8,ln=14,p=1$" + b64salt16 + "$" + b64key32, "ln=L,r=R,p=P"},
		{"$scrypt$ln=14,r=8,p=1$" + b64salt16 + "$" + b64key32[:20], "16 to 128"},
		// argon2
		{"$argon2id$v=19$m=262145,t=1,p=1$" + b64salt16 + "$" + b64key32, "above the limit of 262144"},
		{"$argon2id$v=19$m=65536,t=11,p=1$" + b64salt16 + "$" + b64key32, "above the limit of 10"},
		{"$argon2id$v=19$m=65536,t=1,p=17$" + b64salt16 + "$" + b64key32, "above the limit of 16"},
		{"$argon2id$v=19$m=262144,t=5,p=1$" + b64salt16 + "$" + b64key32, "1 GiB"},
		{"$argon2id$v=19$m=8,t=1,p=2$" + b64salt16 + "$" + b64key32, "8 KiB per lane"},
		{"$argon2i$m=4096,t=3,p=1$" + b64salt16 + "$" + b64key32, "version 16"},
		{"$argon2i$v=16$m=4096,t=3,p=1$" + b64salt16 + "$" + b64key32, "v=19"},
		{"$argon2d$v=19$m=4096,t=3,p=1$" + b64salt16 + "$" + b64key32, "unsupported argon2"},
		{"$argon2id$v=19$m=4096,t=3,p=1,data=abc$" + b64salt16 + "$" + b64key32, "no keyid or data"},
		{"$argon2id$v=19$m=4096,t=3,p=1$c2FsdA$" + b64key32, "8 to 1024"},
		{"$argon2id$v=19$m=4096,t=3,p=1$" + b64salt16 + "$" + b64key32 + "==", "4 to 1024"},
		// raw digest object
		{`{"algorithm":"md4","hash":"00","encoding":"hex"}`, "md5, sha1"},
		{`{"algorithm":"md5","hash":"5f4dcc3b5aa765d61d8327deb882cf99","encoding":"hex","extra":1}`, "JSON"},
		{`{"algorithm":"md5","hash":"5f4dcc3b5aa765d61d8327deb882cf99","encoding":"hex"}}`, "JSON"},
	}
	for _, c := range cases {
		h, err := Parse(c.in)
		if err == nil {
			t.Errorf("Parse(%q) accepted (%s); want an error about %q", c.in, h.Scheme(), c.reason)
			continue
		}
		e := errs.As(err)
		if e == nil || e.Kind != errs.KindInvalid || e.Code != "invalid_hash" {
			t.Errorf("Parse(%q) = %v; want errs.Invalid(invalid_hash)", c.in, err)
			continue
		}
		if !strings.Contains(e.Message, c.reason) {
			t.Errorf("Parse(%q) says %q; want it to mention %q", c.in, e.Message, c.reason)
		}
	}
}

func TestAtTheCapsStillParses(t *testing.T) {
	const salt, key = "c29tZXNhbHRzb21lc2FsdA", "GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo"
	for _, s := range []string{
		"$2b$16$XaOrNxLJ2XXqwJXNLCADLuwKmgrGDBfKMJSRcWe4Ouj3fcLdGPSty",
		"$6$rounds=1000000$salt$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
		"pbkdf2_sha256$10000000$salt$" + key + "=",
		"$scrypt$ln=18,r=8,p=4$" + salt + "$" + key,
		"$scrypt$ln=21,r=1,p=4$" + salt + "$" + key,
		"$argon2id$v=19$m=262144,t=4,p=16$" + salt + "$" + key,
		"$argon2i$v=19$m=104857,t=10,p=1$" + salt + "$" + key,
	} {
		if _, err := Parse(s); err != nil {
			t.Errorf("Parse(%q): %v", s, err)
		}
	}
}

func TestFromDigestRejects(t *testing.T) {
	md5hex := "5f4dcc3b5aa765d61d8327deb882cf99"
	cases := []struct{ algo, hash, enc, salt, pos, reason string }{
		{"MD5", md5hex, "hex", "", "", "md5, sha1"},
		{"md5", md5hex, "HEX", "", "", "hex or base64"},
		{"md5", md5hex[:30], "hex", "", "", "16 bytes"},
		{"md5", md5hex + "zz", "hex", "", "", "16 bytes"},
		{"sha1", md5hex, "hex", "", "", "20 bytes"},
		{"md5", "X8zLO1qnZdYdgyfeuILPmQ==\n", "base64", "", "", "16 bytes"},
		{"md5", md5hex, "hex", "salt", "", "prefix or suffix"},
		{"md5", md5hex, "hex", "salt", "middle", "prefix or suffix"},
		{"md5", md5hex, "hex", "\xff", "prefix", "UTF-8"},
		{"md5", md5hex, "hex", strings.Repeat("s", 1025), "prefix", "1024"},
	}
	for _, c := range cases {
		_, err := FromDigest(c.algo, c.hash, c.enc, c.salt, c.pos)
		if e := errs.As(err); e == nil || e.Code != "invalid_hash" || !strings.Contains(e.Message, c.reason) {
			t.Errorf("FromDigest(%q, %q, %q, %q, %q) = %v; want invalid_hash about %q", c.algo, c.hash, c.enc, c.salt, c.pos, err, c.reason)
		}
	}
}

func TestFromDigestForms(t *testing.T) {
	// md5("password"), in every form the contract allows.
	for _, c := range [][2]string{
		{"5f4dcc3b5aa765d61d8327deb882cf99", "hex"},
		{"5F4DCC3B5AA765D61D8327DEB882CF99", "hex"},
		{"X03MO1qnZdYdgyfeuILPmQ==", "base64"},
		{"X03MO1qnZdYdgyfeuILPmQ", "base64"},
	} {
		h, err := FromDigest("md5", c[0], c[1], "", "prefix")
		if err != nil {
			t.Fatalf("FromDigest(%q, %s): %v", c[0], c[1], err)
		}
		if !h.Verify([]byte("password")) || h.Verify([]byte("passwore")) {
			t.Errorf("%q: wrong verification", c[0])
		}
		if r, _, _ := h.Wrapped(); r.SaltPosition != "" {
			t.Errorf("a position without a salt is kept: %+v", r)
		}
	}
}

func TestRecipeDeriveRejectsBadRecipe(t *testing.T) {
	for _, r := range []Recipe{
		{},
		{Algorithm: "sha3", Encoding: "hex"},
		{Algorithm: "md5", Encoding: "hex", SaltPosition: "prefix"},
		{Algorithm: "md5", Encoding: "hex", Salt: "s"},
	} {
		if d, err := RecipeDerive(r, []byte("pw")); err == nil || !errs.Is(err, errs.KindInvalid) {
			t.Errorf("RecipeDerive(%+v) = %x, %v; want invalid", r, d, err)
		}
	}
	d, err := RecipeDerive(Recipe{Algorithm: "sha256", Encoding: "base64", Salt: "s", SaltPosition: "suffix"}, []byte("pw"))
	if want := sha256.Sum256([]byte("pws")); err != nil || !bytes.Equal(d, want[:]) {
		t.Errorf("RecipeDerive = %x, %v; want sha256(password+salt) %x", d, err, want)
	}
}

func TestOverlongPasswordNeverVerifies(t *testing.T) {
	atLimit := bytes.Repeat([]byte("a"), MaxPasswordBytes)
	over := append(atLimit, 'a')
	for _, pw := range [][]byte{atLimit, over} {
		sum := sha256.Sum256(pw)
		h, err := FromDigest("sha256", hex.EncodeToString(sum[:]), "hex", "", "")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := h.Verify(pw), len(pw) <= MaxPasswordBytes; got != want {
			t.Errorf("Verify(%d-byte password) = %v, want %v", len(pw), got, want)
		}
	}
}
