package keys

import (
	"bytes"
	"context"
	"log/slog"
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

func TestDeviceKeysOnePerLivePepperCurrentFirst(t *testing.T) {
	c := newChain()
	l := &fakeLoader{set: c.set(t, 1, 1)}
	r, err := NewRing(context.Background(), l, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	before := r.DeviceKeys()
	if len(before) != 1 || len(before[0]) != 32 || bytes.Equal(before[0], r.DefenseKey()) || bytes.Equal(before[0], r.Pepper().Key) {
		t.Fatalf("one 32-byte key per pepper, distinct from the pepper and the defense key; got %d keys", len(before))
	}
	l.serve(c.set(t, 2, 1), nil)
	if err := r.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := r.DeviceKeys()
	if len(after) != 2 || bytes.Equal(after[0], after[1]) {
		t.Fatalf("want two distinct keys after a pepper rotation, got %d", len(after))
	}
	if !bytes.Equal(after[1], before[0]) {
		t.Fatal("the older pepper's key must stay (current first, then older)")
	}
}
