variable "region" {
  type        = string
  description = "The region this deployment serves; k8s/overlays/<region> must exist."
}

variable "overlay_path" {
  type        = string
  description = "Path of the region's kustomize overlay."
}

variable "database_url" {
  type        = string
  description = "GATEHOUSE_DATABASE_URL (postgresql:// with the password)."
  sensitive   = true
}

variable "redis_url" {
  type        = string
  description = "GATEHOUSE_REDIS_URL: this region's Redis."
}

variable "vault_addr" {
  type        = string
  description = "VAULT_ADDR."
}

variable "vault_auth_mount" {
  type        = string
  description = "GATEHOUSE_VAULT_AUTH_MOUNT: this region's Kubernetes auth mount."
}

variable "admin_token" {
  type        = string
  description = "GATEHOUSE_ADMIN_TOKEN (24 characters or more)."
  sensitive   = true
}

variable "forwarding_keys" {
  type        = string
  description = "GATEHOUSE_FORWARDING_KEYS, the same in every region."
  sensitive   = true
}
