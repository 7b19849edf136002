terraform {
  required_version = ">= 1.6"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 2.35"
    }
    kustomization = {
      source  = "kbst/kustomization"
      version = "~> 0.9"
    }
    vault = {
      source  = "hashicorp/vault"
      version = "~> 4.5"
    }
    cockroach = {
      source  = "cockroachdb/cockroach"
      version = "~> 1.12"
    }
  }
}
