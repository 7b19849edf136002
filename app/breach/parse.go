package breach

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"strconv"
)

// maxCountDigits bounds a count's length; the most common password has a
// count of eight digits.
const maxCountDigits = 12

// entry is one line of a range: the 35 upper-case hex characters after the
// prefix and the number of times that hash was seen.
type entry struct {
	suffix [suffixLen]byte
	count  int
}

// rangeSet is the non-padding entries of one prefix's range.
type rangeSet []entry

// parseRange parses a range response or file strictly: lines are
// SUFFIX:COUNT, where SUFFIX is 35 hex characters (either case) and COUNT
// is decimal digits, ended by LF or CRLF; a final blank line is allowed,
// other blank lines are not. Entries with count 0 are the padding that
// Add-Padding asks for and are dropped.
func parseRange(body []byte) (rangeSet, error) {
	if len(body) > maxRangeBytes {
		return nil, fmt.Errorf("breach: range of %d bytes is over the %d-byte limit", len(body), maxRangeBytes)
	}
	set := make(rangeSet, 0, len(body)/(suffixLen+4))
	for n := 1; len(body) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			line, body = body, nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 {
			if len(body) == 0 {
				break
			}
			return nil, fmt.Errorf("breach: range line %d is blank", n)
		}
		e, ok := parseLine(line)
		if !ok {
			return nil, fmt.Errorf("breach: range line %d is malformed", n)
		}
		if e.count > 0 {
			set = append(set, e)
		}
	}
	return set, nil
}

// parseLine parses SUFFIX:COUNT.
func parseLine(line []byte) (entry, bool) {
	var e entry
	if len(line) < suffixLen+2 || line[suffixLen] != ':' {
		return e, false
	}
	for i, c := range line[:suffixLen] {
		c = upperHex(c)
		if (c < '0' || c > '9') && (c < 'A' || c > 'F') {
			return e, false
		}
		e.suffix[i] = c
	}
	digits := line[suffixLen+1:]
	if len(digits) > maxCountDigits {
		return e, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return e, false
		}
	}
	n, err := strconv.Atoi(string(digits))
	if err != nil {
		return e, false
	}
	e.count = n
	return e, true
}

// count returns the count of suffix, 0 when absent. It looks at every entry
// whatever it finds, so its time does not depend on where the match is.
func (s rangeSet) count(suffix [suffixLen]byte) int {
	found := 0
	for i := range s {
		eq := subtle.ConstantTimeCompare(s[i].suffix[:], suffix[:])
		found = subtle.ConstantTimeSelect(eq, s[i].count, found)
	}
	return found
}

// encode writes the set in the form parseRange reads, LF-ended, which is
// what the cache stores: padding already dropped.
func (s rangeSet) encode() []byte {
	out := make([]byte, 0, len(s)*(suffixLen+8))
	for _, e := range s {
		out = append(out, e.suffix[:]...)
		out = append(out, ':')
		out = strconv.AppendInt(out, int64(e.count), 10)
		out = append(out, '\n')
	}
	return out
}
