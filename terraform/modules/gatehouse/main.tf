# Gatehouse in one region's cluster: the overlay k8s/overlays/<region> applied
# in order (namespaces first, then the secret the pods read, then the rest),
# and the secret gatehouse-secrets with what must not sit in a ConfigMap.
data "kustomization_build" "gatehouse" {
  path = var.overlay_path
}

resource "kustomization_resource" "namespaces" {
  for_each = data.kustomization_build.gatehouse.ids_prio[0]
  manifest = data.kustomization_build.gatehouse.manifests[each.value]
}

resource "kubernetes_secret_v1" "gatehouse" {
  metadata {
    name      = "gatehouse-secrets"
    namespace = "gatehouse"
    labels = {
      "gatehouse.io/region" = var.region
    }
  }
  data = {
    database_url     = var.database_url
    redis_url        = var.redis_url
    vault_addr       = var.vault_addr
    vault_auth_mount = var.vault_auth_mount
    admin_token      = var.admin_token
    forwarding_keys  = var.forwarding_keys
  }
  depends_on = [kustomization_resource.namespaces]
}

resource "kustomization_resource" "objects" {
  for_each   = data.kustomization_build.gatehouse.ids_prio[1]
  manifest   = data.kustomization_build.gatehouse.manifests[each.value]
  depends_on = [kubernetes_secret_v1.gatehouse]
}

resource "kustomization_resource" "webhooks" {
  for_each   = data.kustomization_build.gatehouse.ids_prio[2]
  manifest   = data.kustomization_build.gatehouse.manifests[each.value]
  depends_on = [kustomization_resource.objects]
}
