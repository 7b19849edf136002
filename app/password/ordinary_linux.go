package password

import "syscall"

// lowerThreadPriority sets the calling OS thread's niceness (on Linux,
// setpriority with a thread id reaches that thread only). Raising one's
// own niceness needs no privilege; a failure leaves the normal priority.
func lowerThreadPriority(nice int) {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
}
