# A region-local Redis (Memorystore, Standard tier: a replica in another
# zone). Gatehouse keeps nothing here it cannot rebuild; losing it falls back
# to in-process limits (docs/runbooks/redis-loss.md).
resource "google_redis_instance" "gatehouse" {
  project                 = var.project_id
  name                    = "gatehouse-${var.region}"
  region                  = var.region
  tier                    = "STANDARD_HA"
  memory_size_gb          = var.memory_size_gb
  redis_version           = "REDIS_7_2"
  authorized_network      = var.network_id
  connect_mode            = "PRIVATE_SERVICE_ACCESS"
  transit_encryption_mode = "DISABLED"
  redis_configs = {
    maxmemory-policy = "volatile-ttl"
  }
}
