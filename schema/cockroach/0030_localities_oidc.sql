-- CockroachDB only. Localities of the OIDC tables (portable migration 0030).
--
-- oauth_clients: GLOBAL (docs: ALTER TABLE, "Set the table locality to
-- GLOBAL": ALTER TABLE <table> SET LOCALITY GLOBAL). Every region reads a
-- client on every authorize and token request, locally; only an
-- administrator writes it, and those writes are slow (like email_directory).
--
-- authorization_codes, oauth_grants: REGIONAL BY ROW in the user's home
-- region, exactly as 0002_localities does for sessions.

{{- define "home_region_case"}}CASE
{{- range .Regions}}
        WHEN home_region = {{literal .}} THEN {{literal .}}
{{- end}}
    END{{end}}

ALTER TABLE oauth_clients SET LOCALITY GLOBAL;

ALTER TABLE authorization_codes ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (
    {{template "home_region_case" .}}
) STORED;

ALTER TABLE authorization_codes SET LOCALITY REGIONAL BY ROW AS crdb_region;

ALTER TABLE oauth_grants ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (
    {{template "home_region_case" .}}
) STORED;

ALTER TABLE oauth_grants SET LOCALITY REGIONAL BY ROW AS crdb_region;
