package token

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small, strict JSON reader and writer for the flat objects
// a JWT header and claims set are. It exists for speed (no reflection, few
// allocations) and for strictness that encoding/json does not give:
// duplicate names of a member we act on are refused, names match exactly
// (encoding/json folds case), strings must be valid UTF-8 with no lone
// surrogates, and dates must be integers.

// maxJSONDepth bounds the nesting of values we skip over.
const maxJSONDepth = 32

// maxNumericDate is 9999-12-31T23:59:59Z, the largest date we accept.
const maxNumericDate = 253402300799

var (
	errJSONSyntax = errors.New("malformed JSON")
	errJSONDepth  = errors.New("JSON nested too deeply")
	errJSONString = errors.New("JSON string is not valid UTF-8")
	errJSONType   = errors.New("JSON member has the wrong type")
	errJSONDate   = errors.New("date is not a non-negative integer NumericDate")
)

// jsonReader reads one JSON text from data.
//
// It reads a string so that strings without escapes are returned as
// substrings of the input, without an allocation each.
type jsonReader struct {
	data string
	pos  int
}

func (r *jsonReader) skipSpace() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte without consuming it, 0 at the end.
func (r *jsonReader) peek() byte {
	r.skipSpace()
	if r.pos < len(r.data) {
		return r.data[r.pos]
	}
	return 0
}

// consume reads the byte c after optional space.
func (r *jsonReader) consume(c byte) bool {
	if r.peek() == c {
		r.pos++
		return true
	}
	return false
}

// objectIter walks the members of one object. After next reports a
// member, the caller must read its value.
type objectIter struct {
	r       *jsonReader
	started bool
}

// openObject reads the '{' that starts an object.
func (r *jsonReader) openObject() (objectIter, error) {
	if !r.consume('{') {
		return objectIter{}, errJSONType
	}
	return objectIter{r: r}, nil
}

// next reads the name of the next member and its ':'; ok is false at the
// closing '}'. Trailing commas and missing separators are refused.
func (it *objectIter) next() (name string, ok bool, err error) {
	r := it.r
	if !it.started {
		it.started = true
		if r.consume('}') {
			return "", false, nil
		}
	} else if !r.consume(',') {
		if r.consume('}') {
			return "", false, nil
		}
		return "", false, errJSONSyntax
	}
	if name, err = r.name(); err != nil {
		return "", false, err
	}
	if !r.consume(':') {
		return "", false, errJSONSyntax
	}
	return name, true, nil
}

// name reads a member name.
func (r *jsonReader) name() (string, error) {
	if r.peek() != '"' {
		return "", errJSONSyntax
	}
	return r.string()
}

// end checks that nothing but space follows the value just read.
func (r *jsonReader) end() error {
	r.skipSpace()
	if r.pos != len(r.data) {
		return errJSONSyntax
	}
	return nil
}

