package password

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"testing"
)

func TestCommonPasswords(t *testing.T) {
	b := commonPasswords(t)
	if b.Len() < 10000 {
		t.Fatalf("Len() = %d, want at least 10,000", b.Len())
	}
	for _, pw := range []string{"password", "123456", "qwerty", "iloveyou", "letmein", "trustno1", "password1", "PASSWORD", "QwErTy", "Password1"} {
		if !b.Contains(pw) {
			t.Errorf("Contains(%q) = false", pw)
		}
	}
	for _, pw := range []string{"", "xk3#Lp9q", "correct horse battery staple", "password-for-gatehouse", "9f8e7d6c5b4a"} {
		if b.Contains(pw) {
			t.Errorf("Contains(%q) = true", pw)
		}
	}
	// Compact: the whole list in under 1 MB.
	if size := len(b.data) + 4*len(b.offsets); size > 1<<20 {
		t.Fatalf("blocklist takes %d bytes", size)
	}
}

func TestCommonPasswordsHasEveryEntry(t *testing.T) {
	b := commonPasswords(t)
	zr, err := gzip.NewReader(bytes.NewReader(commonPasswordsGz))
	if err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(zr)
	n := 0
	for lines.Scan() {
		n++
		if !b.Contains(lines.Text()) {
			t.Fatalf("entry %d %q not found", n, lines.Text())
		}
	}
	if err := lines.Err(); err != nil {
		t.Fatal(err)
	}
	if n != b.Len() {
		t.Fatalf("file has %d lines, blocklist %d entries", n, b.Len())
	}
}

func TestNewBlocklist(t *testing.T) {
	b := NewBlocklist([]string{"Gatehouse", "gatehouse", "", "zebra", "Apple"})
	if b.Len() != 3 {
		t.Fatalf("Len() = %d, want 3 (deduplicated, empty dropped)", b.Len())
	}
	for _, pw := range []string{"gatehouse", "GATEHOUSE", "apple", "zebra"} {
		if !b.Contains(pw) {
			t.Errorf("Contains(%q) = false", pw)
		}
	}
	for _, pw := range []string{"", "gate", "gatehouse1", "aardvark", "zzz"} {
		if b.Contains(pw) {
			t.Errorf("Contains(%q) = true", pw)
		}
	}
	var none *Blocklist
	if none.Contains("password") || none.Len() != 0 {
		t.Fatal("nil Blocklist is not empty")
	}
	if empty := NewBlocklist(nil); empty.Contains("") || empty.Len() != 0 {
		t.Fatal("empty Blocklist is not empty")
	}
}
