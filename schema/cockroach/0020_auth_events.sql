-- CockroachDB only. auth_events (portable migration 0020) is REGIONAL BY
-- ROW like the other per-user tables (0002_localities), and its rows expire
-- by row-level TTL instead of PostgreSQL's dropped day partitions.

{{- define "home_region_case"}}CASE
{{- range .Regions}}
        WHEN home_region = {{literal .}} THEN {{literal .}}
{{- end}}
    END{{end}}

ALTER TABLE auth_events ADD COLUMN IF NOT EXISTS crdb_region crdb_internal_region NOT VISIBLE NOT NULL AS (
    {{template "home_region_case" .}}
) STORED;

ALTER TABLE auth_events SET LOCALITY REGIONAL BY ROW AS crdb_region;

-- Row-level TTL (docs: "Batch Delete Expired Data with Row-Level TTL",
-- storage parameters ttl_expiration_expression, v22.2+, and ttl_job_cron):
-- the expression is a SQL string yielding the row's expiry as TIMESTAMPTZ;
-- quotes inside it are doubled. 400 days is the audit retention the
-- PostgreSQL partition job uses by default (GATEHOUSE_EVENTS_RETENTION);
-- change both together. The TTL job deletes expired rows in rate-limited
-- batches once a day, off the foreground path.
ALTER TABLE auth_events SET (ttl_expiration_expression = '(occurred_at + INTERVAL ''400 days'')', ttl_job_cron = '@daily');
