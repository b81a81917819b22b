//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package game

import (
	"errors"
	"os"
	"syscall"
)

// openNoFollow makes the open of the lock file fail on a symbolic link.
const openNoFollow = syscall.O_NOFOLLOW

// lockFile takes flock(LOCK_EX|LOCK_NB) on f. busy is true when someone else holds it.
// flock locks belong to the open file description, so a second open of the same file
// conflicts even within one process.
func lockFile(f *os.File) (busy bool, err error) {
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EAGAIN) {
		return true, err
	}
	return false, err
}

func unlockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
