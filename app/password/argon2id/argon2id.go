// Copyright 2017 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

// Package argon2id derives Argon2id tags (RFC 9106, version 0x13) in working
// memory that the caller keeps from one derivation to the next.
//
// It is golang.org/x/crypto/argon2 (v0.58.0, BSD licence: see LICENSE; the
// BlaMka assembly in blamka_amd64.s is that package's, unchanged) cut down to
// Argon2id, with one change of substance. argon2.IDKey allocates and zeroes
// its whole memory cost, 64 MiB at Gatehouse's defaults, on every call. A
// server that hashes passwords all day lets the Go runtime hand that memory
// back to the kernel between logins and then faults it in again, a page at a
// time, for the next one: on the machines we measure on, that made every
// login's hash about 8 % slower than the same hash in a loop. A Memory is
// allocated once and written over. Its first pass sets every block instead of
// XORing into zeroed memory, which is what RFC 9106 specifies for version
// 0x13 (x/crypto gets the same values by XORing into fresh zeroes), so the
// tags are x/crypto's: the tests check RFC 9106's test vector, and x/crypto
// against a Memory left dirty by other derivations.
package argon2id

import (
	"encoding/binary"
	"runtime"
	"sync"

	"golang.org/x/crypto/blake2b"
)

// Version is the Argon2 version implemented, 0x13 (RFC 9106).
const Version = 0x13

// modeArgon2id is Argon2id's type number in the initial hash.
const modeArgon2id = 2

const (
	blockLength = 128 // 64-bit words in a 1 KiB block
	syncPoints  = 4   // slices per pass
)

type block [blockLength]uint64

// Memory is the working memory of Argon2id derivations, kept between them.
// The zero Memory is empty and grows to the size the first derivation
// needs; it shrinks only when freed. A Memory is not safe for concurrent
// use, nor to copy: give each worker its own. Between derivations it holds
// the previous one's blocks, as freed heap memory would after argon2.IDKey.
// Call Free when done with it.
type Memory struct {
	r *region
}

// region is working memory: blocks that may live outside the Go heap (see
// newRegion). Code using blocks must keep the region alive until it is done
// with them.
type region struct {
	blocks []block
	// free, when set, returns the blocks to the system at once; they must
	// not be used after.
	free func()
}

// Free returns m's memory now rather than when m is garbage collected (its
// memory is outside the Go heap and does not hasten a collection). m is
// then empty and may be used again.
func (m *Memory) Free() {
	if m.r != nil && m.r.free != nil {
		m.r.free()
	}
	m.r = nil
}

// KiB reports how much working memory m holds, in KiB (blocks).
func (m *Memory) KiB() uint32 {
	if m.r == nil {
		return 0
	}
	return uint32(len(m.r.blocks))
}

// Key derives a keyLen-byte Argon2id tag of password with salt, time passes
// over memoryKiB KiB and threads lanes, in m's memory (growing it when it is
// too small). It returns what argon2.IDKey returns for the same arguments,
// and panics like it when time or threads is below 1.
func (m *Memory) Key(password, salt []byte, time, memoryKiB uint32, threads uint8, keyLen uint32) []byte {
	return m.derive(password, salt, nil, nil, time, memoryKiB, threads, keyLen)
}

// Key derives like Memory.Key in memory of its own, which it frees before
// returning: the equivalent of argon2.IDKey, for one-off derivations.
func Key(password, salt []byte, time, memoryKiB uint32, threads uint8, keyLen uint32) []byte {
	var m Memory
	defer m.Free()
	return m.Key(password, salt, time, memoryKiB, threads, keyLen)
}

// derive is Argon2id with RFC 9106's optional secret and associated data,
// which only the test vector uses.
func (m *Memory) derive(password, salt, secret, data []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	if time < 1 {
		panic("argon2id: number of rounds too small")
	}
	if threads < 1 {
		panic("argon2id: parallelism degree too low")
	}
	h0 := initHash(password, salt, secret, data, time, memory, uint32(threads), keyLen)

	memory = memory / (syncPoints * uint32(threads)) * (syncPoints * uint32(threads))
	if memory < 2*syncPoints*uint32(threads) {
		memory = 2 * syncPoints * uint32(threads)
	}
	if m.KiB() < memory {
		m.Free()
		m.r = newRegion(memory)
	}
	r := m.r
	B := r.blocks[:memory]
	initBlocks(B, &h0, memory, uint32(threads))
	processBlocks(B, time, memory, uint32(threads))
	tag := extractKey(B, memory, uint32(threads), keyLen)
	runtime.KeepAlive(r) // B may be r's mapping, unmapped once r is gone
	return tag
}

