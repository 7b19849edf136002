package importer

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
)

// DefaultConcurrency is how many batches an import commits at once when
// Options.Concurrency is not set. On a 2-core machine that runs PostgreSQL
// too, 2, 3 and 4 all import about 1.5 times as fast as 1 (about 40,000
// against 28,000 users/s, within the noise of each other); 3 keeps both
// cores busy when a transaction waits on its commit, with few connections.
const DefaultConcurrency = 3

// MaxConcurrency bounds Options.Concurrency.
const MaxConcurrency = 16

// result is a batch once the store is done with it.
type result struct {
	seq       int64
	firstLine int64 // first line of the batch's span
	b         batch
	keys      []string // the batch's keys (batchKeys) while in flight
	c         Counts
	err       error
}

// pipeline commits the batches of one import, up to Options.Concurrency
// at a time, and folds them into the report in input order.
//
// Order: a batch that shares a key (an email hash or an external_id) with
// a batch still in flight waits until that batch is done before it starts,
// and every batch after it waits too, so a later record for a user sees
// the earlier ones. Report: the results are applied in input order, and
// only as a contiguous prefix: a batch done before an earlier one waits in
// pending; the checkpoint, rejections, counts and progress thus always
// cover lines 1 to Report.Lines exactly, with no gap.
type pipeline struct {
	im   *Importer
	opts Options
	rep  *Report

	done     chan result
	inflight int
	keys     map[string]int64 // key of an in-flight batch → its seq
	pending  map[int64]result // done, waiting for an earlier batch
	next     int64            // seq of the next batch to fold into rep
	seq      int64            // seq of the next batch to dispatch
	prevEnd  int64            // last line of the previous batch read
	// failed is the seq of the earliest failed batch (-1: none) and err
	// its error; nothing is dispatched once a batch failed.
	failed int64
	err    error
}

func newPipeline(im *Importer, opts Options, rep *Report) *pipeline {
	return &pipeline{im: im, opts: opts, rep: rep, done: make(chan result, opts.Concurrency),
		keys: make(map[string]int64), pending: make(map[int64]result), prevEnd: rep.Lines, failed: -1}
}

// run dispatches the batches read from in until in is closed or a batch
// fails, then waits for the batches in flight. It returns the error of the
// earliest failed batch.
func (p *pipeline) run(ctx context.Context, in <-chan batch) error {
	for in != nil || p.inflight > 0 {
		select {
		case r := <-p.done:
			p.receive(ctx, r)
		case b, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			p.dispatch(ctx, b)
		}
		if p.err != nil {
			in = nil // stop dispatching; let the batches in flight end
		}
	}
	return p.err
}

// dispatch starts storing b once a worker is free and no batch in flight
// shares a key with it; a batch without records is done at once.
func (p *pipeline) dispatch(ctx context.Context, b batch) {
	r := result{seq: p.seq, firstLine: p.prevEnd + 1, b: b}
	p.seq++
	p.prevEnd = b.end.line
	if b.err != nil {
		p.fail(r.seq, fmt.Errorf("importer: read input after line %d: %w", r.firstLine-1, b.err))
		return
	}
	if len(b.records) > 0 {
		r.keys = batchKeys(b.records)
	}
	held := false
	for p.err == nil && p.inflight > 0 && p.mustWait(r) {
		if !held && p.im.onHold != nil && (p.conflicts(r.keys) || r.seq-p.next >= 2*int64(p.opts.Concurrency)) {
			held = true
			p.im.onHold(r.firstLine)
		}
		p.receive(ctx, <-p.done)
	}
	switch {
	case p.err != nil:
	case len(b.records) == 0: // only rejections: nothing to store
		p.finish(ctx, r)
	default:
		for _, k := range r.keys {
			p.keys[k] = r.seq
		}
		p.inflight++
		go p.store(ctx, r)
	}
}

// mustWait reports whether r must wait for a batch in flight: all workers
// are busy, one of them holds a key of r, or r is too far ahead of the
// report. That last bound keeps memory constant when an early batch is
// slow: at most 2 × Concurrency batches are read and not yet reported.
func (p *pipeline) mustWait(r result) bool {
	if r.seq-p.next >= 2*int64(p.opts.Concurrency) {
		return true
	}
	return len(r.keys) > 0 && (p.inflight >= p.opts.Concurrency || p.conflicts(r.keys))
}

