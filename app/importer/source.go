package importer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// lineMark locates a line: its number, where it starts and ends in the
// input, and the SHA-256 of its content.
type lineMark struct {
	line, start, offset int64
	sum                 [32]byte
}

// source reads the lines of an import, resuming after a checkpoint.
type source struct {
	r         io.Reader
	lr        *lineReader
	resumedAt int64  // lines skipped thanks to the checkpoint
	firstLine string // hex SHA-256 of line 1, once read
	// pending is line 1 when it was read to check the checkpoint and must
	// still be imported.
	pending *pendingLine
}

type pendingLine struct {
	line    []byte
	size    int
	tooLong bool
	mark    lineMark
}

// next returns the next line and where it is; io.EOF at the end.
func (s *source) next() (line []byte, mark lineMark, size int, tooLong bool, err error) {
	if p := s.pending; p != nil {
		s.pending = nil
		return p.line, p.mark, p.size, p.tooLong, nil
	}
	start := s.lr.offset
	line, size, tooLong, err = s.lr.next()
	if err != nil {
		return nil, lineMark{}, 0, false, err
	}
	mark = lineMark{line: s.lr.lineNo, start: start, offset: s.lr.offset, sum: sha256.Sum256(line)}
	if mark.line == 1 {
		s.firstLine = hex.EncodeToString(mark.sum[:])
	}
	return line, mark, size, tooLong, nil
}

// openSource prepares r for reading after cp. The checkpoint is honoured
// only if line 1 and line cp.Line of r are the ones it recorded. When r can
// seek, the committed lines are not read again; otherwise they are read and
// skipped.
func openSource(r io.Reader, cp checkpoint, log *slog.Logger) (*source, error) {
	s := &source{r: r, lr: newLineReader(r)}
	if cp.Line == 0 {
		return s, nil
	}
	// A pipe is an *os.File too, but cannot seek: test it before reading.
	seeker, seekable := r.(io.Seeker)
	var base int64
	if seekable {
		var err error
		base, err = seeker.Seek(0, io.SeekCurrent)
		seekable = err == nil
	}
	line, mark, size, tooLong, err := s.next()
	if errors.Is(err, io.EOF) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("importer: read line 1: %w", err)
	}
	if s.firstLine != cp.FirstLine {
		log.Warn("import checkpoint is for another input; importing from the start")
		s.pending = &pendingLine{line: append([]byte(nil), line...), size: size, tooLong: tooLong, mark: mark}
		return s, nil
	}
	want, _ := hex.DecodeString(cp.LastLine)
	if seekable {
		if _, err := seeker.Seek(base+cp.LastStart, io.SeekStart); err != nil {
			return nil, fmt.Errorf("importer: seek to checkpoint: %w", err)
		}
		s.lr = newLineReader(r)
		s.lr.lineNo, s.lr.offset = cp.Line-1, cp.LastStart
		_, m, _, _, err := s.next()
		if err == nil && string(m.sum[:]) == string(want) && m.offset == cp.Offset {
			s.resumedAt = cp.Line
			return s, nil
		}
		log.Warn("import checkpoint does not match the input; importing from the start")
		if _, err := seeker.Seek(base, io.SeekStart); err != nil {
			return nil, fmt.Errorf("importer: seek to start: %w", err)
		}
		s.lr = newLineReader(r)
		return s, nil
	}
	for m := mark; ; {
		if m.line == cp.Line {
			if string(m.sum[:]) != string(want) || m.offset != cp.Offset {
				break
			}
			s.resumedAt = cp.Line
			return s, nil
		}
		if _, m, _, _, err = s.next(); err != nil {
			break
		}
	}
	return nil, fmt.Errorf("importer: the checkpoint does not match the input at line %d; remove it to import from the start", cp.Line)
}

// produce parses the lines of src into batches of at most batchSize
// records and sends them on out, which it closes at the end of the input,
// on a read error (sent as a batch with err) or when ctx ends. Several
// lines for one user may share a batch: the store applies them in order.
func produce(ctx context.Context, src *source, p *LineParser, batchSize int, out chan<- batch) {
	defer close(out)
	var b batch
	send := func() bool {
		b.firstLine = src.firstLine
		select {
		case out <- b:
		case <-ctx.Done():
			return false
		}
		b = batch{records: make([]Record, 0, batchSize)}
		return true
	}
	b.records = make([]Record, 0, batchSize)
	for ctx.Err() == nil {
		line, mark, size, tooLong, err := src.next()
		if errors.Is(err, io.EOF) {
			if b.lines > 0 {
				send()
			}
			return
		}
		if err != nil {
			select {
			case out <- batch{err: err}:
			case <-ctx.Done():
			}
			return
		}
		switch {
		case tooLong:
			b.rejected = append(b.rejected, Rejection{Line: mark.line, Error: errLineTooLong.Error()})
		case isBlank(line):
			// Blank lines hold no user; they are counted as lines only.
		default:
			rec, err := p.Parse(line, mark.line)
			if err != nil {
				b.rejected = append(b.rejected, Rejection{Line: mark.line, Error: err.Error()})
				break
			}
			b.records = append(b.records, rec)
		}
		b.lines++
		b.bytes += int64(size)
		b.end = mark
		if len(b.records) >= batchSize || len(b.rejected) >= batchSize {
			if !send() {
				return
			}
		}
	}
}
