output "region" {
  description = "The region deployed."
  value       = var.region
}

output "objects" {
  description = "Ids of the Kubernetes objects applied."
  value       = concat(keys(kustomization_resource.namespaces), keys(kustomization_resource.objects), keys(kustomization_resource.webhooks))
}
