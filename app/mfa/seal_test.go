package mfa

import (
	"bytes"
	"testing"

	"github.com/google/uuid"
)

func TestSealSeed(t *testing.T) {
	keys := newKeyring()
	alice, bob := uuid.New(), uuid.New()
	seed := bytes.Repeat([]byte{7}, 20)
	sealed, err := sealSeed(keys, alice, seed)
	if err != nil {
		t.Fatal(err)
	}
	got, stale, err := openSeed(keys, alice, sealed)
	if err != nil || stale || !bytes.Equal(got, seed) {
		t.Fatalf("open = %x, %v, %v", got, stale, err)
	}
	if _, _, err := openSeed(keys, bob, sealed); err == nil {
		t.Fatal("a seed moved to another user decrypted")
	}
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 1
		if _, _, err := openSeed(keys, alice, bad); err == nil {
			t.Fatalf("flipping byte %d went unnoticed", i)
		}
	}
	// Claiming another key version (which exists) still fails: the header is
	// authenticated.
	keys.add()
	relabelled := bytes.Clone(sealed)
	relabelled[4] = 2
	if _, _, err := openSeed(keys, alice, relabelled); err == nil {
		t.Fatal("relabelled key version decrypted")
	}
	if _, stale, err := openSeed(keys, alice, sealed); err != nil || !stale {
		t.Fatalf("v1 seed after adding v2: stale=%v err=%v", stale, err)
	}
	resealed, _ := sealSeed(keys, alice, seed)
	if s, _ := parseSealed(resealed); s.keyVersion != 2 {
		t.Fatalf("new seal uses v%d", s.keyVersion)
	}
	if bytes.Equal(resealed[5:17], sealed[5:17]) {
		t.Fatal("nonce reused")
	}
}

func TestParseSealedRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":       nil,
		"short":       {1, 0, 0, 0, 1},
		"format 2":    append([]byte{2, 0, 0, 0, 1}, make([]byte, 40)...),
		"version 0":   append([]byte{1, 0, 0, 0, 0}, make([]byte, 40)...),
		"version neg": append([]byte{1, 0x80, 0, 0, 0}, make([]byte, 40)...),
		"too long":    append([]byte{1, 0, 0, 0, 1}, make([]byte, 200)...),
	} {
		if _, err := parseSealed(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
