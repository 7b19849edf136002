package argon2id

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// implementations runs f with the SSE and the generic BlaMka code (only the
// generic one where there is no SSE).
func implementations(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	saved := useSSE4
	defer func() { useSSE4 = saved }()
	if saved {
		t.Run("sse4", f)
		useSSE4 = false
	}
	t.Run("generic", f)
}

// TestRFC9106Vector checks the Argon2id test vector of RFC 9106 section 5.3,
// which uses a secret and associated data; fresh and dirty memory alike.
func TestRFC9106Vector(t *testing.T) {
	password := bytes.Repeat([]byte{0x01}, 32)
	salt := bytes.Repeat([]byte{0x02}, 16)
	secret := bytes.Repeat([]byte{0x03}, 8)
	data := bytes.Repeat([]byte{0x04}, 12)
	want, _ := hex.DecodeString("0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659")
	implementations(t, func(t *testing.T) {
		var m Memory
		for i := range 3 {
			got := m.derive(password, salt, secret, data, 3, 32, 4, 32)
			if !bytes.Equal(got, want) {
				t.Fatalf("derivation %d: tag %x, want %x", i, got, want)
			}
			dirty(&m, uint64(i))
		}
	})
}

// TestVectors checks the Argon2id vectors of x/crypto's tests (from the
// reference implementation) with a Memory reused across all of them, so
// each derivation runs over what the one before it left.
func TestVectors(t *testing.T) {
	vectors := []struct {
		time, memory uint32
		threads      uint8
		hash         string
	}{
		{1, 64, 1, "655ad15eac652dc59f7170a7332bf49b8469be1fdb9c28bb"},
		{2, 64, 1, "068d62b26455936aa6ebe60060b0a65870dbfa3ddf8d41f7"},
		{2, 64, 2, "350ac37222f436ccb5c0972f1ebd3bf6b958bf2071841362"},
		{3, 256, 2, "4668d30ac4187e6878eedeacf0fd83c5a0a30db2cc16ef0b"},
		{4, 4096, 4, "145db9733a9f4ee43edf33c509be96b934d505a4efb33c5a"},
		{4, 1024, 8, "8dafa8e004f8ea96bf7c0f93eecf67a6047476143d15577f"},
		{2, 64, 3, "4a15b31aec7c2590b87d1f520be7d96f56658172deaa3079"},
		{3, 1024, 6, "1640b932f4b60e272f5d2207b9a9c626ffa1bd88d2349016"},
	}
	implementations(t, func(t *testing.T) {
		var m Memory
		for i, v := range vectors {
			want, _ := hex.DecodeString(v.hash)
			got := m.Key([]byte("password"), []byte("somesalt"), v.time, v.memory, v.threads, uint32(len(want)))
			if !bytes.Equal(got, want) {
				t.Errorf("vector %d (t=%d m=%d p=%d): tag %x, want %x", i, v.time, v.memory, v.threads, got, want)
			}
		}
	})
}

// TestMatchesXCryptoOnDirtyMemory derives with random parameters in one
// Memory, filled with junk between derivations, and compares every tag with
// argon2.IDKey's in fresh memory.
func TestMatchesXCryptoOnDirtyMemory(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	implementations(t, func(t *testing.T) {
		var m Memory
		for i := range 40 {
			password := randomBytes(rng, rng.IntN(80))
			salt := randomBytes(rng, 8+rng.IntN(24))
			time := uint32(1 + rng.IntN(3))
			memory := uint32(8 + rng.IntN(600))
			threads := uint8(1 + rng.IntN(4))
			keyLen := uint32(4 + rng.IntN(100))
			got := m.Key(password, salt, time, memory, threads, keyLen)
			want := argon2.IDKey(password, salt, time, memory, threads, keyLen)
			if !bytes.Equal(got, want) {
				t.Fatalf("derivation %d (t=%d m=%d p=%d len=%d): tag %x, x/crypto %x", i, time, memory, threads, keyLen, got, want)
			}
			dirty(&m, rng.Uint64())
		}
	})
}

// TestMemoryGrowsAndIsReused checks that a Memory grows to the largest
// derivation it ran and that smaller ones after it use its front.
func TestMemoryGrowsAndIsReused(t *testing.T) {
	var m Memory
	m.Key([]byte("pw"), []byte("saltsalt"), 1, 64, 1, 32)
	if m.KiB() != 64 {
		t.Fatalf("after m=64: %d KiB", m.KiB())
	}
	before := &m.r.blocks[0]
	small := m.Key([]byte("pw"), []byte("saltsalt"), 1, 32, 1, 32)
	if m.KiB() != 64 || &m.r.blocks[0] != before {
		t.Fatalf("a smaller derivation reallocated: %d KiB, same memory %v", m.KiB(), &m.r.blocks[0] == before)
	}
	if want := argon2.IDKey([]byte("pw"), []byte("saltsalt"), 1, 32, 1, 32); !bytes.Equal(small, want) {
		t.Fatalf("m=32 in a 64 KiB Memory: %x, want %x", small, want)
	}
	m.Key([]byte("pw"), []byte("saltsalt"), 1, 256, 2, 32)
	if m.KiB() != 256 {
		t.Fatalf("after m=256: %d KiB", m.KiB())
	}
	if got, want := Key([]byte("pw"), []byte("saltsalt"), 2, 100, 3, 16), argon2.IDKey([]byte("pw"), []byte("saltsalt"), 2, 100, 3, 16); !bytes.Equal(got, want) {
		t.Fatalf("Key: %x, want %x", got, want)
	}
}

