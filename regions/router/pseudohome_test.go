package router

import (
	"fmt"
	"testing"
)

func TestPseudoHomeIsStableKeyedAndSpread(t *testing.T) {
	w := newWorld(t, 0, nil)
	other, err := NewStaticKeys(Key{ID: "k9", Secret: otherSecret})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	moved := 0
	for i := range 300 {
		email := fmt.Sprintf("nobody-%d@example.org", i)
		got := PseudoHome(w.keys, w.topo, email)
		if _, ok := w.topo.Lookup(got); !ok {
			t.Fatalf("pseudo-home %q is not a region", got)
		}
		if again := PseudoHome(w.keys, w.topo, email); again != got {
			t.Fatalf("not deterministic: %q then %q", got, again)
		}
		if PseudoHome(other, w.topo, email) != got {
			moved++
		}
		count[got]++
	}
	for _, r := range w.topo.Regions {
		if count[r.Name] < 60 {
			t.Errorf("region %s got %d of 300 unknown addresses: %v", r.Name, count[r.Name], count)
		}
	}
	if moved < 100 {
		t.Errorf("another key moved only %d of 300 addresses: the choice is not keyed", moved)
	}
}
