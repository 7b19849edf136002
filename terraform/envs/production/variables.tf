variable "project_id" {
  type        = string
  description = "Google Cloud project of the clusters and Redis."
}

variable "network_name" {
  type        = string
  description = "Name of the global VPC all regions share."
  default     = "gatehouse"
}

variable "regions" {
  type = map(object({
    subnet_cidr   = string
    pods_cidr     = string
    services_cidr = string
    db_nodes      = number
  }))
  description = "Every Gatehouse region (Google Cloud names) with its address ranges and CockroachDB nodes. Adding a region: docs/runbooks/adding-a-region.md."
}

variable "primary_region" {
  type        = string
  description = "CockroachDB's primary region, and the region that runs the migration Job."
  default     = "us-east1"
}

variable "vault_addr" {
  type        = string
  description = "VAULT_ADDR of the servers (the Vault cluster, reachable from every region)."
}

variable "sql_user_password" {
  type        = string
  description = "Password of the gatehouse SQL user."
  sensitive   = true
}

variable "admin_token" {
  type        = string
  description = "GATEHOUSE_ADMIN_TOKEN."
  sensitive   = true
}

variable "forwarding_keys" {
  type        = string
  description = "GATEHOUSE_FORWARDING_KEYS (kid:base64, current first), the same in every region."
  sensitive   = true
}
