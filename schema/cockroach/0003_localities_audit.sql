-- CockroachDB only. REGIONAL BY ROW for the tables that portable
-- migrations 0006-0008 added (security_events, outbox, password_resets),
-- exactly as 0002_localities does for the first regional tables: a STORED,
-- NOT VISIBLE crdb_region computed from home_region, then SET LOCALITY.

{{- define "home_region_case"}}CASE
{{- range .Regions}}
        WHEN home_region = {{literal .}} THEN {{literal .}}
{{- end}}
    END{{end}}

ALTER TABLE security_events ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (
    {{template "home_region_case" .}}
) STORED;

ALTER TABLE security_events SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE outbox ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (
    {{template "home_region_case" .}}
) STORED;

ALTER TABLE outbox SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE password_resets ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (
    {{template "home_region_case" .}}
) STORED;

ALTER TABLE password_resets SET LOCALITY REGIONAL BY ROW AS crdb_region;
