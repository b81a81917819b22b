//go:build !linux

package game

// lowerThreadPriority is a no-op where a thread's priority cannot be set alone.
func lowerThreadPriority() {}
