# A regional GKE cluster per Gatehouse region: Dataplane V2 (enforces
# NetworkPolicy), Workload Identity, shielded nodes, private nodes.
resource "google_compute_subnetwork" "gatehouse" {
  project                  = var.project_id
  name                     = "gatehouse-${var.region}"
  region                   = var.region
  network                  = var.network_id
  ip_cidr_range            = var.subnet_cidr
  private_ip_google_access = true
  secondary_ip_range {
    range_name    = "pods"
    ip_cidr_range = var.pods_cidr
  }
  secondary_ip_range {
    range_name    = "services"
    ip_cidr_range = var.services_cidr
  }
}

resource "google_container_cluster" "gatehouse" {
  project                  = var.project_id
  name                     = "gatehouse-${var.region}"
  location                 = var.region
  network                  = var.network_id
  subnetwork               = google_compute_subnetwork.gatehouse.id
  datapath_provider        = "ADVANCED_DATAPATH"
  remove_default_node_pool = true
  initial_node_count       = 1
  deletion_protection      = true
  release_channel {
    channel = "REGULAR"
  }
  ip_allocation_policy {
    cluster_secondary_range_name  = "pods"
    services_secondary_range_name = "services"
  }
  workload_identity_config {
    workload_pool = "${var.project_id}.svc.id.goog"
  }
  private_cluster_config {
    enable_private_nodes    = true
    enable_private_endpoint = false
    master_ipv4_cidr_block  = cidrsubnet("172.16.0.0/16", 12, index(["us-east1", "europe-west1", "asia-south1", "us-west1", "europe-west4", "asia-northeast1"], var.region))
  }
}

resource "google_container_node_pool" "gatehouse" {
  project  = var.project_id
  name     = "gatehouse"
  location = var.region
  cluster  = google_container_cluster.gatehouse.name
  autoscaling {
    min_node_count = var.min_nodes_per_zone
    max_node_count = var.max_nodes_per_zone
  }
  management {
    auto_repair  = true
    auto_upgrade = true
  }
  node_config {
    machine_type = var.machine_type
    oauth_scopes = ["https://www.googleapis.com/auth/cloud-platform"]
    shielded_instance_config {
      enable_secure_boot = true
    }
    workload_metadata_config {
      mode = "GKE_METADATA"
    }
  }
}
