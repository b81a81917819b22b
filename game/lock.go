package game

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// LockFile is the name of the lock file LockDir keeps in the data folder. It is empty or
// holds the process id of the holder; it is never removed, since removing a lock file
// that another process has just opened would let two processes hold "the" lock.
const LockFile = ".lock"

// ErrDirLocked matches (with errors.Is) the error LockDir returns when another process,
// or another LockDir in this process, holds the folder.
var ErrDirLocked = errors.New("data folder is locked")

// lockedError names the folder and, when known, the holder.
type lockedError struct {
	dir string
	pid string
}

func (e *lockedError) Error() string {
	holder := ""
	if e.pid != "" {
		holder = " (pid " + e.pid + ")"
	}
	return fmt.Sprintf("another clickthebutton process is using the data folder %s%s; stop it first, or give this one another --data folder", e.dir, holder)
}

func (e *lockedError) Is(target error) bool { return target == ErrDirLocked }

// LockDir takes an exclusive, non-blocking lock on dir/.lock, creating that file when
// needed (dir must exist). While it is held no other process, and no other LockDir
// call in this process, can lock the same folder: the second one fails at once with an
// error that names the folder and matches ErrDirLocked. The operating system drops the
// lock when the process ends in any way, kill -9 included, so there is never a stale
// lock to clean up. unlock releases it; calling unlock again does nothing. Keep unlock
// reachable (defer it) for as long as the lock is needed: it holds the open file, and a
// file the garbage collector finalises is closed, which drops the lock.
//
// On Linux, macOS and the BSDs this is flock(2), on Windows LockFileEx. Both are
// advisory between cooperating processes and local file systems; flock over NFS may
// not exclude a process on another machine.
//
// A symbolic link in place of the lock file is refused: the file is truncated and
// written, and a link planted there would have that done to whatever it points at.
func LockDir(dir string) (unlock func() error, err error) {
	path := filepath.Join(dir, LockFile)
	// Where the system has no O_NOFOLLOW (Windows), this look is the only guard.
	if isSymlink(path) {
		return nil, symlinkError(dir, path)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|openNoFollow, 0o600)
	if err != nil {
		if isSymlink(path) {
			// O_NOFOLLOW refused a link that appeared since the look; its errno differs
			// between systems (ELOOP, EMLINK, EFTYPE), so the look says what it was.
			return nil, symlinkError(dir, path)
		}
		return nil, fmt.Errorf("lock data folder %s: %w", dir, err)
	}
	busy, err := lockFile(f)
	if err != nil {
		f.Close()
		if busy {
			return nil, &lockedError{dir: dir, pid: readPID(path)}
		}
		return nil, fmt.Errorf("lock data folder %s: %w", dir, err)
	}
	// The holder's pid, for the message another process shows. Best effort: the lock
	// is the flock, not the contents.
	if f.Truncate(0) == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	var once sync.Once
	return func() error {
		err := error(nil)
		once.Do(func() {
			err = unlockFile(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		})
		return err
	}, nil
}

// isSymlink reports whether path is a symbolic link (not following it).
func isSymlink(path string) bool {
	fi, err := os.Lstat(path)
	return err == nil && fi.Mode()&fs.ModeSymlink != 0
}

func symlinkError(dir, path string) error {
	return fmt.Errorf("lock data folder %s: %s is a symbolic link, and the lock file is never followed out of the folder; remove the link and start again", dir, path)
}

// readPID returns the pid a holder wrote into the lock file, or "" when it cannot be
// read (Windows keeps a locked range unreadable to others).
func readPID(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(b))
	if n, err := strconv.Atoi(s); err != nil || n <= 0 {
		return ""
	}
	return s
}
