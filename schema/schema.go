// Package schema embeds Gatehouse's SQL migrations. Files named
// NNNN_name.sql at the top level run on PostgreSQL and CockroachDB alike;
// files in cockroach/ are CockroachDB-only multi-region statements, rendered
// as text/template with the region topology before they run.
package schema

import "embed"

// Files holds the portable migrations (*.sql) and the CockroachDB-only
// templates (cockroach/*.sql).
//
//go:embed *.sql cockroach/*.sql
var Files embed.FS