// initHash is H0 of RFC 9106 section 3.2, with room for the block and lane
// numbers of the first blocks.
func initHash(password, salt, key, data []byte, time, memory, threads, keyLen uint32) [blake2b.Size + 8]byte {
	var (
		h0     [blake2b.Size + 8]byte
		params [24]byte
		tmp    [4]byte
	)

	b2, _ := blake2b.New512(nil)
	binary.LittleEndian.PutUint32(params[0:4], threads)
	binary.LittleEndian.PutUint32(params[4:8], keyLen)
	binary.LittleEndian.PutUint32(params[8:12], memory)
	binary.LittleEndian.PutUint32(params[12:16], time)
	binary.LittleEndian.PutUint32(params[16:20], uint32(Version))
	binary.LittleEndian.PutUint32(params[20:24], uint32(modeArgon2id))
	b2.Write(params[:])
	for _, field := range [][]byte{password, salt, key, data} {
		binary.LittleEndian.PutUint32(tmp[:], uint32(len(field)))
		b2.Write(tmp[:])
		b2.Write(field)
	}
	b2.Sum(h0[:0])
	return h0
}

// initBlocks sets the first two blocks of every lane from h0.
func initBlocks(B []block, h0 *[blake2b.Size + 8]byte, memory, threads uint32) {
	var block0 [1024]byte
	for lane := uint32(0); lane < threads; lane++ {
		j := lane * (memory / threads)
		binary.LittleEndian.PutUint32(h0[blake2b.Size+4:], lane)
		for k := uint32(0); k < 2; k++ {
			binary.LittleEndian.PutUint32(h0[blake2b.Size:], k)
			blake2bHash(block0[:], h0[:])
			for i := range B[j+k] {
				B[j+k][i] = binary.LittleEndian.Uint64(block0[i*8:])
			}
		}
	}
}

// processBlocks fills memory: time passes of syncPoints slices, the lanes of
// a slice in parallel. The first pass sets each block, so whatever B held
// before does not matter; later passes XOR into the previous pass's blocks.
func processBlocks(B []block, time, memory, threads uint32) {
	lanes := memory / threads
	segments := lanes / syncPoints

	processSegment := func(n, slice, lane uint32) {
		var addresses, in, zero block
		dataIndependent := n == 0 && slice < syncPoints/2
		if dataIndependent {
			in[0] = uint64(n)
			in[1] = uint64(lane)
			in[2] = uint64(slice)
			in[3] = uint64(memory)
			in[4] = uint64(time)
			in[5] = uint64(modeArgon2id)
		}

		index := uint32(0)
		if n == 0 && slice == 0 {
			index = 2 // the first two blocks come from initBlocks
			in[6]++
			processBlock(&addresses, &in, &zero)
			processBlock(&addresses, &addresses, &zero)
		}

		offset := lane*lanes + slice*segments + index
		var random uint64
		for index < segments {
			prev := offset - 1
			if index == 0 && slice == 0 {
				prev += lanes // last block in lane
			}
			if dataIndependent {
				if index%blockLength == 0 {
					in[6]++
					processBlock(&addresses, &in, &zero)
					processBlock(&addresses, &addresses, &zero)
				}
				random = addresses[index%blockLength]
			} else {
				random = B[prev][0]
			}
			newOffset := indexAlpha(random, lanes, segments, threads, n, slice, lane, index)
			if n == 0 {
				processBlock(&B[offset], &B[prev], &B[newOffset])
			} else {
				processBlockXOR(&B[offset], &B[prev], &B[newOffset])
			}
			index, offset = index+1, offset+1
		}
	}

	for n := uint32(0); n < time; n++ {
		for slice := uint32(0); slice < syncPoints; slice++ {
			if threads == 1 {
				processSegment(n, slice, 0)
				continue
			}
			var wg sync.WaitGroup
			for lane := uint32(0); lane < threads; lane++ {
				wg.Go(func() { processSegment(n, slice, lane) })
			}
			wg.Wait()
		}
	}
}

// extractKey XORs the lanes' last blocks and hashes them into the tag.
func extractKey(B []block, memory, threads, keyLen uint32) []byte {
	lanes := memory / threads
	for lane := uint32(0); lane < threads-1; lane++ {
		for i, v := range B[(lane*lanes)+lanes-1] {
			B[memory-1][i] ^= v
		}
	}

	var block [1024]byte
	for i, v := range B[memory-1] {
		binary.LittleEndian.PutUint64(block[i*8:], v)
	}
	key := make([]byte, keyLen)
	blake2bHash(key, block[:])
	return key
}

// indexAlpha maps a pseudo-random word to the reference block (RFC 9106
// section 3.4.1.2).
func indexAlpha(rand uint64, lanes, segments, threads, n, slice, lane, index uint32) uint32 {
	refLane := uint32(rand>>32) % threads
	if n == 0 && slice == 0 {
		refLane = lane
	}
	m, s := 3*segments, ((slice+1)%syncPoints)*segments
	if lane == refLane {
		m += index
	}
	if n == 0 {
		m, s = slice*segments, 0
		if slice == 0 || lane == refLane {
			m += index
		}
	}
	if index == 0 || lane == refLane {
		m--
	}
	return phi(rand, uint64(m), uint64(s), refLane, lanes)
}

// phi picks the block within the reference set.
func phi(rand, m, s uint64, lane, lanes uint32) uint32 {
	p := rand & 0xFFFFFFFF
	p = (p * p) >> 32
	p = (p * m) >> 32
	return lane*lanes + uint32((s+m-(p+1))%uint64(lanes))
}
