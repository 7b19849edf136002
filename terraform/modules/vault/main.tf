# Vault for Gatehouse: the Transit engine, the two keys with the properties
# the server checks (keys/transit: exportable, never deletable; the pepper an
# hmac key of 32 bytes, the signing key ecdsa-p256), the server's and the
# operator's policies from keys/transit/, and a Kubernetes auth mount and
# role per region bound to the servers' service account.
resource "vault_mount" "transit" {
  path        = var.transit_mount
  type        = "transit"
  description = "Gatehouse pepper and token-signing keys"
}

resource "vault_transit_secret_backend_key" "pepper" {
  backend          = vault_mount.transit.path
  name             = "gatehouse-pepper"
  type             = "hmac"
  key_size         = 32
  exportable       = true
  deletion_allowed = false
}

resource "vault_transit_secret_backend_key" "signing" {
  backend          = vault_mount.transit.path
  name             = "gatehouse-signing"
  type             = "ecdsa-p256"
  exportable       = true
  deletion_allowed = false
}

resource "vault_policy" "gatehouse" {
  name   = "gatehouse"
  policy = replace(file("${path.module}/../../../keys/transit/gatehouse-policy.hcl"), "\"transit/", "\"${var.transit_mount}/")
}

resource "vault_policy" "gatehouse_admin" {
  name   = "gatehouse-admin"
  policy = replace(file("${path.module}/../../../keys/transit/gatehouse-admin-policy.hcl"), "\"transit/", "\"${var.transit_mount}/")
}

resource "vault_auth_backend" "kubernetes" {
  for_each = var.clusters
  type     = "kubernetes"
  path     = "kubernetes-${each.key}"
}

resource "vault_kubernetes_auth_backend_config" "region" {
  for_each           = var.clusters
  backend            = vault_auth_backend.kubernetes[each.key].path
  kubernetes_host    = each.value.kubernetes_host
  kubernetes_ca_cert = each.value.cluster_ca_certificate
}

resource "vault_kubernetes_auth_backend_role" "gatehouse" {
  for_each                         = var.clusters
  backend                          = vault_auth_backend.kubernetes[each.key].path
  role_name                        = "gatehouse"
  bound_service_account_names      = [var.service_account]
  bound_service_account_namespaces = [var.namespace]
  audience                         = "vault"
  token_policies                   = [vault_policy.gatehouse.name]
  token_ttl                        = var.token_ttl_seconds
  token_max_ttl                    = 24 * var.token_ttl_seconds
  depends_on                       = [vault_kubernetes_auth_backend_config.region]
}
