package breach

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseRange(t *testing.T) {
	h := fullHash("password")
	lower := strings.ToLower(h[5:])
	body := lower + ":7\r\n" + strings.Repeat("0", 35) + ":0\r\n" + strings.Repeat("A", 35) + ":3"
	set, err := parseRange([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(set) != 2 {
		t.Fatalf("%d entries, want 2 (padding dropped)", len(set))
	}
	_, suffix := split("password")
	if set.count(suffix) != 7 {
		t.Fatalf("lower-case suffix not matched: %d", set.count(suffix))
	}
	for _, ok := range []string{"", "\n", "\r\n", h[5:] + ":1\n"} {
		if _, err := parseRange([]byte(ok)); err != nil {
			t.Errorf("parseRange(%q): %v", ok, err)
		}
	}
	again, err := parseRange(set.encode())
	if err != nil || len(again) != 2 || again.count(suffix) != 7 {
		t.Fatalf("round trip: %v %v", again, err)
	}
}

func TestSplit(t *testing.T) {
	prefix, suffix := split("password")
	if prefix != "5BAA6" || string(suffix[:]) != "1E4C9B93F3F0682250B6CF8331B7EE68FD8" {
		t.Fatalf("split = %s %s", prefix, suffix)
	}
}

func FuzzParseRange(f *testing.F) {
	h := fullHash("password")
	f.Add([]byte(h[5:] + ":3\r\n" + strings.Repeat("F", 35) + ":0\r\n"))
	f.Add([]byte(""))
	f.Add([]byte("\n\n"))
	f.Add([]byte(h[5:] + ":99999999999999"))
	f.Add([]byte(strings.ToLower(h[5:]) + ":0012"))
	f.Fuzz(func(t *testing.T, body []byte) {
		set, err := parseRange(body)
		if err != nil {
			return
		}
		for _, e := range set {
			if e.count <= 0 {
				t.Fatalf("entry with count %d kept", e.count)
			}
			for _, c := range e.suffix {
				if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
					t.Fatalf("suffix %q not upper-case hex", e.suffix)
				}
			}
		}
		enc := set.encode()
		again, err := parseRange(enc)
		if err != nil || !bytes.Equal(again.encode(), enc) {
			t.Fatalf("round trip failed: %v", err)
		}
		for _, e := range set {
			if again.count(e.suffix) == 0 {
				t.Fatalf("entry %s lost", e.suffix)
			}
		}
	})
}
