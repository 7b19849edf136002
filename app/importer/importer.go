package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// DefaultBatchSize is how many valid records go to the store at once.
const DefaultBatchSize = 2500

// DefaultMaxRejected is how many rejections a Report keeps by default.
const DefaultMaxRejected = 1000

// Options tune one import.
type Options struct {
	// Region homes users whose line names no home_region (required).
	Region string
	// Regions, when not empty, are the only home regions accepted.
	Regions []string
	// BatchSize is the number of records per transaction (DefaultBatchSize
	// when <= 0).
	BatchSize int
	// Concurrency is how many batches are committed at once, each in its
	// own transaction (DefaultConcurrency when <= 0, at most
	// MaxConcurrency; 1 commits one after the other). Records are still
	// applied in line order per email and per external_id: a batch that
	// shares one with a batch in flight starts only once that one is
	// committed. (Only two lines that reach one existing user through
	// different keys, say by its external_id with a new email and by its
	// old email without external_id, may be applied in either order when
	// they fall in different batches; 1 keeps strict line order.) See
	// Run for what a failure leaves behind.
	Concurrency int
	// CheckpointPath, when set, is rewritten after every committed batch
	// with the last committed line; a later run over the same input skips
	// the lines it covers. It is removed when the import completes.
	CheckpointPath string
	// MaxRejected caps Report.Rejected (DefaultMaxRejected when 0, none
	// kept when < 0); RejectedCount always counts them all.
	MaxRejected int
	// OnReject, when set, is told about every rejected line, in line order,
	// once the batch that holds it is committed.
	OnReject func(Rejection)
	// Progress, when set, is told about the lines (and, if it has an
	// AddBytes(int64) method, the bytes) of each committed batch.
	Progress Progress
}

// Report sums up an import.
type Report struct {
	// Lines is the number of lines read, including skipped ones.
	Lines int64 `json:"lines"`
	// Imported, Updated and Unchanged are as in Counts, summed.
	Imported  int64 `json:"imported"`
	Updated   int64 `json:"updated"`
	Unchanged int64 `json:"unchanged"`
	// Rejected lists the first rejected lines (see Options.MaxRejected).
	Rejected []Rejection `json:"rejected"`
	// RejectedCount counts every rejected line.
	RejectedCount int64 `json:"rejected_count"`
	// ResumedAfter is the line a checkpoint let this run skip to (0: none).
	ResumedAfter int64 `json:"resumed_after,omitempty"`
	// Duration is the wall time of the run.
	Duration time.Duration `json:"-"`
}

// String is the summary line printed at the end of an import.
func (r Report) String() string {
	s := fmt.Sprintf("import: %d lines, %d imported, %d updated, %d unchanged, %d rejected",
		r.Lines, r.Imported, r.Updated, r.Unchanged, r.RejectedCount)
	if r.ResumedAfter > 0 {
		s += fmt.Sprintf(" (resumed after line %d)", r.ResumedAfter)
	}
	if secs := r.Duration.Seconds(); secs > 0 {
		s += fmt.Sprintf(" in %s (%.0f lines/s)", r.Duration.Round(time.Millisecond), float64(r.Lines-r.ResumedAfter)/secs)
	}
	return s
}

// AdminResult is the body of POST /admin/v1/users/import (contract section
// 2): unchanged users are counted in neither imported nor updated.
type AdminResult struct {
	Imported int64       `json:"imported"`
	Updated  int64       `json:"updated"`
	Rejected []Rejection `json:"rejected"`
}

// Admin is the report as the admin endpoint returns it.
func (r Report) Admin() AdminResult {
	rej := r.Rejected
	if rej == nil {
		rej = []Rejection{}
	}
	return AdminResult{Imported: r.Imported, Updated: r.Updated, Rejected: rej}
}

// Importer runs imports into a Store. It is safe for concurrent use.
type Importer struct {
	store Store
	log   *slog.Logger
	now   func() time.Time
	newID func() uuid.UUID
	// onHold, when set (by tests), is told the first line of a batch held
	// back because it shares a key with a batch in flight or is too far
	// ahead of the report.
	onHold func(firstLine int64)
}

// New returns an importer writing to store; clock nil means time.Now.
func New(store Store, logger *slog.Logger, clock func() time.Time) *Importer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = time.Now
	}
	return &Importer{store: store, log: logger, now: clock, newID: uuid.New}
}

