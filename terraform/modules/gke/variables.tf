variable "project_id" {
  type        = string
  description = "Google Cloud project."
}

variable "region" {
  type        = string
  description = "Region of this cluster (regional: control plane and nodes in three zones)."
}

variable "network_id" {
  type        = string
  description = "The shared VPC every region's subnet belongs to."
}

variable "subnet_cidr" {
  type        = string
  description = "Node and pod subnet of this region; other regions' NetworkPolicies allow it in."
}

variable "pods_cidr" {
  type        = string
  description = "Secondary range for pods."
}

variable "services_cidr" {
  type        = string
  description = "Secondary range for services."
}

variable "machine_type" {
  type        = string
  description = "Node machine type: compute-optimised, since Argon2id is CPU- and memory-bound."
  default     = "c3-standard-8"
}

variable "min_nodes_per_zone" {
  type        = number
  description = "Cluster autoscaler lower bound per zone."
  default     = 1
}

variable "max_nodes_per_zone" {
  type        = number
  description = "Cluster autoscaler upper bound per zone: room for the HPA's maxReplicas during a stuffing burst."
  default     = 10
}
