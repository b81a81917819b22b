package game

import "golang.org/x/sys/unix"

// lowerThreadPriority gives the calling thread nice 19, the lowest CPU priority; Linux
// keeps a nice value per thread. Call it on a thread locked to its goroutine.
func lowerThreadPriority() {
	// Only a hint: on failure the thread formats at normal priority, as before.
	_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 19)
}
