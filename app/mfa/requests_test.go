package mfa

import (
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

const ceremonyID = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" // 43 chars = 32 bytes

func TestDecodeCodeRequest(t *testing.T) {
	if r, err := DecodeCodeRequest(strings.NewReader(`{"code":"012345"}`)); err != nil || r.Code != "012345" {
		t.Fatalf("%+v %v", r, err)
	}
	for _, body := range []string{
		``, `null`, `[]`, `"x"`, `{}`, `{"code":12345}`, `{"code":"12345"}`, `{"code":"1234567"}`,
		`{"code":"12345a"}`, `{"code":"012345","x":1}`, `{"code":"012345"} {}`, `{"code":"012345","code":"111111"}`,
		`{"code":"０12345"}`, "{\"code\":\"012345\xff\"}", `{"code":null}`, `{"Code":"012345"}`,
	} {
		if _, err := DecodeCodeRequest(strings.NewReader(body)); !errs.Is(err, errs.KindInvalid) {
			t.Errorf("%q: %v", body, err)
		}
	}
	big := `{"code":"012345","pad":"` + strings.Repeat("x", MaxRequestBytes) + `"}`
	if _, err := DecodeCodeRequest(strings.NewReader(big)); !errs.Is(err, errs.KindTooLarge) {
		t.Errorf("oversized body: %v", err)
	}
}

func TestDecodeMFALoginRequest(t *testing.T) {
	ok := map[string]string{
		`{"mfa_token":"t.k-n_1","totp_code":"123456"}`:                                           MethodTOTP,
		`{"mfa_token":"t","recovery_code":"ABCD-EFGH-JKMN"}`:                                     MethodRecoveryCode,
		`{"mfa_token":"t","webauthn":{"ceremony_id":"` + ceremonyID + `","credential":{"a":1}}}`: MethodWebAuthn,
	}
	for body, method := range ok {
		r, err := DecodeMFALoginRequest(strings.NewReader(body))
		if err != nil || r.Method != method {
			t.Errorf("%s: %+v %v", body, r, err)
		}
		if method == MethodRecoveryCode && r.RecoveryCode != "abcdefghjkmn" {
			t.Errorf("recovery code not normalized: %q", r.RecoveryCode)
		}
	}
	for _, body := range []string{
		`{"totp_code":"123456"}`,
		`{"mfa_token":"","totp_code":"123456"}`,
		`{"mfa_token":"a b","totp_code":"123456"}`,
		`{"mfa_token":"t"}`,
		`{"mfa_token":"t","totp_code":"123456","recovery_code":"abcd-efgh-jkmn"}`,
		`{"mfa_token":"t","totp_code":""}`,
		`{"mfa_token":"t","totp_code":"12345"}`,
		`{"mfa_token":"t","recovery_code":"abcd"}`,
		`{"mfa_token":"t","webauthn":{}}`,
		`{"mfa_token":"t","webauthn":{"ceremony_id":"short","credential":{}}}`,
		`{"mfa_token":"t","webauthn":{"ceremony_id":"` + ceremonyID + `","credential":"x"}}`,
		`{"mfa_token":"t","webauthn":{"ceremony_id":"` + ceremonyID + `","credential":{"a":1,"a":2}}}`,
		`{"mfa_token":"t","webauthn":{"ceremony_id":"` + ceremonyID + `","credential":{},"extra":1}}`,
		`{"mfa_token":"t","totp_code":"123456","password":"x"}`,
		`{"mfa_token":"t","totp_code":"123456","mfa_token":"u"}`,
		`{"mfa_token":["t"],"totp_code":"123456"}`,
		`{"mfa_token":"t","webauthn":{"ceremony_id":"` + ceremonyID + `","credential":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}}`,
		`{"mfa_token":"` + strings.Repeat("t", maxTokenLen+1) + `","totp_code":"123456"}`,
	} {
		if _, err := DecodeMFALoginRequest(strings.NewReader(body)); !errs.Is(err, errs.KindInvalid) {
			t.Errorf("%s: %v", body, err)
		}
	}
}

func TestDecodeWebAuthnResponse(t *testing.T) {
	r, err := DecodeWebAuthnResponse(strings.NewReader(`{"ceremony_id":"` + ceremonyID + `","credential":{"id":"x"}}`))
	if err != nil || r.CeremonyID != ceremonyID || string(r.Credential) != `{"id":"x"}` {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := DecodeWebAuthnResponse(strings.NewReader(`{"ceremony_id":"` + ceremonyID + `"}`)); !errs.Is(err, errs.KindInvalid) {
		t.Fatalf("missing credential: %v", err)
	}
}
