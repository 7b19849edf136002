output "clusters" {
  description = "Each region's GKE API server."
  value       = { for region, m in module.gke : region => m.kubernetes_host }
}

output "subnets" {
  description = "Each region's subnet, for the overlays' NetworkPolicy peers."
  value       = { for region, m in module.gke : region => m.subnet_cidr }
}

output "redis_hosts" {
  description = "Each region's Memorystore address, for the overlays' NetworkPolicy egress."
  value       = { for region, m in module.redis : region => m.host }
}

output "cockroach_cluster_id" {
  description = "CockroachDB Cloud cluster id (for backups: docs/runbooks/backup-restore-drill.md)."
  value       = module.cockroachdb.cluster_id
}

output "vault_transit_mount" {
  description = "GATEHOUSE_VAULT_TRANSIT_MOUNT."
  value       = module.vault.transit_mount
}

output "deployed" {
  description = "Regions whose servers were deployed."
  value       = [module.gatehouse_us_east1.region, module.gatehouse_europe_west1.region, module.gatehouse_asia_south1.region]
}
