package legacyhash

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"hash"
	"io"
	"strconv"
	"unicode/utf8"
)

// Recipe says how to recompute a raw digest from a password: everything about
// an imported fast hash except the digest itself. It is stored as JSON beside
// argon2id(pepper(digest)) and handed back to RecipeDerive at login.
type Recipe struct {
	// Algorithm is md5, sha1, sha256 or sha512.
	Algorithm string `json:"algorithm"`
	// Encoding is how the source system wrote the digest: hex or base64.
	Encoding string `json:"encoding"`
	// Salt is mixed into the digest as its UTF-8 bytes; empty for none.
	Salt string `json:"salt,omitempty"`
	// SaltPosition is prefix (H(salt‖password)) or suffix (H(password‖salt));
	// set exactly when Salt is.
	SaltPosition string `json:"salt_position,omitempty"`
}

// The values of Recipe's fields.
const (
	EncodingHex    = "hex"
	EncodingBase64 = "base64"
	SaltPrefix     = "prefix"
	SaltSuffix     = "suffix"
)

// digestAlgorithms maps Recipe.Algorithm to its hash.
var digestAlgorithms = map[string]func() hash.Hash{
	"md5": md5.New, "sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New,
}

// validate checks a recipe and returns its hash constructor.
func (r Recipe) validate() (func() hash.Hash, error) {
	newHash, ok := digestAlgorithms[r.Algorithm]
	if !ok {
		return nil, invalid("digest algorithm must be md5, sha1, sha256 or sha512")
	}
	if r.Encoding != EncodingHex && r.Encoding != EncodingBase64 {
		return nil, invalid("digest encoding must be hex or base64")
	}
	if len(r.Salt) > MaxSaltBytes || !utf8.ValidString(r.Salt) {
		return nil, invalid("digest salt must be at most 1024 bytes of UTF-8")
	}
	switch {
	case r.Salt == "" && r.SaltPosition != "":
		return nil, invalid("salt_position given without a salt")
	case r.Salt != "" && r.SaltPosition != SaltPrefix && r.SaltPosition != SaltSuffix:
		return nil, invalid("salt_position must be prefix or suffix when a salt is given")
	}
	return newHash, nil
}

// derive computes the digest; r must be valid.
func (r Recipe) derive(password []byte) []byte {
	h := digestAlgorithms[r.Algorithm]()
	if r.SaltPosition == SaltPrefix {
		h.Write([]byte(r.Salt))
	}
	h.Write(password)
	if r.SaltPosition == SaltSuffix {
		h.Write([]byte(r.Salt))
	}
	return h.Sum(nil)
}

// RecipeDerive recomputes, from a stored recipe, the digest the source system
// stored for password. An invalid recipe is an errs.Invalid "invalid_hash".
func RecipeDerive(r Recipe, password []byte) ([]byte, error) {
	if _, err := r.validate(); err != nil {
		return nil, err
	}
	return r.derive(password), nil
}

// digestHash is a raw digest with its recipe.
type digestHash struct {
	recipe Recipe
	digest []byte
}

// FromDigest builds a Hash from a raw digest given with its algorithm, as in
// the import contract: digest = H(salt‖password) for saltPosition "prefix",
// H(password‖salt) for "suffix". encoding is hex (either case) or base64
// (standard alphabet, padded or not). A salt_position with an empty salt is
// ignored. Errors are errs.Invalid "invalid_hash".
func FromDigest(algorithm, hash, encoding, salt, saltPosition string) (*Hash, error) {
	if salt == "" {
		saltPosition = ""
	}
	r := Recipe{Algorithm: algorithm, Encoding: encoding, Salt: salt, SaltPosition: saltPosition}
	newHash, err := r.validate()
	if err != nil {
		return nil, err
	}
	var digest []byte
	if encoding == EncodingHex {
		digest, err = hex.DecodeString(hash)
	} else if digest, err = decodePadded(hash); err != nil {
		digest, err = decodePHC(hash)
	}
	if size := newHash().Size(); err != nil || len(digest) != size {
		return nil, invalid("digest must be the " + encoding + " of " + strconv.Itoa(size) + " bytes for " + algorithm)
	}
	return &Hash{f: &digestHash{recipe: r, digest: digest}}, nil
}

// digestJSON is the import contract's object for a raw digest; Parse accepts
// it and String writes it.
type digestJSON struct {
	Algorithm    string `json:"algorithm"`
	Hash         string `json:"hash"`
	Encoding     string `json:"encoding"`
	Salt         string `json:"salt,omitempty"`
	SaltPosition string `json:"salt_position,omitempty"`
}

func parseDigestJSON(s string) (format, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	var d digestJSON
	if err := dec.Decode(&d); err != nil || dec.Decode(&struct{}{}) != io.EOF {
		return nil, invalid("digest object must be JSON with algorithm, hash, encoding, salt, salt_position")
	}
	h, err := FromDigest(d.Algorithm, d.Hash, d.Encoding, d.Salt, d.SaltPosition)
	if err != nil {
		return nil, err
	}
	return h.f, nil
}

func (h *digestHash) scheme() Scheme { return SchemeDigest }

func (h *digestHash) encode() string {
	d := digestJSON{Algorithm: h.recipe.Algorithm, Encoding: h.recipe.Encoding, Salt: h.recipe.Salt, SaltPosition: h.recipe.SaltPosition}
	if d.Encoding == EncodingHex {
		d.Hash = hex.EncodeToString(h.digest)
	} else {
		d.Hash = paddedBase64.EncodeToString(h.digest)
	}
	b, _ := json.Marshal(d) // a struct of strings always marshals
	return string(b)
}

func (h *digestHash) verify(password []byte) bool {
	return subtle.ConstantTimeCompare(h.recipe.derive(password), h.digest) == 1
}
