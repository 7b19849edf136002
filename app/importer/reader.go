package importer

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// errLineTooLong is the reason given for a line over MaxLineBytes.
var errLineTooLong = errors.New("line is longer than 65536 bytes")

// lineReader splits its input into lines with a fixed buffer, so memory
// stays constant whatever the file or line length. A line over
// MaxLineBytes is skipped to its newline and reported as too long.
type lineReader struct {
	br     *bufio.Reader
	lineNo int64 // number of the last line returned
	offset int64 // bytes consumed, up to the end of the last line returned
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, MaxLineBytes+2)}
}

// next returns the next line without its "\n" or "\r\n", its number, and its
// length in bytes with the newline. The line is valid until the next call.
// A line that is too long is returned as nil with tooLong set. At the end
// of the input it returns io.EOF.
func (lr *lineReader) next() (line []byte, size int, tooLong bool, err error) {
	line, err = lr.br.ReadSlice('\n')
	size = len(line)
	if errors.Is(err, bufio.ErrBufferFull) {
		tooLong = true
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = lr.br.ReadSlice('\n')
			size += len(line)
		}
		line = nil
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, false, err
	}
	if size == 0 && errors.Is(err, io.EOF) {
		return nil, 0, false, io.EOF
	}
	lr.lineNo++
	lr.offset += int64(size)
	if tooLong {
		return nil, size, true, nil
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if lr.lineNo == 1 {
		line = bytes.TrimPrefix(line, []byte("\ufeff")) // a UTF-8 byte-order mark
	}
	if len(line) > MaxLineBytes {
		return nil, size, true, nil
	}
	return line, size, false, nil
}

// isBlank reports whether a line holds only spaces and tabs.
func isBlank(line []byte) bool {
	return len(bytes.Trim(line, " \t")) == 0
}
