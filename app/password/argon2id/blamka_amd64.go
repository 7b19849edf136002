// Copyright 2017 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build amd64 && gc && !purego

package argon2id

import "golang.org/x/sys/cpu"

// useSSE4 selects the SSE implementation of the BlaMka rounds in
// blamka_amd64.s; tests turn it off to check the generic one.
var useSSE4 = cpu.X86.HasSSE41

//go:noescape
func mixBlocksSSE2(out, a, b, c *block)

//go:noescape
func xorBlocksSSE2(out, a, b, c *block)

//go:noescape
func blamkaSSE4(b *block)

func processBlockSSE(out, in1, in2 *block, xor bool) {
	if !useSSE4 {
		processBlockGeneric(out, in1, in2, xor)
		return
	}
	var t block
	mixBlocksSSE2(&t, in1, in2, &t)
	blamkaSSE4(&t)
	if xor {
		xorBlocksSSE2(out, in1, in2, &t)
	} else {
		mixBlocksSSE2(out, in1, in2, &t)
	}
}

// processBlock sets out to the compression G(in1, in2) (first pass).
func processBlock(out, in1, in2 *block) {
	processBlockSSE(out, in1, in2, false)
}

// processBlockXOR XORs G(in1, in2) into out (later passes).
func processBlockXOR(out, in1, in2 *block) {
	processBlockSSE(out, in1, in2, true)
}
