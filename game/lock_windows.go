//go:build windows

package game

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// openNoFollow is 0: Windows has no such flag, and LockDir looks before it opens.
const openNoFollow = 0

// lockFile takes an exclusive LockFileEx lock on the first byte of f without waiting.
// busy is true when someone else holds it. Windows locks belong to the handle, so a
// second open of the same file conflicts even within one process.
func lockFile(f *os.File) (busy bool, err error) {
	ol := new(windows.Overlapped)
	err = windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_SHARING_VIOLATION) {
		return true, err
	}
	return false, err
}

func unlockFile(f *os.File) error {
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, new(windows.Overlapped))
}
