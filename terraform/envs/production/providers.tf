provider "google" {
  project = var.project_id
}

# VAULT_ADDR and VAULT_TOKEN of the operator come from the environment.
provider "vault" {}

# COCKROACH_API_KEY comes from the environment.
provider "cockroach" {}

data "google_client_config" "current" {}

provider "kubernetes" {
  alias                  = "us_east1"
  host                   = module.gke["us-east1"].kubernetes_host
  cluster_ca_certificate = module.gke["us-east1"].cluster_ca_certificate
  token                  = data.google_client_config.current.access_token
}

provider "kubernetes" {
  alias                  = "europe_west1"
  host                   = module.gke["europe-west1"].kubernetes_host
  cluster_ca_certificate = module.gke["europe-west1"].cluster_ca_certificate
  token                  = data.google_client_config.current.access_token
}

provider "kubernetes" {
  alias                  = "asia_south1"
  host                   = module.gke["asia-south1"].kubernetes_host
  cluster_ca_certificate = module.gke["asia-south1"].cluster_ca_certificate
  token                  = data.google_client_config.current.access_token
}

provider "kustomization" {
  alias = "us_east1"
  kubeconfig_raw = yamlencode({
    apiVersion = "v1", kind = "Config", current-context = "gke",
    clusters   = [{ name = "gke", cluster = { server = module.gke["us-east1"].kubernetes_host, certificate-authority-data = base64encode(module.gke["us-east1"].cluster_ca_certificate) } }],
    users      = [{ name = "terraform", user = { token = data.google_client_config.current.access_token } }],
    contexts   = [{ name = "gke", context = { cluster = "gke", user = "terraform" } }],
  })
}

provider "kustomization" {
  alias = "europe_west1"
  kubeconfig_raw = yamlencode({
    apiVersion = "v1", kind = "Config", current-context = "gke",
    clusters   = [{ name = "gke", cluster = { server = module.gke["europe-west1"].kubernetes_host, certificate-authority-data = base64encode(module.gke["europe-west1"].cluster_ca_certificate) } }],
    users      = [{ name = "terraform", user = { token = data.google_client_config.current.access_token } }],
    contexts   = [{ name = "gke", context = { cluster = "gke", user = "terraform" } }],
  })
}

provider "kustomization" {
  alias = "asia_south1"
  kubeconfig_raw = yamlencode({
    apiVersion = "v1", kind = "Config", current-context = "gke",
    clusters   = [{ name = "gke", cluster = { server = module.gke["asia-south1"].kubernetes_host, certificate-authority-data = base64encode(module.gke["asia-south1"].cluster_ca_certificate) } }],
    users      = [{ name = "terraform", user = { token = data.google_client_config.current.access_token } }],
    contexts   = [{ name = "gke", context = { cluster = "gke", user = "terraform" } }],
  })
}
