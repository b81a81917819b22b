package game

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func checkLockedErr(t *testing.T, err error, dir string) {
	t.Helper()
	if err == nil {
		t.Fatal("a second lock of the same folder succeeded")
	}
	if !errors.Is(err, ErrDirLocked) {
		t.Errorf("error %v does not match ErrDirLocked", err)
	}
	if msg := err.Error(); !strings.Contains(msg, dir) || !strings.Contains(msg, "another clickthebutton process is using the data folder") {
		t.Errorf("error %q does not name the folder or say another process uses it", msg)
	}
}

// TestLockDirSameProcess: flock locks belong to the open file description, so a second
// open and lock in the same process conflicts, just as another process would.
func TestLockDirSameProcess(t *testing.T) {
	dir := t.TempDir()
	unlock, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, LockFile)); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("lock file holds %q, %v; want this pid", b, err)
	}
	for range 3 {
		u2, err := LockDir(dir)
		checkLockedErr(t, err, dir)
		if u2 != nil {
			t.Fatal("a failed lock returned an unlock function")
		}
		if !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
			t.Errorf("error %q does not give the holder's pid", err)
		}
	}
	// Another folder is another lock.
	other := t.TempDir()
	u3, err := LockDir(other)
	if err != nil {
		t.Fatalf("locking a second folder: %v", err)
	}
	if err := u3(); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatalf("second unlock: %v", err)
	}
	// Released: it can be taken again, and the lock file stays.
	unlock, err = LockDir(dir)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(dir, LockFile)); err != nil {
		t.Fatal(err)
	}
}

func TestLockDirErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := LockDir(missing); err == nil || errors.Is(err, ErrDirLocked) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("locking a missing folder: %v", err)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("LockDir created the folder")
	}
	// A lock file someone else wrote junk into still locks; the junk is not shown.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, LockFile), []byte("not a pid"), 0o600)
	unlock, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := LockDir(dir); err == nil || strings.Contains(err.Error(), "not a pid") {
		t.Fatalf("second lock: %v", err)
	}
}

// TestLockDirHelperProcess is not a test: TestLockDirOtherProcess runs the test binary
// with it to hold a lock in another process until its stdin closes.
func TestLockDirHelperProcess(t *testing.T) {
	dir := os.Getenv("CTB_LOCK_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process only")
	}
	unlock, err := LockDir(dir)
	if err != nil {
		os.Stdout.WriteString("error: " + err.Error() + "\n")
		os.Exit(3)
	}
	defer unlock()
	os.Stdout.WriteString("locked\n")
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
	}
}

// TestLockDirOtherProcess: a lock held by another process refuses this one, names
// its pid, and is released by the operating system when that process is killed.
func TestLockDirOtherProcess(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockDirHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CTB_LOCK_HELPER_DIR="+dir)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() }()
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
		io.Copy(io.Discard, stdout)
	}()
	select {
	case s := <-line:
		if s != "locked\n" {
			t.Fatalf("helper said %q", s)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("helper did not lock in 20s")
	}
	_, err := LockDir(dir)
	checkLockedErr(t, err, dir)
	if !strings.Contains(err.Error(), "pid "+strconv.Itoa(cmd.Process.Pid)) {
		t.Errorf("error %q does not give the helper's pid %d", err, cmd.Process.Pid)
	}
	// kill -9: no unlock runs, the kernel drops the lock.
	cmd.Process.Kill()
	cmd.Wait()
	unlock, err := LockDir(dir)
	if err != nil {
		t.Fatalf("lock after the holder was killed: %v", err)
	}
	unlock()
}

// TestLockDirRefusesSymlink: a symbolic link in place of .lock is refused with an error
// that says so, and whatever it points at is neither written nor created.
func TestLockDirRefusesSymlink(t *testing.T) {
	cases := []struct {
		name   string
		exists bool // the link's target exists
	}{
		{"link to a file", true},
		{"dangling link", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, elsewhere := t.TempDir(), t.TempDir()
			target := filepath.Join(elsewhere, "precious")
			if c.exists {
				if err := os.WriteFile(target, []byte("keep me\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			link := filepath.Join(dir, LockFile)
			if err := os.Symlink(target, link); err != nil {
				t.Skipf("cannot make a symbolic link here: %v", err)
			}
			unlock, err := LockDir(dir)
			if err == nil {
				unlock()
				t.Fatal("LockDir took a lock through a symbolic link")
			}
			if errors.Is(err, ErrDirLocked) || !strings.Contains(err.Error(), link) || !strings.Contains(err.Error(), "is a symbolic link") {
				t.Fatalf("error %q does not say that %s is a symbolic link", err, link)
			}
			b, rerr := os.ReadFile(target)
			switch {
			case c.exists && (rerr != nil || string(b) != "keep me\n"):
				t.Fatalf("the link's target now holds %q (%v)", b, rerr)
			case !c.exists && rerr == nil:
				t.Fatalf("LockDir created the link's target, holding %q", b)
			}
		})
	}
}
