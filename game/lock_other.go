//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || windows)

package game

import "os"

// On the remaining systems (Plan 9, Solaris and illumos, AIX, WebAssembly) there is no
// lock: LockDir succeeds and a second process is not refused. An exclusive-create file
// would refuse too much instead, since a kill -9 would leave it behind.
// openNoFollow is 0 here, where not every system has the flag; LockDir looks before
// it opens.
const openNoFollow = 0

func lockFile(*os.File) (busy bool, err error) { return false, nil }

func unlockFile(*os.File) error { return nil }
