package password

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed" // for the common-password list
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// commonPasswordsGz is the common-password list, one lower-case password a
// line, most common first; blocklist/README.md says where it comes from.
//
//go:embed blocklist/common-passwords.txt.gz
var commonPasswordsGz []byte

// Blocklist is a set of passwords to refuse, matched case-insensitively. It
// keeps its entries sorted in one string with an offset table, which for the
// shipped list of about 49,000 passwords takes about 0.6 MB, a fraction of a
// map's footprint. It is immutable and safe for concurrent use.
type Blocklist struct {
	data    string   // the sorted, distinct, lower-cased entries, concatenated
	offsets []uint32 // entry i is data[offsets[i]:offsets[i+1]]
}

// NewBlocklist builds a blocklist of entries (lower-cased; duplicates and
// empty entries are dropped). Use it for context-specific words, such as
// the service's name, that NIST SP 800-63B also asks to refuse.
func NewBlocklist(entries []string) *Blocklist {
	lowered := make([]string, 0, len(entries))
	for _, entry := range entries {
		if entry != "" {
			lowered = append(lowered, strings.ToLower(entry))
		}
	}
	slices.Sort(lowered)
	lowered = slices.Compact(lowered)

	var data strings.Builder
	offsets := make([]uint32, 0, len(lowered)+1)
	for _, entry := range lowered {
		offsets = append(offsets, uint32(data.Len()))
		data.WriteString(entry)
	}
	offsets = append(offsets, uint32(data.Len()))
	return &Blocklist{data: data.String(), offsets: offsets}
}

// CommonPasswords returns the blocklist shipped in the binary: the 49,233
// most common passwords of zxcvbn-ts's common list. Call it once at startup
// and share the result: it decompresses the list each time.
func CommonPasswords() (*Blocklist, error) {
	zr, err := gzip.NewReader(bytes.NewReader(commonPasswordsGz))
	if err != nil {
		return nil, fmt.Errorf("password: common passwords: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("password: common passwords: %w", err)
	}
	entries := make([]string, 0, bytes.Count(raw, []byte{'\n'})+1)
	lines := bufio.NewScanner(bytes.NewReader(raw))
	for lines.Scan() {
		entries = append(entries, lines.Text())
	}
	if err := lines.Err(); err != nil {
		return nil, fmt.Errorf("password: common passwords: %w", err)
	}
	return NewBlocklist(entries), nil
}

// Len is the number of distinct entries (0 for a nil Blocklist).
func (b *Blocklist) Len() int {
	if b == nil {
		return 0
	}
	return len(b.offsets) - 1
}

// Contains reports whether password, lower-cased, is on the list, by binary
// search: O(log n), about 16 comparisons for the shipped list.
func (b *Blocklist) Contains(password string) bool {
	if b == nil {
		return false
	}
	key := strings.ToLower(password)
	n := b.Len()
	i := sort.Search(n, func(i int) bool { return b.entry(i) >= key })
	return i < n && b.entry(i) == key
}

// entry returns entry i.
func (b *Blocklist) entry(i int) string {
	return b.data[b.offsets[i]:b.offsets[i+1]]
}
