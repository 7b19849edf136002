package importer

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress is told how far a long job got. Add and Done may be called from
// any goroutine.
type Progress interface {
	// Add reports n more lines (or items) done.
	Add(n int)
	// Done ends the display with a summary line.
	Done()
}

// plainEvery is how often the plain (non-terminal) display prints a line.
const plainEvery = 2 * time.Second

// TextProgress shows progress on a writer: a progress bar on a terminal
// (github.com/schollz/progressbar), a plain line every ~2 s otherwise, and a
// summary line at the end. It implements Progress and AddBytes.
type TextProgress struct {
	mu         sync.Mutex
	w          io.Writer
	verb, unit string
	total      int64 // bytes expected, <= 0 when unknown
	bar        *progressbar.ProgressBar
	now        func() time.Time
	start      time.Time
	lastPrint  time.Time
	items      int64
	bytes      int64
	done       bool
}

// NewProgress shows an import's progress on w. total is the input's size
// in bytes (<= 0 when unknown, e.g. stdin): with it the terminal bar runs
// over bytes with rate and ETA; without it, a spinner counts lines.
func NewProgress(w io.Writer, total int64, isTerminal bool) *TextProgress {
	return NewProgressLabel(w, total, isTerminal, "imported", "lines")
}

// NewProgressLabel is NewProgress for another job: verb and unit name what
// is counted, e.g. "examined", "credentials".
func NewProgressLabel(w io.Writer, total int64, isTerminal bool, verb, unit string) *TextProgress {
	return newProgress(w, total, isTerminal, verb, unit, time.Now)
}

func newProgress(w io.Writer, total int64, isTerminal bool, verb, unit string, now func() time.Time) *TextProgress {
	// The spinner renders from its own goroutine: one lock orders its
	// writes and ours.
	w = &syncWriter{w: w}
	p := &TextProgress{w: w, verb: verb, unit: unit, total: total, now: now}
	p.start, p.lastPrint = now(), now()
	if !isTerminal {
		return p
	}
	common := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionShowIts(),
		progressbar.OptionFullWidth(),
		progressbar.OptionSetDescription(verb),
	}
	if total > 0 {
		p.bar = progressbar.NewOptions64(total, append(common, progressbar.OptionShowBytes(true))...)
	} else {
		p.bar = progressbar.NewOptions64(-1, append(common, progressbar.OptionShowCount(),
			progressbar.OptionSetItsString(unit))...)
	}
	return p
}

// Add counts n more lines.
func (p *TextProgress) Add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.items += int64(n)
	if p.bar != nil {
		if p.total > 0 {
			p.bar.Describe(fmt.Sprintf("%s %d %s", p.verb, p.items, p.unit))
		} else {
			_ = p.bar.Add64(int64(n))
		}
		return
	}
	now := p.now()
	if now.Sub(p.lastPrint) < plainEvery {
		return
	}
	p.lastPrint = now
	line := fmt.Sprintf("%s %d %s (%.0f/s", p.verb, p.items, p.unit, rate(p.items, now.Sub(p.start)))
	if p.total > 0 {
		line += fmt.Sprintf(", %.0f%%", 100*float64(p.bytes)/float64(p.total))
	}
	_, _ = fmt.Fprintln(p.w, line+")")
}

// AddBytes counts n more bytes of input; it drives the bar when the total
// size is known.
func (p *TextProgress) AddBytes(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.bytes += n
	if p.bar != nil && p.total > 0 {
		_ = p.bar.Add64(n)
	}
}

// Done prints the summary line; later calls do nothing.
func (p *TextProgress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	p.done = true
	if p.bar != nil {
		if p.total > 0 {
			_ = p.bar.Exit() // keeps the bar where it stopped, even short of 100%
		} else {
			_ = p.bar.Finish() // also stops the spinner's goroutine
		}
		_, _ = fmt.Fprintln(p.w)
	}
	elapsed := p.now().Sub(p.start)
	_, _ = fmt.Fprintf(p.w, "done: %s %d %s in %s (%.0f/s)\n", p.verb, p.items, p.unit,
		elapsed.Round(time.Millisecond), rate(p.items, elapsed))
}

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// syncWriter serialises writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}
