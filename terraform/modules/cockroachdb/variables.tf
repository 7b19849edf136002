variable "cluster_name" {
  type        = string
  description = "Name of the CockroachDB Cloud cluster."
}

variable "regions" {
  type = list(object({
    name       = string
    node_count = number
  }))
  description = "Google Cloud regions of the cluster and nodes in each; the first is the primary region. Three nodes a region survive a zone."
}

variable "cockroach_version" {
  type        = string
  description = "CockroachDB major version."
  default     = "v25.2"
}

variable "machine_type" {
  type        = string
  description = "Machine type of every node."
  default     = "n2-standard-8"
}

variable "storage_gib" {
  type        = number
  description = "Disk per node, GiB."
  default     = 300
}

variable "database_name" {
  type        = string
  description = "The database Gatehouse uses (GATEHOUSE_DATABASE_URL's path)."
  default     = "gatehouse"
}

variable "sql_user_name" {
  type        = string
  description = "SQL user of the Gatehouse servers."
  default     = "gatehouse"
}

variable "sql_user_password" {
  type        = string
  description = "Password of the SQL user."
  sensitive   = true
}

variable "allowed_cidrs" {
  type        = list(string)
  description = "CIDRs allowed to reach SQL: each region's GKE subnet."
}
