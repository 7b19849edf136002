package password

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// Hashes made by the Argon2 reference implementation's CLI (argon2 1.x):
//
//	echo -n password | argon2 somesalt -id -t 2 -m 16 -p 1 -l 32
//	echo -n 'correct horse' | argon2 saltsaltsalt -id -t 1 -m 6 -p 2 -l 24 -e
const (
	referenceHashPassword = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	referenceHashHorse    = "$argon2id$v=19$m=64,t=1,p=2$c2FsdHNhbHRzYWx0$4rB3swn3f1jaR9G+WkBbmEWXck/9UzA5"
	peppered              = "$argon2id$v=19$m=65536,t=3,p=1,pv=2$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
)

func TestParsePHCValid(t *testing.T) {
	e, err := ParsePHC(referenceHashPassword)
	if err != nil {
		t.Fatalf("ParsePHC: %v", err)
	}
	want := Params{MemoryKiB: 65536, Iterations: 2, Parallelism: 1}
	if e.Params != want || e.PepperVersion != 0 || string(e.Salt) != "somesalt" || len(e.Hash) != 32 {
		t.Fatalf("ParsePHC = %+v", e)
	}

	e, err = ParsePHC(peppered)
	if err != nil {
		t.Fatalf("ParsePHC: %v", err)
	}
	if e.Params != DefaultParams() || e.PepperVersion != 2 || len(e.Salt) != 16 || len(e.Hash) != 32 {
		t.Fatalf("ParsePHC = %+v", e)
	}

	for _, s := range []string{referenceHashPassword, referenceHashHorse, peppered} {
		e, err := ParsePHC(s)
		if err != nil {
			t.Fatalf("ParsePHC(%q): %v", s, err)
		}
		if got := e.PHC(); got != s {
			t.Errorf("round trip: got %q, want %q", got, s)
		}
	}
}

func TestParsePHCInvalid(t *testing.T) {
	salt, tag := "c29tZXNhbHQ", "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	build := func(alg, version, params, salt, tag string) string {
		return "$" + alg + "$" + version + "$" + params + "$" + salt + "$" + tag
	}
	ok := func(params string) string { return build("argon2id", "v=19", params, salt, tag) }
	cases := map[string]string{
		"empty":               "",
		"no leading dollar":   strings.TrimPrefix(referenceHashPassword, "$"),
		"trailing dollar":     referenceHashPassword + "$",
		"argon2i":             build("argon2i", "v=19", "m=65536,t=2,p=1", salt, tag),
		"argon2d":             build("argon2d", "v=19", "m=65536,t=2,p=1", salt, tag),
		"bcrypt-ish":          "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
		"version 16":          build("argon2id", "v=16", "m=65536,t=2,p=1", salt, tag),
		"no version":          "$argon2id$m=65536,t=2,p=1$" + salt + "$" + tag,
		"version leading 0":   build("argon2id", "v=019", "m=65536,t=2,p=1", salt, tag),
		"missing m":           ok("t=2,p=1"),
		"missing t":           ok("m=65536,p=1"),
		"missing p":           ok("m=65536,t=2"),
		"missing p with pv":   ok("m=65536,t=2,pv=1"),
		"duplicate m":         ok("m=65536,m=65536,t=2,p=1"),
		"duplicate pv":        ok("m=65536,t=2,p=1,pv=1,pv=1"),
		"out of order":        ok("t=2,m=65536,p=1"),
		"unknown param":       ok("m=65536,t=2,p=1,keyid=abc"),
		"data param":          ok("m=65536,t=2,p=1,data=abc"),
		"no value":            ok("m,t=2,p=1"),
		"empty value":         ok("m=,t=2,p=1"),
		"signed":              ok("m=+65536,t=2,p=1"),
		"negative":            ok("m=-1,t=2,p=1"),
		"leading zero":        ok("m=065536,t=2,p=1"),
		"memory too big":      ok("m=4194304,t=2,p=1"),
		"memory overflow":     ok("m=99999999999999999999,t=2,p=1"),
		"memory below 8p":     ok("m=15,t=1,p=2"),
		"zero iterations":     ok("m=65536,t=0,p=1"),
		"too many iterations": ok("m=65536,t=1000,p=1"),
		"zero parallelism":    ok("m=65536,t=2,p=0"),
		"parallelism 255":     ok("m=65536,t=2,p=255"),
		"zero pepper version": ok("m=65536,t=2,p=1,pv=0"),
		"huge pepper version": ok("m=65536,t=2,p=1,pv=9999999999"),
		"padded salt":         build("argon2id", "v=19", "m=65536,t=2,p=1", salt+"=", tag),
		"padded hash":         build("argon2id", "v=19", "m=65536,t=2,p=1", salt, tag+"="),
		"url base64":          build("argon2id", "v=19", "m=65536,t=2,p=1", salt, strings.ReplaceAll(referenceHashHorseTag(), "/", "_")),
		"newline in salt":     build("argon2id", "v=19", "m=65536,t=2,p=1", "c29tZX\nNhbHQ", tag),
		"non-zero tail bits":  build("argon2id", "v=19", "m=65536,t=2,p=1", "c29tZXNhbHR", tag),
		"short salt":          build("argon2id", "v=19", "m=65536,t=2,p=1", "c2FsdA", tag),
		"long salt":           build("argon2id", "v=19", "m=65536,t=2,p=1", strings.Repeat("A", 88), tag),
		"short hash":          build("argon2id", "v=19", "m=65536,t=2,p=1", salt, "AAAAAAAAAAAAAAAAAAAA"),
		"long hash":           build("argon2id", "v=19", "m=65536,t=2,p=1", salt, strings.Repeat("A", 172)),
		"empty salt":          build("argon2id", "v=19", "m=65536,t=2,p=1", "", tag),
		"too long":            referenceHashPassword + strings.Repeat("A", 600),
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			e, err := ParsePHC(s)
			if err == nil {
				t.Fatalf("ParsePHC(%q) = %+v, want an error", s, e)
			}
			if ee := errs.As(err); ee == nil || ee.Kind != errs.KindInvalid || ee.Code != CodeHashInvalid || ee.Message == "" {
				t.Fatalf("ParsePHC(%q) error = %#v, want KindInvalid %s", s, err, CodeHashInvalid)
			}
		})
	}
}

