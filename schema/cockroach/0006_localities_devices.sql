-- CockroachDB only. REGIONAL BY ROW for trusted_devices (portable migration
-- 0011), exactly as 0002_localities does for the first regional tables.

{{- define "home_region_case"}}CASE
{{- range .Regions}}
        WHEN home_region = {{literal .}} THEN {{literal .}}
{{- end}}
    END{{end}}

ALTER TABLE trusted_devices ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (
    {{template "home_region_case" .}}
) STORED;

ALTER TABLE trusted_devices SET LOCALITY REGIONAL BY ROW AS crdb_region;
