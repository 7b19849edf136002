# Gatehouse in production: three Google Cloud regions. Apply in the order of
# terraform/README.md (database first, then one region's servers, canary,
# then the rest), with -target where it says so.
resource "google_compute_network" "gatehouse" {
  name                    = var.network_name
  auto_create_subnetworks = false
  routing_mode            = "GLOBAL"
}

module "gke" {
  source        = "../../modules/gke"
  for_each      = var.regions
  project_id    = var.project_id
  region        = each.key
  network_id    = google_compute_network.gatehouse.id
  subnet_cidr   = each.value.subnet_cidr
  pods_cidr     = each.value.pods_cidr
  services_cidr = each.value.services_cidr
}

module "redis" {
  source     = "../../modules/redis"
  for_each   = var.regions
  project_id = var.project_id
  region     = each.key
  network_id = google_compute_network.gatehouse.id
}

module "cockroachdb" {
  source       = "../../modules/cockroachdb"
  cluster_name = "gatehouse"
  # The primary region first.
  regions = concat(
    [{ name = var.primary_region, node_count = var.regions[var.primary_region].db_nodes }],
    [for name, r in var.regions : { name = name, node_count = r.db_nodes } if name != var.primary_region],
  )
  sql_user_password = var.sql_user_password
  allowed_cidrs     = [for r in var.regions : r.subnet_cidr]
}

module "vault" {
  source = "../../modules/vault"
  clusters = { for region, m in module.gke : region => {
    kubernetes_host        = m.kubernetes_host
    cluster_ca_certificate = m.cluster_ca_certificate
  } }
}

locals {
  # postgresql://gatehouse@host:26257/gatehouse?sslmode=verify-full with the password added.
  database_url = replace(module.cockroachdb.connection_string, "${module.cockroachdb.sql_user_name}@", "${module.cockroachdb.sql_user_name}:${urlencode(var.sql_user_password)}@")
}

module "gatehouse_us_east1" {
  source           = "../../modules/gatehouse"
  providers        = { kubernetes = kubernetes.us_east1, kustomization = kustomization.us_east1 }
  region           = "us-east1"
  overlay_path     = "${path.root}/../../../k8s/overlays/us-east1"
  database_url     = local.database_url
  redis_url        = module.redis["us-east1"].redis_url
  vault_addr       = var.vault_addr
  vault_auth_mount = module.vault.auth_mounts["us-east1"]
  admin_token      = var.admin_token
  forwarding_keys  = var.forwarding_keys
}

module "gatehouse_europe_west1" {
  source           = "../../modules/gatehouse"
  providers        = { kubernetes = kubernetes.europe_west1, kustomization = kustomization.europe_west1 }
  region           = "europe-west1"
  overlay_path     = "${path.root}/../../../k8s/overlays/europe-west1"
  database_url     = local.database_url
  redis_url        = module.redis["europe-west1"].redis_url
  vault_addr       = var.vault_addr
  vault_auth_mount = module.vault.auth_mounts["europe-west1"]
  admin_token      = var.admin_token
  forwarding_keys  = var.forwarding_keys
  depends_on       = [module.gatehouse_us_east1]
}

module "gatehouse_asia_south1" {
  source           = "../../modules/gatehouse"
  providers        = { kubernetes = kubernetes.asia_south1, kustomization = kustomization.asia_south1 }
  region           = "asia-south1"
  overlay_path     = "${path.root}/../../../k8s/overlays/asia-south1"
  database_url     = local.database_url
  redis_url        = module.redis["asia-south1"].redis_url
  vault_addr       = var.vault_addr
  vault_auth_mount = module.vault.auth_mounts["asia-south1"]
  admin_token      = var.admin_token
  forwarding_keys  = var.forwarding_keys
  depends_on       = [module.gatehouse_us_east1]
}
