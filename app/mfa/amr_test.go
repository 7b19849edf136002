package mfa

import (
	"slices"
	"testing"
)

func TestAssurance(t *testing.T) {
	for _, c := range []struct {
		name string
		a    Authentication
		amr  []string
		acr  string
	}{
		{"password", Authentication{Password: true}, []string{"pwd"}, "aal1"},
		{"password+totp", Authentication{Password: true, TOTP: true}, []string{"pwd", "otp", "mfa"}, "aal2"},
		{"password+recovery", Authentication{Password: true, RecoveryCode: true}, []string{"pwd", "otp", "mfa"}, "aal2"},
		{"password+key", Authentication{Password: true}.FromAssertion(AssertionResult{OK: true}), []string{"pwd", "hwk", "mfa"}, "aal2"},
		{"passkey uv synced", Authentication{}.FromAssertion(AssertionResult{OK: true, UserVerified: true, BackupEligible: true}), []string{"swk", "mfa"}, "aal2"},
		{"passkey no uv", Authentication{}.FromAssertion(AssertionResult{OK: true}), []string{"hwk"}, "aal1"},
		{"failed assertion", Authentication{Password: true}.FromAssertion(AssertionResult{UserVerified: true}), []string{"pwd"}, "aal1"},
	} {
		amr, acr := Assurance(c.a)
		if !slices.Equal(amr, c.amr) || acr != c.acr {
			t.Errorf("%s: %v %s, want %v %s", c.name, amr, acr, c.amr, c.acr)
		}
	}
}
