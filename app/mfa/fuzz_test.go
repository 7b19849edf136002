package mfa

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// Decoders never panic, and either succeed with a valid request or fail
// with a client error (never an internal one).
func FuzzDecodeMFALoginRequest(f *testing.F) {
	for _, s := range []string{
		`{"mfa_token":"t","totp_code":"123456"}`,
		`{"mfa_token":"t","recovery_code":"abcd-efgh-jkmn"}`,
		`{"mfa_token":"t","webauthn":{"ceremony_id":"` + ceremonyID + `","credential":{"id":"x","response":[1,{"a":null}]}}}`,
		`{"mfa_token":"t","totp_code":"123456","totp_code":"123456"}`,
		`{"a":{"b":[[[[{}]]]]}}`, `[]`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeMFALoginRequest(bytes.NewReader(body))
		if err != nil {
			if k := errs.KindOf(err); k != errs.KindInvalid && k != errs.KindTooLarge {
				t.Fatalf("kind %v: %v", k, err)
			}
			return
		}
		if !validToken(r.MFAToken) {
			t.Fatalf("bad token accepted: %q", r.MFAToken)
		}
		switch r.Method {
		case MethodTOTP:
			if !validTOTPCode(r.TOTPCode) || r.RecoveryCode != "" || r.WebAuthn != nil {
				t.Fatalf("bad totp request %+v", r)
			}
		case MethodRecoveryCode:
			if _, ok := NormalizeRecoveryCode(r.RecoveryCode); !ok || r.TOTPCode != "" || r.WebAuthn != nil {
				t.Fatalf("bad recovery request %+v", r)
			}
		case MethodWebAuthn:
			if !validCeremonyID(r.WebAuthn.CeremonyID) || r.TOTPCode != "" || r.RecoveryCode != "" {
				t.Fatalf("bad webauthn request %+v", r)
			}
		default:
			t.Fatalf("no method: %+v", r)
		}
	})
}

func FuzzDecodeCodeRequest(f *testing.F) {
	for _, s := range []string{`{"code":"123456"}`, `{"code":"12345"}`, `{"code":"123456","code":"1"}`, `{"code":"\u0031\u0032\u0033456"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r, err := DecodeCodeRequest(strings.NewReader(body))
		if err != nil {
			if k := errs.KindOf(err); k != errs.KindInvalid && k != errs.KindTooLarge {
				t.Fatalf("kind %v: %v", k, err)
			}
			return
		}
		if !validTOTPCode(r.Code) {
			t.Fatalf("bad code accepted: %q", r.Code)
		}
	})
}

// The sealed-seed parser never panics; openSeed never accepts anything but
// what sealSeed produced for that user.
func FuzzOpenSeed(f *testing.F) {
	keys := newKeyring()
	keys.add()
	user := uuid.MustParse("0b5c7a52-7a7e-4b0e-9d6e-3a1f6f0c9a11")
	good, err := sealSeed(keys, user, bytes.Repeat([]byte{1}, 20))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:20])
	f.Add([]byte{1, 0, 0, 0, 1})
	f.Add(append([]byte{1, 0, 0, 0, 9}, good[5:]...))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, perr := parseSealed(b)
		seed, _, err := openSeed(keys, user, b)
		if perr != nil && err == nil {
			t.Fatal("opened what does not parse")
		}
		if perr == nil && (s.keyVersion <= 0 || len(s.nonce) != sealNonce || len(s.ciphertext) < sealTag+1) {
			t.Fatalf("parsed inconsistently: %+v", s)
		}
		if err == nil && !bytes.Equal(b, good) && !bytes.Equal(seed, bytes.Repeat([]byte{1}, 20)) {
			t.Fatal("forged seed opened")
		}
	})
}

func FuzzNormalizeRecoveryCode(f *testing.F) {
	f.Add("abcd-efgh-jkmn")
	f.Add("ILOO 0000 1111")
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := NormalizeRecoveryCode(s)
		if !ok {
			return
		}
		if len(n) != recoveryChars {
			t.Fatalf("%q -> %q", s, n)
		}
		again, ok := NormalizeRecoveryCode(formatRecoveryCode(n))
		if !ok || again != n {
			t.Fatalf("%q not stable", s)
		}
	})
}
