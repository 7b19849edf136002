package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"testing"
)

// The r||s ⇄ DER conversions agree with crypto/ecdsa's DER byte for byte,
// including integers with leading zeros or a high bit set.
func TestSignatureForms(t *testing.T) {
	k := newSigningKey(t, 1)
	var digest [32]byte
	for i := range 300 {
		digest[0], digest[1] = byte(i), byte(i>>8)
		der, err := ecdsa.SignASN1(rand.Reader, k.Private, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		raw, err := rawFromDER(der)
		if err != nil {
			t.Fatal(err)
		}
		if back := appendDERSignature(nil, &raw); !bytes.Equal(back, der) {
			t.Fatalf("DER %x -> raw %x -> DER %x", der, raw, back)
		}
	}
	var raw [sigSize]byte
	raw[31], raw[32] = 1, 0x80 // r = 1, s has its high bit set
	der := appendDERSignature(nil, &raw)
	want := append([]byte{0x30, 3 + 35, 0x02, 1, 1, 0x02, 33, 0}, raw[32:]...)
	if !bytes.Equal(der, want) {
		t.Fatalf("DER %x, want %x", der, want)
	}
	if back, err := rawFromDER(der); err != nil || back != raw {
		t.Fatalf("rawFromDER: %x, %v", back, err)
	}
	for _, bad := range [][]byte{nil, {0x30, 0}, {0x30, 3, 2, 1, 0x80}, append([]byte{0x30, 36, 2, 34}, make([]byte, 34)...)} {
		if _, err := rawFromDER(bad); err == nil {
			t.Errorf("rawFromDER(%x) accepted", bad)
		}
	}
}
