//go:build !linux

package main

import "os/exec"

// dieWithParent does nothing outside Linux: a harness killed with SIGKILL
// leaves its server running there.
func dieWithParent(cmd *exec.Cmd) {}
