package password

import (
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

func commonPasswords(t testing.TB) *Blocklist {
	t.Helper()
	b, err := CommonPasswords()
	if err != nil {
		t.Fatalf("CommonPasswords: %v", err)
	}
	return b
}

func TestPolicyCheck(t *testing.T) {
	policy := Policy{Blocklist: commonPasswords(t)}
	long64 := strings.Repeat("𝄞", 64) // 64 four-byte characters: 256 bytes
	cases := []struct {
		name, password, want, code string
	}{
		{name: "ordinary", password: "xk3#Lp9q", want: "xk3#Lp9q"},
		{name: "case kept", password: "CorrectHorse9", want: "CorrectHorse9"},
		{name: "spaces allowed", password: "correct horse battery staple", want: "correct horse battery staple"},
		{name: "no composition rules", password: "aaaaaaaaaaaaaaaaaaaaz", want: "aaaaaaaaaaaaaaaaaaaaz"},
		{name: "nfkc fullwidth", password: "ｘｋ３＃Ｌｐ９ｑ", want: "xk3#Lp9q"},
		{name: "nfkc ligature", password: "ﬁsh and chips", want: "fish and chips"},
		{name: "nfkc composes", password: "cafe\u0301 au lait", want: "caf\u00e9 au lait"},
		{name: "nbsp becomes space", password: "correct\u00a0horse", want: "correct horse"},
		{name: "eight code points", password: "ñandú-ñu", want: "ñandú-ñu"},
		{name: "emoji", password: "🐴🔋📎🔒🐴🔋📎🔒", want: "🐴🔋📎🔒🐴🔋📎🔒"},
		{name: "64 four-byte characters", password: long64, want: long64},
		{name: "1024 bytes", password: strings.Repeat("x", 1023) + "y", want: strings.Repeat("x", 1023) + "y"},

		{name: "empty", password: "", code: CodePasswordTooShort},
		{name: "seven", password: "xk3#Lp9", code: CodePasswordTooShort},
		{name: "seven code points, 14 bytes", password: "ñññññññ", code: CodePasswordTooShort},
		{name: "1025 bytes", password: strings.Repeat("x", 1025), code: CodePasswordTooLong},
		{name: "grows past max on normalising", password: strings.Repeat("x", 1020) + "\ufdfa", code: CodePasswordTooLong},
		{name: "nul", password: "xk3#L\x00p9q", code: CodePasswordInvalid},
		{name: "tab", password: "xk3#L\tp9q", code: CodePasswordInvalid},
		{name: "newline", password: "xk3#Lp9q\n", code: CodePasswordInvalid},
		{name: "del", password: "xk3#Lp9q\x7f", code: CodePasswordInvalid},
		{name: "c1 control", password: "xk3#Lp9q\u0085", code: CodePasswordInvalid},
		{name: "line separator", password: "xk3#Lp9q\u2028", code: CodePasswordInvalid},
		{name: "invalid utf-8", password: "xk3#Lp9q\xff", code: CodePasswordInvalid},
		{name: "blocklisted", password: "password1", code: CodePasswordBlocklisted},
		{name: "blocklisted any case", password: "PassWord123", code: CodePasswordBlocklisted},
		{name: "blocklisted after nfkc", password: "ｐａｓｓｗｏｒｄ", code: CodePasswordBlocklisted},
		{name: "blocklisted long", password: "qwerty123", code: CodePasswordBlocklisted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := policy.Check(c.password)
			if c.code == "" {
				if err != nil || got != c.want {
					t.Fatalf("Check(%q) = %q, %v; want %q", c.password, got, err, c.want)
				}
				return
			}
			e := errs.As(err)
			if e == nil || e.Kind != errs.KindInvalid || e.Code != c.code || e.Message == "" {
				t.Fatalf("Check(%q) = %q, %#v; want KindInvalid %s with a message", c.password, got, err, c.code)
			}
			if got != "" {
				t.Fatalf("Check returned %q with an error", got)
			}
			if strings.Contains(e.Message, c.password) && c.password != "" {
				t.Fatalf("error message %q repeats the password", e.Message)
			}
		})
	}
}

func TestPolicyLimits(t *testing.T) {
	// MinLength is honoured; MaxBytes never drops below 64 characters.
	p := Policy{MinLength: 12, MaxBytes: 10}
	if _, err := p.Check("elevenchars"); errs.As(err) == nil || errs.As(err).Code != CodePasswordTooShort {
		t.Fatalf("11 characters with MinLength 12: %v", err)
	}
	if e := errs.As(func() error { _, err := p.Check("elevenchars"); return err }()); e.Details["min_length"] != 12 {
		t.Fatalf("details = %v", e.Details)
	}
	if _, err := p.Check(strings.Repeat("😀", 64)); err != nil {
		t.Fatalf("64 emoji with MaxBytes 10: %v", err)
	}
	if _, err := p.Check(strings.Repeat("😀", 65)); errs.As(err) == nil || errs.As(err).Code != CodePasswordTooLong {
		t.Fatalf("65 emoji with MaxBytes 10 (floor 256): %v", err)
	}
	// The zero Policy works, without a blocklist.
	if got, err := (Policy{}).Check("password"); err != nil || got != "password" {
		t.Fatalf("zero Policy: %q, %v", got, err)
	}
}

func TestNormalise(t *testing.T) {
	cases := map[string]string{
		"ｐａｓｓ":          "pass",
		"ﬁ":             "fi",
		"e\u0301":       "\u00e9",
		"Pass Word":     "Pass Word",
		"":              "",
		"a\x00b":        "a\x00b", // login never refuses: policy applies to new passwords only
		"short":         "short",
		"\u2126 ohm":    "\u03a9 ohm",
		"x\u00a0y\tz\n": "x y\tz\n",
	}
	for in, want := range cases {
		if got := string(Normalise(in)); got != want {
			t.Errorf("Normalise(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzPolicyCheck(f *testing.F) {
	for _, seed := range []string{
		"", "password", "xk3#Lp9q", "ｐａｓｓｗｏｒｄ", "ﬁsh and chips", "cafe\u0301 au lait",
		"a\x00bcdefgh", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", "\u2028\u2029abcdefgh", "🐴🔋📎🔒🐴🔋📎🔒",
		strings.Repeat("\ufdfa", 60), strings.Repeat("x", 1025),
	} {
		f.Add(seed)
	}
	policy := Policy{Blocklist: NewBlocklist([]string{"password", "letmein1"})}
	f.Fuzz(func(t *testing.T, password string) {
		got, err := policy.Check(password)
		if err != nil {
			if e := errs.As(err); e == nil || e.Kind != errs.KindInvalid || e.Message == "" {
				t.Fatalf("Check(%q) error %#v is not KindInvalid", password, err)
			}
			return
		}
		if !utf8.ValidString(got) || !norm.NFKC.IsNormalString(got) {
			t.Fatalf("Check(%q) = %q is not NFKC UTF-8", password, got)
		}
		if got != string(Normalise(password)) {
			t.Fatalf("Check(%q) = %q differs from Normalise", password, got)
		}
		if len(got) > DefaultMaxBytes || utf8.RuneCountInString(got) < DefaultMinLength {
			t.Fatalf("Check(%q) = %q breaks the length limits", password, got)
		}
		for _, r := range got {
			if isForbidden(r) {
				t.Fatalf("Check(%q) = %q contains control character %U", password, got, r)
			}
		}
		if policy.Blocklist.Contains(got) {
			t.Fatalf("Check(%q) accepted a blocklisted password", password)
		}
	})
}