// TestPanicsLikeXCrypto checks the two refusals argon2.IDKey makes.
func TestPanicsLikeXCrypto(t *testing.T) {
	for name, f := range map[string]func(){
		"time 0":    func() { Key([]byte("pw"), []byte("saltsalt"), 0, 64, 1, 32) },
		"threads 0": func() { Key([]byte("pw"), []byte("saltsalt"), 1, 64, 0, 32) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// FuzzMatchesXCrypto compares Memory.Key, on memory dirtied by the previous
// input, with argon2.IDKey.
func FuzzMatchesXCrypto(f *testing.F) {
	f.Add([]byte("password"), []byte("somesalt"), uint8(1), uint16(64), uint8(1), uint8(32), uint64(0))
	f.Add([]byte{}, []byte("saltsaltsaltsalt"), uint8(3), uint16(1024), uint8(4), uint8(64), uint64(7))
	f.Add([]byte("pässwörd"), []byte("s"), uint8(2), uint16(9), uint8(3), uint8(100), uint64(1<<63))
	var m Memory
	f.Fuzz(func(t *testing.T, password, salt []byte, time uint8, memory uint16, threads uint8, keyLen uint8, junk uint64) {
		tm := uint32(time%3) + 1
		mem := uint32(memory % 2048)
		th := threads%8 + 1
		kl := uint32(keyLen%128) + 4
		dirty(&m, junk)
		got := m.Key(password, salt, tm, mem, th, kl)
		want := argon2.IDKey(password, salt, tm, mem, th, kl)
		if !bytes.Equal(got, want) {
			t.Fatalf("t=%d m=%d p=%d len=%d: tag %x, x/crypto %x", tm, mem, th, kl, got, want)
		}
	})
}

// dirty fills m's memory with pseudo-random words, as a stranger's
// derivation would leave it.
func dirty(m *Memory, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, ^seed))
	if m.r == nil {
		return
	}
	for i := range m.r.blocks {
		for j := range m.r.blocks[i] {
			m.r.blocks[i][j] = rng.Uint64()
		}
	}
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// BenchmarkKey compares a reused Memory with argon2.IDKey at Gatehouse's
// default parameters (m=64 MiB, t=3, p=1).
func BenchmarkKey(b *testing.B) {
	password, salt := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 16)
	b.Run("reused-memory", func(b *testing.B) {
		var m Memory
		for b.Loop() {
			m.Key(password, salt, 3, 64*1024, 1, 32)
		}
	})
	b.Run("x-crypto", func(b *testing.B) {
		for b.Loop() {
			argon2.IDKey(password, salt, 3, 64*1024, 1, 32)
		}
	})
}

// TestFreeReturnsMemory derives 24 times at 64 MiB in memory that is freed
// each time (Key, and Memory.Free), and checks that the process's peak
// resident set stays far below what keeping them all would take: the
// memory lies outside the Go heap, so only Free gives it back promptly.
func TestFreeReturnsMemory(t *testing.T) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Fatalf("reset peak RSS: %v", err)
	}
	before := procStatusKiB(t, "VmRSS:")
	var m Memory
	for i := range 24 {
		if i%2 == 0 {
			Key([]byte("pw"), []byte("saltsalt"), 1, 64<<10, 1, 32)
			continue
		}
		want := argon2.IDKey([]byte("pw"), []byte("saltsalt"), 1, 1024, 1, 32)
		m.Key([]byte("pw"), []byte("saltsalt"), 1, 64<<10, 1, 32)
		m.Free()
		if m.KiB() != 0 {
			t.Fatalf("a freed Memory holds %d KiB", m.KiB())
		}
		if got := m.Key([]byte("pw"), []byte("saltsalt"), 1, 1024, 1, 32); !bytes.Equal(got, want) {
			t.Fatalf("a freed Memory used again: %x, want %x", got, want)
		}
		m.Free()
	}
	if grown := procStatusKiB(t, "VmHWM:") - before; grown > 160<<10 {
		t.Fatalf("peak RSS grew by %d MiB over 24 freed 64 MiB derivations", grown>>10)
	} else {
		t.Logf("peak RSS grew by %d MiB", grown>>10)
	}
}

// procStatusKiB reads one "<field> <n> kB" line of /proc/self/status.
func procStatusKiB(t *testing.T, field string) uint64 {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, field); ok {
			n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s %q: %v", field, v, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}
