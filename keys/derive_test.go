package keys

import (
	"bytes"
	"testing"
)

func TestSeedKeysFollowThePepper(t *testing.T) {
	p1 := bytes.Repeat([]byte{1}, 32)
	p2 := bytes.Repeat([]byte{2}, 32)
	k1, k2 := deriveSeedKey(p1), deriveSeedKey(p2)
	if len(k1) != 32 || bytes.Equal(k1, k2) || bytes.Equal(k1, p1) {
		t.Fatal("seed keys must be 32 bytes, distinct per pepper, and not the pepper itself")
	}
	if !bytes.Equal(k1, deriveSeedKey(p1)) {
		t.Fatal("derivation must be deterministic")
	}
}
