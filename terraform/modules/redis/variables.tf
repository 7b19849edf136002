variable "project_id" {
  type        = string
  description = "Google Cloud project."
}

variable "region" {
  type        = string
  description = "Region of this Redis (Memorystore) instance; each Gatehouse region has its own."
}

variable "network_id" {
  type        = string
  description = "VPC the instance is reachable from (the GKE cluster's)."
}

variable "memory_size_gb" {
  type        = number
  description = "Memory of the instance, GB: rate limits, defense counters, revocation marks."
  default     = 5
}
