terraform {
  required_version = ">= 1.6"
  required_providers {
    cockroach = {
      source  = "cockroachdb/cockroach"
      version = "~> 1.12"
    }
  }
}