// batch is the span of input lines from the previous batch's end to end,
// with the valid records and the rejected lines in it.
type batch struct {
	records   []Record
	rejected  []Rejection
	lines     int64 // lines in the span
	bytes     int64 // bytes in the span
	end       lineMark
	firstLine string // hex SHA-256 of line 1
	err       error  // a read error ends the stream
}

// Run imports the JSON lines of r. It returns the report so far together
// with an error when reading, the store or ctx fails; the batches committed
// by then stay committed, and running again completes the import.
//
// The report, the rejections told to OnReject, Progress and the checkpoint
// always cover the same lines: 1 to Report.Lines, every batch of them
// committed. With Concurrency > 1, a batch after the one that failed may
// have committed as well; it is in none of them, and running again applies
// it again, which changes nothing (its users count as Unchanged).
func (im *Importer) Run(ctx context.Context, r io.Reader, opts Options) (Report, error) {
	start := im.now()
	if opts.Region == "" {
		return Report{}, errors.New("importer: Options.Region is required")
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.MaxRejected == 0 {
		opts.MaxRejected = DefaultMaxRejected
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	opts.Concurrency = min(opts.Concurrency, MaxConcurrency)
	var cp checkpoint
	if opts.CheckpointPath != "" {
		var err error
		if cp, err = readCheckpoint(opts.CheckpointPath); err != nil {
			return Report{}, err
		}
	}
	src, err := openSource(r, cp, im.log)
	if err != nil {
		return Report{}, err
	}
	rep := Report{ResumedAfter: src.resumedAt, Lines: src.resumedAt}
	im.log.InfoContext(ctx, "import started", "region", opts.Region, "resumed_after_line", src.resumedAt)

	prodCtx, stop := context.WithCancel(ctx)
	defer stop()
	parser := &LineParser{Region: opts.Region, Regions: opts.Regions, Now: start, NewID: im.newID}
	batches := make(chan batch, opts.Concurrency)
	go produce(prodCtx, src, parser, opts.BatchSize, batches)

	defer func() {
		if opts.Progress != nil {
			opts.Progress.Done()
		}
	}()
	if err := newPipeline(im, opts, &rep).run(ctx, batches); err != nil {
		stop()
		for range batches { // let the producer finish
		}
		rep.Duration = im.now().Sub(start)
		im.log.WarnContext(ctx, "import stopped", "after_line", rep.Lines, "error", err)
		return rep, err
	}
	if err := ctx.Err(); err != nil {
		rep.Duration = im.now().Sub(start)
		return rep, fmt.Errorf("importer: %w", err)
	}
	if opts.CheckpointPath != "" {
		if err := removeCheckpoint(opts.CheckpointPath); err != nil {
			return rep, err
		}
	}
	rep.Duration = im.now().Sub(start)
	im.log.InfoContext(ctx, "import finished", "lines", rep.Lines, "imported", rep.Imported, "updated", rep.Updated,
		"unchanged", rep.Unchanged, "rejected", rep.RejectedCount, "duration", rep.Duration)
	return rep, nil
}

// importBatch stores records; when the database refuses a value it splits
// the batch until the refused record is alone, and rejects only that one.
func (im *Importer) importBatch(ctx context.Context, region string, records []Record) (Counts, error) {
	c, err := im.store.ImportUsers(ctx, region, records, im.now())
	if err == nil || !errs.Is(err, errs.KindInvalid) || ctx.Err() != nil {
		return c, err
	}
	if len(records) == 1 {
		im.log.WarnContext(ctx, "import line refused by the database", "line", records[0].Line, "error", err)
		return Counts{Rejected: []Rejection{{Line: records[0].Line, Error: "refused by the database: " + reason(err)}}}, nil
	}
	half := len(records) / 2
	a, err := im.importBatch(ctx, region, records[:half])
	if err != nil {
		return a, err
	}
	b, err := im.importBatch(ctx, region, records[half:])
	if err != nil {
		return b, err
	}
	return Counts{Imported: a.Imported + b.Imported, Updated: a.Updated + b.Updated,
		Unchanged: a.Unchanged + b.Unchanged, Rejected: append(a.Rejected, b.Rejected...)}, nil
}
