output "transit_mount" {
  description = "GATEHOUSE_VAULT_TRANSIT_MOUNT."
  value       = vault_mount.transit.path
}

output "auth_mounts" {
  description = "GATEHOUSE_VAULT_AUTH_MOUNT of each region."
  value       = { for region, b in vault_auth_backend.kubernetes : region => b.path }
}

output "role" {
  description = "GATEHOUSE_VAULT_ROLE."
  value       = "gatehouse"
}

output "policy" {
  description = "The servers' policy name."
  value       = vault_policy.gatehouse.name
}
