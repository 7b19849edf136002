variable "transit_mount" {
  type        = string
  description = "Path of the Transit engine (GATEHOUSE_VAULT_TRANSIT_MOUNT)."
  default     = "transit"
}

variable "clusters" {
  type = map(object({
    kubernetes_host        = string
    cluster_ca_certificate = string
  }))
  description = "Each region's GKE cluster, by region name: one Kubernetes auth mount (kubernetes-<region>) each."
}

variable "namespace" {
  type        = string
  description = "Kubernetes namespace of the servers."
  default     = "gatehouse"
}

variable "service_account" {
  type        = string
  description = "Kubernetes service account of the servers (k8s/base/serviceaccount.yaml)."
  default     = "gatehouse"
}

variable "token_ttl_seconds" {
  type        = number
  description = "TTL of the token a server's login gets; the server renews it at half and logs in again when refused."
  default     = 3600
}
