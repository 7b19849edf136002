output "redis_url" {
  description = "GATEHOUSE_REDIS_URL for this region's servers."
  value       = "redis://${google_redis_instance.gatehouse.host}:${google_redis_instance.gatehouse.port}/0"
}

output "host" {
  description = "Redis host address, for the NetworkPolicy's egress."
  value       = google_redis_instance.gatehouse.host
}
