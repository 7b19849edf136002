-- CockroachDB only. Makes the database multi-region: primary region, the
-- other regions, then the survival goal. Rendered as a Go text/template with
-- store.Topology; one DDL statement per step. See README.md in this folder
-- for the documentation each statement follows.
--
-- .Database must be the real database name: ALTER DATABASE has no form that
-- means "the current database".

-- ALTER DATABASE ... SET PRIMARY REGION (docs: "SET PRIMARY REGION",
-- v21.1+; the ALTER DATABASE page of v24.1 uses the same form). The first
-- run turns the database multi-region and makes every existing table
-- REGIONAL BY TABLE in the primary region. Later runs name a region that is
-- already in the database (the docs allow SET PRIMARY REGION for "an
-- already-added region"); when it is already the primary, the same region
-- config is written again and nothing moves. The docs do not say this in so
-- many words; CockroachDB's source (switchPrimaryRegion) only refuses a
-- region that was never added.
ALTER DATABASE {{ident .Database}} SET PRIMARY REGION {{ident .PrimaryRegion}};

-- ALTER DATABASE ... ADD REGION IF NOT EXISTS (docs: "ADD REGION", the
-- IF NOT EXISTS form is in the synopsis since v21.1). Needs the primary
-- region set first. The region must be in SHOW REGIONS FROM CLUSTER, i.e.
-- some node was started with --locality=region=<name>. Adding a region
-- also repartitions every REGIONAL BY ROW table; it fails while a REGIONAL
-- BY ROW locality or index change is running (docs: ALTER DATABASE, ADD
-- REGION).
{{- range $i, $r := .Regions}}{{if $i}}
ALTER DATABASE {{ident $.Database}} ADD REGION IF NOT EXISTS {{ident $r}};
{{- end}}{{end}}

-- ALTER DATABASE ... SURVIVE REGION FAILURE (docs: "SURVIVE {ZONE, REGION}
-- FAILURE", v21.1+). With fewer than 3 database regions it fails with
-- "ERROR: at least 3 regions are required for surviving a region failure"
-- (SQLSTATE 42602), so it is only rendered when the topology has 3 or more
-- regions; with fewer the database keeps the default goal, SURVIVE ZONE
-- FAILURE. Running it again when the goal is already REGION writes the same
-- goal and the same zone configs (CockroachDB's alterDatabaseSurvivalGoal
-- has no "already set" error; the docs do not discuss re-running).
{{- if ge (len .Regions) 3}}
ALTER DATABASE {{ident .Database}} SURVIVE REGION FAILURE;
{{- end}}
