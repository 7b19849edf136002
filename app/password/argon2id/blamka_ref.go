// Copyright 2017 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build !amd64 || purego || !gc

package argon2id

// useSSE4 is always false off amd64; tests set it like on amd64.
var useSSE4 = false

// processBlock sets out to the compression G(in1, in2) (first pass).
func processBlock(out, in1, in2 *block) {
	processBlockGeneric(out, in1, in2, false)
}

// processBlockXOR XORs G(in1, in2) into out (later passes).
func processBlockXOR(out, in1, in2 *block) {
	processBlockGeneric(out, in1, in2, true)
}
