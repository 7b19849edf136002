//go:build linux

package argon2id

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on amd64 and on arm64 with
// 4 KiB base pages.
const hugePage = 2 << 20

// newRegion returns n zeroed blocks in an anonymous mapping of their own,
// outside the Go heap, aligned to and advised for transparent huge pages
// (MADV_HUGEPAGE: in the kernel's default "madvise" mode only mappings that
// ask get them). Argon2id reads its reference blocks at random across the
// whole memory. In 4 KiB pages nearly every such read misses the TLB and
// walks the page tables, and how long the walk takes depends on what else
// has been through the caches: hashing inside a busy server ran slower than
// the same hashing in a quiet loop. In 2 MiB pages the 64 MiB of the
// default parameters take 32 TLB entries. The mapping is released by
// region.free, or failing that once the region is unreachable (the Go heap
// does not count it, so that may be long after); where it cannot be made,
// the blocks come from the Go heap.
func newRegion(n uint32) *region {
	r := new(region)
	size := int(n) * int(unsafe.Sizeof(block{}))
	mapping, err := unix.Mmap(-1, 0, size+hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		r.blocks = make([]block, n)
		return r
	}
	skip := int((hugePage - uintptr(unsafe.Pointer(&mapping[0]))%hugePage) % hugePage)
	aligned := mapping[skip : skip+size]
	_ = unix.Madvise(aligned, unix.MADV_HUGEPAGE) // only advice: without it, small pages
	r.blocks = unsafe.Slice((*block)(unsafe.Pointer(&aligned[0])), n)
	cleanup := runtime.AddCleanup(r, unmap, mapping)
	r.free = func() {
		cleanup.Stop()
		unmap(mapping)
	}
	return r
}

// unmap returns a mapping to the kernel.
func unmap(mapping []byte) {
	_ = unix.Munmap(mapping) // fails only for a mapping that is not one
}