// store runs in its own goroutine: it commits one batch and hands the
// result back to the dispatcher.
func (p *pipeline) store(ctx context.Context, r result) {
	r.c, r.err = p.im.importBatch(ctx, p.opts.Region, r.b.records)
	if r.err != nil {
		r.err = fmt.Errorf("importer: lines %d-%d: %w", r.firstLine, r.b.end.line, r.err)
	}
	p.done <- r
}

// receive takes back a batch that was in flight, releases its keys and
// folds every result now contiguous with the report into it.
func (p *pipeline) receive(ctx context.Context, r result) {
	p.inflight--
	for _, k := range r.keys {
		delete(p.keys, k)
	}
	if r.err != nil {
		p.fail(r.seq, r.err)
		return
	}
	p.finish(ctx, r)
}

// fail records that batch seq failed with err, unless an earlier one did.
func (p *pipeline) fail(seq int64, err error) {
	if p.failed < 0 || seq < p.failed {
		p.failed, p.err = seq, err
	}
}

// finish queues a successful result and folds into the report every
// queued result that follows it without a gap, then writes the checkpoint
// once for all of them.
func (p *pipeline) finish(ctx context.Context, r result) {
	p.pending[r.seq] = r
	var last *batch
	for {
		q, ok := p.pending[p.next]
		if !ok || (p.failed >= 0 && q.seq >= p.failed) {
			break
		}
		delete(p.pending, p.next)
		p.next++
		p.im.fold(ctx, p.opts, q, p.rep)
		last = &q.b
	}
	if last == nil || p.opts.CheckpointPath == "" {
		return
	}
	cp := checkpoint{FirstLine: last.firstLine, Line: last.end.line, Offset: last.end.offset,
		LastStart: last.end.start, LastLine: hex.EncodeToString(last.end.sum[:])}
	if err := writeCheckpoint(p.opts.CheckpointPath, cp); err != nil {
		// Nothing after this batch may be folded in: the checkpoint
		// would not cover it.
		p.fail(p.next, err)
	}
}

// fold adds one committed batch to the report: its counts, its rejections
// (in line order, to OnReject too) and its lines, and tells Progress.
func (im *Importer) fold(ctx context.Context, opts Options, r result, rep *Report) {
	b := r.b
	rep.Imported += int64(r.c.Imported)
	rep.Updated += int64(r.c.Updated)
	rep.Unchanged += int64(r.c.Unchanged)
	if len(r.c.Rejected) > 0 {
		b.rejected = append(b.rejected, r.c.Rejected...)
		slices.SortFunc(b.rejected, func(x, y Rejection) int { return int(x.Line - y.Line) })
	}
	for _, rj := range b.rejected {
		rep.RejectedCount++
		if opts.MaxRejected > 0 && len(rep.Rejected) < opts.MaxRejected {
			rep.Rejected = append(rep.Rejected, rj)
		}
		if opts.OnReject != nil {
			opts.OnReject(rj)
		}
		im.log.DebugContext(ctx, "import line rejected", "line", rj.Line, "reason", rj.Error)
	}
	rep.Lines = b.end.line
	if p := opts.Progress; p != nil {
		if pb, ok := p.(interface{ AddBytes(int64) }); ok {
			pb.AddBytes(b.bytes)
		}
		p.Add(int(b.lines))
	}
}

// conflicts reports whether any of keys belongs to a batch in flight.
func (p *pipeline) conflicts(keys []string) bool {
	if len(p.keys) == 0 {
		return false
	}
	for _, k := range keys {
		if _, ok := p.keys[k]; ok {
			return true
		}
	}
	return false
}

// batchKeys are the keys a batch's records are matched by: their email
// hashes and external ids.
func batchKeys(records []Record) []string {
	keys := make([]string, 0, 2*len(records))
	for i := range records {
		keys = append(keys, emailKey(records[i].EmailHash))
		if ext := records[i].User.ExternalID; ext != "" {
			keys = append(keys, extKey(ext))
		}
	}
	return keys
}

func emailKey(hash []byte) string { return "e" + string(hash) }
func extKey(ext string) string    { return "x" + ext }
