package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

func TestParseKiB(t *testing.T) {
	for in, want := range map[string]uint32{"256MiB": 262144, "1GiB": 1048576, "19456KiB": 19456, "4096": 4096, " 64 MiB": 65536} {
		got, err := parseKiB(in)
		if err != nil || got != want {
			t.Errorf("parseKiB(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1MiB", "0", "5TiB", "8GiB", "1.5MiB"} {
		if _, err := parseKiB(bad); err == nil {
			t.Errorf("parseKiB(%q) accepted", bad)
		}
	}
}

func FuzzParseKiB(f *testing.F) {
	f.Add("256MiB")
	f.Add("1GiB")
	f.Add("12")
	f.Fuzz(func(t *testing.T, s string) {
		kib, err := parseKiB(s)
		if err == nil && (kib == 0 || kib > 4*1024*1024) {
			t.Fatalf("parseKiB(%q) = %d", s, kib)
		}
	})
}

// The target is generous: the test checks what calibrate prints, not this
// machine's speed (under -race on a busy 2-core VM the ASVS minimum took
// 66 ms, over an earlier 60 ms target).
func TestHashCalibrateRecommendsValidParameters(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"hash", "calibrate", "--target", "500ms", "--max-memory", "64MiB"}, lookup(nil), nil, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"recommended: m=", "logins/s per core", "GATEHOUSE_ARGON2_MEMORY_KIB="} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
	if code := exitCode(run(context.Background(), []string{"hash", "calibrate", "--max-memory", "lots"}, lookup(nil), nil, io.Discard, io.Discard), io.Discard); code != exitUsage {
		t.Fatalf("bad size: exit %d", code)
	}
}
