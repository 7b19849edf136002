package main

import (
	"errors"
	"testing"
)

func TestVaultAuthConfig(t *testing.T) {
	base := map[string]string{
		"GATEHOUSE_KEYS": "vault",
		"VAULT_ADDR":     "https://vault.internal:8200",
	}
	for _, tc := range []struct {
		name    string
		env     []string
		wantKey string // "" = valid
	}{
		{"static token", []string{"VAULT_TOKEN", "hvs.x"}, ""},
		{"token without token", nil, "VAULT_TOKEN"},
		{"kubernetes", []string{"GATEHOUSE_VAULT_AUTH", "kubernetes", "GATEHOUSE_VAULT_ROLE", "gatehouse"}, ""},
		{"kubernetes without role", []string{"GATEHOUSE_VAULT_AUTH", "kubernetes"}, "GATEHOUSE_VAULT_ROLE"},
		{"approle", []string{"GATEHOUSE_VAULT_AUTH", "approle", "GATEHOUSE_VAULT_ROLE_ID", "r", "GATEHOUSE_VAULT_SECRET_ID_FILE", "/run/secret-id"}, ""},
		{"approle without secret", []string{"GATEHOUSE_VAULT_AUTH", "approle", "GATEHOUSE_VAULT_ROLE_ID", "r"}, "GATEHOUSE_VAULT_SECRET_ID_FILE"},
		{"unknown method", []string{"GATEHOUSE_VAULT_AUTH", "ldap", "VAULT_TOKEN", "x"}, "GATEHOUSE_VAULT_AUTH"},
		{"no address", []string{"VAULT_ADDR", "", "VAULT_TOKEN", "x"}, "VAULT_ADDR"},
	} {
		env := with(base, tc.env...)
		cfg, err := loadConfig("", lookup(env), needKeys)
		if tc.wantKey == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			if _, err := newKeySource(cfg); err != nil {
				t.Errorf("%s: newKeySource: %v", tc.name, err)
			}
			continue
		}
		var ce *configError
		if !errors.As(err, &ce) || ce.key != tc.wantKey {
			t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.wantKey)
		}
	}
}
