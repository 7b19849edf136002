# Vault policy for the operator running `gatehouse keys init` and
# `gatehouse keys rotate`; the server itself needs only gatehouse-policy.hcl.
#
#   vault policy write gatehouse-admin keys/transit/gatehouse-admin-policy.hcl
#
# It can create the two keys and add versions to them. It cannot export key
# material, change a key's configuration (e.g. min_decryption_version, which
# retires versions: do that with a more privileged token, deliberately), or
# delete a key (Gatehouse never enables deletion_allowed: deleting the pepper
# would lock out every user).
#
# Paths assume the defaults: Transit mounted at "transit", keys named
# "gatehouse-pepper" and "gatehouse-signing". Adjust them if you configure
# other names.

# Read a key to check it, create it if absent. Transit handles key creation
# as an update of this path; "create" is listed for Vault versions that ask
# for it.
path "transit/keys/gatehouse-pepper" {
  capabilities = ["create", "read", "update"]
}

path "transit/keys/gatehouse-signing" {
  capabilities = ["create", "read", "update"]
}

# Add a version.
path "transit/keys/gatehouse-pepper/rotate" {
  capabilities = ["update"]
}

path "transit/keys/gatehouse-signing/rotate" {
  capabilities = ["update"]
}
