package legacyhash

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// vectorFile is testdata/vectors.json, written by testdata/gen_vectors.py
// from the source systems' own tools (see testdata/README.md).
type vectorFile struct {
	Encoded []struct {
		Name, Password, Encoded, Source string
	} `json:"encoded"`
	Digests []struct {
		Name, Password, Source string
		Digest                 digestJSON
	} `json:"digests"`
}

func loadVectors(t testing.TB) vectorFile {
	t.Helper()
	raw, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectorFile
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Encoded) < 40 || len(v.Digests) < 5 {
		t.Fatalf("vectors.json looks truncated: %d encoded, %d digests", len(v.Encoded), len(v.Digests))
	}
	return v
}

// wrongPasswords are near misses of pw that must never verify.
func wrongPasswords(pw string) []string {
	if pw == "" {
		return []string{"x", " "}
	}
	b := []byte(pw)
	b[0] ^= 0x20
	return []string{pw + "x", pw[:len(pw)-1], string(b)}
}

// sameBcryptInput reports whether bcrypt sees a and b as the same password.
func sameBcryptInput(h *Hash, a, b string) bool {
	return h.Scheme() == SchemeBcrypt && !strings.HasPrefix(h.String(), "bcrypt_sha256$") && len(a) >= 72 && len(b) >= 72 && a[:72] == b[:72]
}

func TestEncodedVectors(t *testing.T) {
	for _, v := range loadVectors(t).Encoded {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			h, err := Parse(v.Encoded)
			if err != nil {
				t.Fatalf("Parse(%q) from %s: %v", v.Encoded, v.Source, err)
			}
			if !h.Verify([]byte(v.Password)) {
				t.Fatalf("correct password %q does not verify against %s", v.Password, v.Encoded)
			}
			for _, w := range wrongPasswords(v.Password) {
				if sameBcryptInput(h, w, v.Password) {
					continue // bcrypt reads 72 bytes: TestBcryptTruncates covers this
				}
				if h.Verify([]byte(w)) {
					t.Errorf("wrong password %q verifies against %s", w, v.Encoded)
				}
			}
			if got := h.String(); got != v.Encoded {
				t.Errorf("String() = %q, want the original %q", got, v.Encoded)
			}
			if h.Fast() || h.Derive([]byte(v.Password)) != nil {
				t.Errorf("%s reported as a fast hash", h.Scheme())
			}
			if _, _, ok := h.Wrapped(); ok {
				t.Errorf("%s can be wrapped", h.Scheme())
			}
		})
	}
}

func TestDigestVectors(t *testing.T) {
	for _, v := range loadVectors(t).Digests {
		t.Run(v.Name, func(t *testing.T) {
			d := v.Digest
			h, err := FromDigest(d.Algorithm, d.Hash, d.Encoding, d.Salt, d.SaltPosition)
			if err != nil {
				t.Fatalf("FromDigest(%+v): %v", d, err)
			}
			if !h.Fast() || h.Scheme() != SchemeDigest {
				t.Fatalf("digest not fast: %s", h.Scheme())
			}
			pw := []byte(v.Password)
			if !h.Verify(pw) {
				t.Fatalf("correct password %q does not verify (%s)", v.Password, v.Source)
			}
			for _, w := range wrongPasswords(v.Password) {
				if h.Verify([]byte(w)) {
					t.Errorf("wrong password %q verifies", w)
				}
			}

			var stored []byte
			if d.Encoding == EncodingHex {
				stored, _ = hex.DecodeString(d.Hash)
			} else {
				stored, _ = base64.StdEncoding.DecodeString(d.Hash)
			}
			if got := h.Derive(pw); !bytes.Equal(got, stored) {
				t.Fatalf("Derive = %x, want the stored digest %x", got, stored)
			}
			recipe, digest, ok := h.Wrapped()
			if !ok || !bytes.Equal(digest, stored) {
				t.Fatalf("Wrapped = %x, %v; want %x", digest, ok, stored)
			}
			want := Recipe{Algorithm: d.Algorithm, Encoding: d.Encoding, Salt: d.Salt, SaltPosition: d.SaltPosition}
			if recipe != want {
				t.Fatalf("recipe = %+v, want %+v", recipe, want)
			}
			// The recipe goes through the database as JSON and is used at login.
			raw, err := json.Marshal(recipe)
			if err != nil {
				t.Fatal(err)
			}
			var back Recipe
			if err := json.Unmarshal(raw, &back); err != nil || back != recipe {
				t.Fatalf("recipe JSON round trip: %s -> %+v, %v", raw, back, err)
			}
			if again, err := RecipeDerive(back, pw); err != nil || !bytes.Equal(again, stored) {
				t.Fatalf("RecipeDerive = %x, %v; want %x", again, err, stored)
			}
			if other, _ := RecipeDerive(back, []byte(v.Password+"x")); bytes.Equal(other, stored) {
				t.Fatal("RecipeDerive of a wrong password gives the stored digest")
			}

			// String is the contract's JSON object, and Parse takes it back.
			h2, err := Parse(h.String())
			if err != nil || !h2.Verify(pw) || h2.String() != h.String() {
				t.Fatalf("Parse(String()) = %v, %v", h2, err)
			}
		})
	}
}
