//go:build !linux

package password

// lowerThreadPriority is a no-op where threads' priorities are not set.
func lowerThreadPriority(int) {}