// referenceHashHorseTag is the tag of referenceHashHorse, which has a '/'.
func referenceHashHorseTag() string {
	return referenceHashHorse[strings.LastIndexByte(referenceHashHorse, '$')+1:]
}

func FuzzParsePHC(f *testing.F) {
	for _, seed := range []string{
		referenceHashPassword,
		referenceHashHorse,
		peppered,
		"$argon2id$v=19$m=12288,t=3,p=1,pv=1$MTIzNDU2Nzg5MDEyMzQ1Ng$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI",
		"$argon2id$v=19$m=65536,t=2,p=1,pv=2147483647$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=65536,t=2,p=1,pv=1,pv=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=065536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHR$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc=",
		"$argon2id$v=19$$$",
		"$$$$$",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParsePHC(s)
		if err != nil {
			if ee := errs.As(err); ee == nil || ee.Kind != errs.KindInvalid || ee.Code != CodeHashInvalid {
				t.Fatalf("ParsePHC(%q) error %#v is not KindInvalid %s", s, err, CodeHashInvalid)
			}
			return
		}
		p := e.Params
		if p.Parallelism < 1 || p.Parallelism > MaxParallelism || p.Iterations < 1 || p.Iterations > MaxIterations ||
			p.MemoryKiB < 8*uint32(p.Parallelism) || p.MemoryKiB > MaxMemoryKiB ||
			len(e.Salt) < minSaltBytes || len(e.Salt) > maxSaltBytes || len(e.Hash) < minHashBytes || len(e.Hash) > maxHashBytes ||
			e.PepperVersion < 0 {
			t.Fatalf("ParsePHC(%q) accepted out-of-bounds %+v", s, e)
		}
		formatted := e.PHC()
		if formatted != s {
			t.Fatalf("ParsePHC(%q).PHC() = %q: accepted a non-canonical string", s, formatted)
		}
		again, err := ParsePHC(formatted)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", formatted, err)
		}
		if again.Params != e.Params || again.PepperVersion != e.PepperVersion || !bytes.Equal(again.Salt, e.Salt) || !bytes.Equal(again.Hash, e.Hash) {
			t.Fatalf("round trip changed %+v into %+v", e, again)
		}
	})
}
