package game

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing bytes [off, off+n) of f to disk now,
// without waiting: the final fsync then finds most of a large file written already,
// and the disk works while the rest is still being formatted.
func startWriteback(f File, off, n int64) {
	if of, ok := f.(*os.File); ok {
		// Only a hint: on failure the final fsync does all the work, as without it.
		_ = unix.SyncFileRange(int(of.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
	}
}