// string reads a JSON string value.
func (r *jsonReader) string() (string, error) {
	if r.peek() != '"' {
		return "", errJSONType
	}
	start := r.pos + 1
	// Fast path: no escapes, all ASCII.
	for i := start; i < len(r.data); i++ {
		c := r.data[i]
		if c == '"' {
			r.pos = i + 1
			return r.data[start:i], nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
	}
	var buf [64]byte
	b, err := r.stringBytes(buf[:0])
	return string(b), err
}

// stringBytes reads a JSON string and appends its decoded bytes to dst.
func (r *jsonReader) stringBytes(dst []byte) ([]byte, error) {
	if r.peek() != '"' {
		return nil, errJSONType
	}
	r.pos++
	for r.pos < len(r.data) {
		c := r.data[r.pos]
		switch {
		case c == '"':
			r.pos++
			return dst, nil
		case c < 0x20:
			return nil, errJSONSyntax
		case c == '\\':
			var err error
			if dst, err = r.escape(dst); err != nil {
				return nil, err
			}
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			r.pos++
		default:
			ru, size := utf8.DecodeRuneInString(r.data[r.pos:])
			if ru == utf8.RuneError && size <= 1 {
				return nil, errJSONString
			}
			dst = append(dst, r.data[r.pos:r.pos+size]...)
			r.pos += size
		}
	}
	return nil, errJSONSyntax
}

// escape decodes the escape sequence at r.pos (which holds the backslash).
func (r *jsonReader) escape(dst []byte) ([]byte, error) {
	if r.pos+1 >= len(r.data) {
		return nil, errJSONSyntax
	}
	c := r.data[r.pos+1]
	r.pos += 2
	switch c {
	case '"', '\\', '/':
		return append(dst, c), nil
	case 'b':
		return append(dst, '\b'), nil
	case 'f':
		return append(dst, '\f'), nil
	case 'n':
		return append(dst, '\n'), nil
	case 'r':
		return append(dst, '\r'), nil
	case 't':
		return append(dst, '\t'), nil
	case 'u':
	default:
		return nil, errJSONSyntax
	}
	ru, ok := r.hex4()
	if !ok {
		return nil, errJSONSyntax
	}
	if utf16.IsSurrogate(ru) {
		if r.pos+1 >= len(r.data) || r.data[r.pos] != '\\' || r.data[r.pos+1] != 'u' {
			return nil, errJSONString
		}
		r.pos += 2
		lo, ok := r.hex4()
		if !ok {
			return nil, errJSONSyntax
		}
		ru = utf16.DecodeRune(ru, lo)
		if ru == utf8.RuneError {
			return nil, errJSONString
		}
	}
	return utf8.AppendRune(dst, ru), nil
}

// hex4 reads four hex digits.
func (r *jsonReader) hex4() (rune, bool) {
	if r.pos+4 > len(r.data) {
		return 0, false
	}
	var v rune
	for _, c := range r.data[r.pos : r.pos+4] {
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			v = v<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			v = v<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	r.pos += 4
	return v, true
}

// stringArray reads an array of strings.
func (r *jsonReader) stringArray() ([]string, error) {
	if r.peek() != '[' {
		return nil, errJSONType
	}
	r.pos++
	out := []string{}
	if r.consume(']') {
		return out, nil
	}
	for {
		s, err := r.string()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
		if r.consume(',') {
			continue
		}
		if r.consume(']') {
			return out, nil
		}
		return nil, errJSONSyntax
	}
}

// numericDate reads a NumericDate as whole seconds. Gatehouse writes integer
// dates; fractions, exponents, negative and absurd values are refused.
func (r *jsonReader) numericDate() (int64, error) {
	c := r.peek()
	if c < '0' || c > '9' {
		return 0, errJSONDate
	}
	start := r.pos
	for r.pos < len(r.data) && r.data[r.pos] >= '0' && r.data[r.pos] <= '9' {
		r.pos++
		if r.pos-start > 12 {
			return 0, errJSONDate
		}
	}
	digits := r.data[start:r.pos]
	if len(digits) > 1 && digits[0] == '0' {
		return 0, errJSONSyntax
	}
	if r.pos < len(r.data) {
		switch r.data[r.pos] {
		case '.', 'e', 'E':
			return 0, errJSONDate
		}
	}
	var v int64
	for _, d := range digits {
		v = v*10 + int64(d-'0')
	}
	if v > maxNumericDate {
		return 0, errJSONDate
	}
	return v, nil
}

// skip reads and discards any JSON value.
func (r *jsonReader) skip(depth int) error {
	if depth > maxJSONDepth {
		return errJSONDepth
	}
	switch c := r.peek(); {
	case c == '"':
		_, err := r.stringBytes(nil)
		return err
	case c == '{':
		it, err := r.openObject()
		for err == nil {
			var ok bool
			if _, ok, err = it.next(); !ok || err != nil {
				break
			}
			err = r.skip(depth + 1)
		}
		return err
	case c == '[':
		r.pos++
		if r.consume(']') {
			return nil
		}
		for {
			if err := r.skip(depth + 1); err != nil {
				return err
			}
			if r.consume(',') {
				continue
			}
			if r.consume(']') {
				return nil
			}
			return errJSONSyntax
		}
	case c == 't':
		return r.literal("true")
	case c == 'f':
		return r.literal("false")
	case c == 'n':
		return r.literal("null")
	case c == '-' || ('0' <= c && c <= '9'):
		return r.number()
	default:
		return errJSONSyntax
	}
}

func (r *jsonReader) literal(word string) error {
	if len(r.data)-r.pos < len(word) || r.data[r.pos:r.pos+len(word)] != word {
		return errJSONSyntax
	}
	r.pos += len(word)
	return nil
}

// number reads a number per the JSON grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (r *jsonReader) number() error {
	if r.pos < len(r.data) && r.data[r.pos] == '-' {
		r.pos++
	}
	if r.pos >= len(r.data) {
		return errJSONSyntax
	}
	if r.data[r.pos] == '0' {
		r.pos++
	} else if !r.digits() {
		return errJSONSyntax
	}
	if r.pos < len(r.data) && r.data[r.pos] == '.' {
		r.pos++
		if !r.digits() {
			return errJSONSyntax
		}
	}
	if r.pos < len(r.data) && (r.data[r.pos] == 'e' || r.data[r.pos] == 'E') {
		r.pos++
		if r.pos < len(r.data) && (r.data[r.pos] == '+' || r.data[r.pos] == '-') {
			r.pos++
		}
		if !r.digits() {
			return errJSONSyntax
		}
	}
	return nil
}

// digits reads one or more decimal digits.
func (r *jsonReader) digits() bool {
	start := r.pos
	for r.pos < len(r.data) && r.data[r.pos] >= '0' && r.data[r.pos] <= '9' {
		r.pos++
	}
	return r.pos > start
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 is an error so
// that what we sign is what the reader will see.
func appendJSONString(dst []byte, s string) ([]byte, error) {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				const hex = "0123456789abcdef"
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		ru, size := utf8.DecodeRuneInString(s[i:])
		if ru == utf8.RuneError && size == 1 {
			return nil, errJSONString
		}
		if ru == '\u2028' || ru == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, byte('8'+ru-'\u2028'))
			start = i + size
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), nil
}

// appendJSONName appends `,"name":`, without the comma for the first
// member (when dst ends in '{').
func appendJSONName(dst []byte, name string) []byte {
	if dst[len(dst)-1] != '{' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, name...)
	return append(dst, '"', ':')
}

// appendJSONInt appends an integer.
func appendJSONInt(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }
