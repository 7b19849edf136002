package main

import "fmt"

// checkVaultAuth checks that GATEHOUSE_KEYS=vault has what its auth method
// needs: VAULT_TOKEN for "token", a role for "kubernetes", a role id and a
// secret id file for "approle".
func (c *Config) checkVaultAuth(need needs) error {
	bad := func(env, format string, args ...any) error {
		return &configError{key: env, msg: fmt.Sprintf(format, args...)}
	}
	if need&(needServer|needKeys) == 0 {
		return nil
	}
	if c.Vault.Addr == "" {
		return bad("VAULT_ADDR", "GATEHOUSE_KEYS=vault needs VAULT_ADDR")
	}
	switch c.Vault.Auth {
	case "token":
		if c.Vault.Token == "" {
			return bad("VAULT_TOKEN", "GATEHOUSE_KEYS=vault with GATEHOUSE_VAULT_AUTH=token needs VAULT_ADDR and VAULT_TOKEN")
		}
	case "kubernetes":
		if c.Vault.Role == "" {
			return bad("GATEHOUSE_VAULT_ROLE", "GATEHOUSE_VAULT_AUTH=kubernetes needs the Vault role")
		}
		if c.Vault.JWTFile == "" {
			return bad("GATEHOUSE_VAULT_JWT_FILE", "GATEHOUSE_VAULT_AUTH=kubernetes needs the service-account token file")
		}
	case "approle":
		if c.Vault.RoleID == "" {
			return bad("GATEHOUSE_VAULT_ROLE_ID", "GATEHOUSE_VAULT_AUTH=approle needs the role id")
		}
		if c.Vault.SecretIDFile == "" {
			return bad("GATEHOUSE_VAULT_SECRET_ID_FILE", "GATEHOUSE_VAULT_AUTH=approle needs the secret id file")
		}
	default:
		return bad("GATEHOUSE_VAULT_AUTH", "want token, kubernetes or approle, not %q", c.Vault.Auth)
	}
	return nil
}
