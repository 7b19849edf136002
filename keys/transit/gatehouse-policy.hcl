# Vault policy for the Gatehouse server: read-only, and only its two keys.
#
#   vault policy write gatehouse keys/transit/gatehouse-policy.hcl
#
# The server reads each key's description (type, exportability,
# min_decryption_version) and exports every version of it. It cannot create,
# rotate, reconfigure or delete keys: that is gatehouse-admin-policy.hcl, for
# the operator running `gatehouse keys init` and `gatehouse keys rotate`.
#
# Paths assume the defaults: Transit mounted at "transit", keys named
# "gatehouse-pepper" and "gatehouse-signing". Adjust them if you configure
# other names.

# Key descriptions: Gatehouse checks the type and exportability before
# exporting, and honours min_decryption_version to retire old versions.
path "transit/keys/gatehouse-pepper" {
  capabilities = ["read"]
}

path "transit/keys/gatehouse-signing" {
  capabilities = ["read"]
}

# Every version of the pepper (hmac key) and of the JWT signing key.
path "transit/export/hmac-key/gatehouse-pepper" {
  capabilities = ["read"]
}

path "transit/export/signing-key/gatehouse-signing" {
  capabilities = ["read"]
}
