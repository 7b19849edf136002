package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent asks Linux to send the server SIGTERM if the harness dies
// without stopping it (e.g. killed with SIGKILL).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
