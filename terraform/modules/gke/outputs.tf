output "cluster_name" {
  description = "GKE cluster name."
  value       = google_container_cluster.gatehouse.name
}

output "kubernetes_host" {
  description = "API server URL, for the kubernetes provider and Vault's Kubernetes auth config."
  value       = "https://${google_container_cluster.gatehouse.endpoint}"
}

output "cluster_ca_certificate" {
  description = "PEM CA certificate of the API server."
  value       = base64decode(google_container_cluster.gatehouse.master_auth[0].cluster_ca_certificate)
}

output "subnet_cidr" {
  description = "This region's subnet: the other regions allow it in and out."
  value       = google_compute_subnetwork.gatehouse.ip_cidr_range
}
