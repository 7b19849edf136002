# A dedicated multi-region CockroachDB Cloud cluster on Google Cloud, the
# database and the SQL user Gatehouse connects as. The multi-region schema
# (ALTER DATABASE … PRIMARY REGION / ADD REGION, survival goal, REGIONAL BY
# ROW tables) is applied by `gatehouse migrate` from schema/cockroach/, not
# here: the regions must exist in the cluster first.
resource "cockroach_cluster" "this" {
  name              = var.cluster_name
  cloud_provider    = "GCP"
  cockroach_version = var.cockroach_version
  dedicated = {
    storage_gib  = var.storage_gib
    machine_type = var.machine_type
  }
  regions = [
    for i, r in var.regions : {
      name       = r.name
      node_count = r.node_count
      primary    = i == 0
    }
  ]
}

resource "cockroach_database" "gatehouse" {
  name       = var.database_name
  cluster_id = cockroach_cluster.this.id
}

resource "cockroach_sql_user" "gatehouse" {
  name       = var.sql_user_name
  password   = var.sql_user_password
  cluster_id = cockroach_cluster.this.id
}

resource "cockroach_allow_list" "regions" {
  for_each   = toset(var.allowed_cidrs)
  name       = "gatehouse-${replace(each.value, "/", "-")}"
  cidr_ip    = split("/", each.value)[0]
  cidr_mask  = tonumber(split("/", each.value)[1])
  ui         = false
  sql        = true
  cluster_id = cockroach_cluster.this.id
}

data "cockroach_connection_string" "gatehouse" {
  id       = cockroach_cluster.this.id
  sql_user = cockroach_sql_user.gatehouse.name
  database = cockroach_database.gatehouse.name
}
