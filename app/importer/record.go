// Package importer is Gatehouse's bulk user import (`gatehouse users import
// FILE` and POST /admin/v1/users/import) and the protect-legacy job that
// wraps imported fast hashes.
//
// The import reads JSON lines (contract section 5) in constant memory, parses
// each line strictly, and hands batches of valid records to a Store that
// upserts each batch in one transaction, several batches at once
// (Options.Concurrency) but never two that share an email or an
// external_id: users are matched by external_id, else by the email
// directory, so importing a file twice changes nothing the second time. Bad lines are reported with their line number and reason and
// never stored. A checkpoint file makes a crashed import resume where the
// last committed batch ended.
package importer

import (
	"context"
	"time"

	"github.com/gatehouse-id/gatehouse/app/auth"
)

// Record is one valid import line, ready for the store.
type Record struct {
	// Line is the record's line number in the input (1-based), for reports.
	Line int64
	// User is the account to create. ID is a fresh random UUID the store
	// uses only when no existing user matches; Email is normalised;
	// HomeRegion is the line's home_region or the import's region;
	// CreatedAt is the line's created_at or the import's start.
	User auth.User
	// EmailHash is auth.EmailHash(User.Email): the directory key.
	EmailHash []byte
	// Credential is the imported hash (Kind "legacy"; Recipe set for fast
	// digests), nil when the line has no password. UserID and HomeRegion
	// are filled in by the store.
	Credential *auth.Credential
}

// Rejection is a line that was not imported, and why. Error never holds
// the email, password or hash of the line.
type Rejection struct {
	Line  int64  `json:"line"`
	Error string `json:"error"`
}

// Counts is what the store did with one batch.
//
//   - Imported: new users created (user, directory entry, credential).
//   - Updated: existing users the batch changed (email_verified raised to
//     true, external_id linked, or credential written).
//   - Unchanged: existing users the batch matched and left exactly as
//     they were. A second import of the same file counts every line it
//     stored the first time here (or in Updated only when something changed
//     meanwhile in the source), never in Imported.
//   - Rejected: records the database state refused (e.g. the email belongs
//     to a user with a different external_id).
type Counts struct {
	Imported, Updated, Unchanged int
	Rejected                     []Rejection
}

// Store upserts batches of records. *store.DB implements it.
type Store interface {
	// ImportUsers upserts batch in one transaction, applying the records
	// in order (a later record for the same user sees the earlier one).
	// Records without a HomeRegion are homed in region. The importer calls
	// it concurrently, for batches that share no email hash and no
	// external_id.
	ImportUsers(ctx context.Context, region string, batch []Record, now time.Time) (Counts, error)
}
