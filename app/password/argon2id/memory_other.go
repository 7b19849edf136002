//go:build !linux

package argon2id

// newRegion returns n zeroed blocks from the Go heap.
func newRegion(n uint32) *region {
	return &region{blocks: make([]block, n)}
}
