package legacyhash

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzParse: no input panics, and whatever Parse accepts re-encodes to a
// string that parses to the same hash and re-encodes to itself. Seeds are the
// committed vectors plus testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, v := range loadVectors(f).Encoded {
		f.Add(v.Encoded)
	}
	for _, s := range []string{
		"$2b$16$XaOrNxLJ2XXqwJXNLCADLuwKmgrGDBfKMJSRcWe4Ouj3fcLdGPSty",
		"$5$rounds=1000$$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5",
		"$pbkdf2-sha256$1000$.59T6l0LYexdC.G8txYixA$l8+3PA+X+n4xdUIVNLw9nREdEvSCqB0BCiPtCtAmQw8",
		"$scrypt$ln=4,r=1,p=1$$d9ZXYjhleyA7GcpCwYoEl/FrSETjB0ro39/6P+3iFEL80Aad7QlI+DJqdToPyB8X6NPg+y4NNijPNeIMONGJBg",
		`{"algorithm":"md5","hash":"X03MO1qnZdYdgyfeuILPmQ","encoding":"base64","salt":"<&>","salt_position":"suffix"}`,
		"$argon2i$m=4096,t=3,p=1$c29tZXNhbHQ$Z2hhc2g",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := Parse(s)
		if err != nil {
			if h != nil {
				t.Fatal("non-nil hash with an error")
			}
			return
		}
		enc := h.String()
		h2, err := Parse(enc)
		if err != nil {
			t.Fatalf("Parse(%q) accepted, but its String %q is refused: %v", s, enc, err)
		}
		if !reflect.DeepEqual(h, h2) {
			t.Fatalf("Parse(%q) and Parse(String() = %q) differ: %#v vs %#v", s, enc, h.f, h2.f)
		}
		if again := h2.String(); again != enc {
			t.Fatalf("String is not stable: %q then %q", enc, again)
		}
		if h.Fast() {
			checkFast(t, h, []byte(s))
		}
	})
}

// FuzzFromDigest: no input panics, and an accepted digest derives, wraps,
// verifies and round-trips consistently.
func FuzzFromDigest(f *testing.F) {
	for _, v := range loadVectors(f).Digests {
		d := v.Digest
		f.Add(d.Algorithm, d.Hash, d.Encoding, d.Salt, d.SaltPosition, v.Password)
	}
	f.Add("md5", "5F4DCC3B5AA765D61D8327DEB882CF99", "hex", "", "prefix", "password")
	f.Add("sha1", "W6ph5Mm5Pz8GgiULbPgzG37mj9g", "base64", "\x00", "suffix", "")
	f.Fuzz(func(t *testing.T, algorithm, hash, encoding, salt, position, password string) {
		h, err := FromDigest(algorithm, hash, encoding, salt, position)
		if err != nil {
			return
		}
		if !h.Fast() || h.Scheme() != SchemeDigest {
			t.Fatal("an accepted digest is not fast")
		}
		checkFast(t, h, []byte(password))
		h2, err := Parse(h.String())
		if err != nil || !reflect.DeepEqual(h, h2) {
			t.Fatalf("Parse(%q) = %#v, %v; want %#v", h.String(), h2, err, h)
		}
	})
}

// checkFast checks Derive, Wrapped, RecipeDerive and Verify against each other.
func checkFast(t *testing.T, h *Hash, password []byte) {
	t.Helper()
	recipe, digest, ok := h.Wrapped()
	if !ok {
		t.Fatal("a fast hash cannot be wrapped")
	}
	derived := h.Derive(password)
	again, err := RecipeDerive(recipe, password)
	if err != nil || !bytes.Equal(again, derived) {
		t.Fatalf("RecipeDerive(%+v) = %x, %v; Derive = %x", recipe, again, err, derived)
	}
	if got, want := h.Verify(password), bytes.Equal(derived, digest); got != want {
		t.Fatalf("Verify = %v but Derive matches the digest: %v", got, want)
	}
	if !h.Verify(nil) && bytes.Equal(h.Derive(nil), digest) {
		t.Fatal("the empty password derives the digest but does not verify")
	}
}
