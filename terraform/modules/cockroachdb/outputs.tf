output "cluster_id" {
  description = "CockroachDB Cloud cluster id."
  value       = cockroach_cluster.this.id
}

output "regions" {
  description = "The cluster's regions, primary first."
  value       = [for r in var.regions : r.name]
}

output "connection_string" {
  description = "postgresql:// URL without the password; the gatehouse module adds it to make GATEHOUSE_DATABASE_URL."
  value       = data.cockroach_connection_string.gatehouse.connection_string
}

output "sql_user_name" {
  description = "SQL user of the servers."
  value       = cockroach_sql_user.gatehouse.name
}
