package game

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// niceSource is a parted source of empty parts that notes the nice value of the thread
// each part is formatted on.
type niceSource struct {
	mu    sync.Mutex
	nices []int
}

func (*niceSource) Version(context.Context) (int64, error)            { return 1, nil }
func (*niceSource) Records(context.Context, func(Record) error) error { return nil }

func (s *niceSource) recordParts(context.Context) (int, func(int, func(Record) error) error) {
	return 8, func(int, func(Record) error) error {
		nice, err := threadNice(unix.Gettid())
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.nices = append(s.nices, nice)
		s.mu.Unlock()
		return nil
	}
}

// threadNice reads a thread's nice value from /proc, field 19 of its stat line.
func threadNice(tid int) (int, error) {
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	return strconv.Atoi(fields[16])
}

// TestSnapshotFormatsAtLowPriority: a periodic snapshot formats on threads of nice 19,
// and when it is done no thread of the process is left at that priority; an export
// (WriteSnapshot) formats at the priority the process has.
func TestSnapshotFormatsAtLowPriority(t *testing.T) {
	base, err := threadNice(unix.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	if base == 19 {
		t.Fatal("the test runs at nice 19 already: it cannot tell a lowered thread")
	}
	src := &niceSource{}
	s := &Snapshotter{Path: t.TempDir() + "/" + SnapshotFile, Source: src, Workers: 2}
	if _, err := s.write(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(src.nices) != 8 {
		t.Fatalf("formatted %d parts, want 8", len(src.nices))
	}
	for i, n := range src.nices {
		if n != 19 {
			t.Errorf("part %d of a periodic snapshot formatted at nice %d, want 19", i, n)
		}
	}
	// A formatter's thread ends just after its goroutine did, which the write does not
	// wait for; no other goroutine runs on it meanwhile (it is locked). The one thread
	// the Go runtime cannot end is the process's first: a formatter that ran there
	// leaves it parked for good, running nothing, so it is not counted.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		left := lowThreads(t)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("threads %v are left at nice 19 after the snapshot", left)
		}
	}

	src.nices = nil
	if err := WriteSnapshot(context.Background(), &bytes.Buffer{}, src); err != nil {
		t.Fatal(err)
	}
	for i, n := range src.nices {
		if n != base {
			t.Errorf("part %d of an export formatted at nice %d, want the process's %d", i, n, base)
		}
	}
}

// lowThreads returns the process's threads at nice 19 but its first.
func lowThreads(t *testing.T) []int {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var low []int
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		if n, err := threadNice(tid); err == nil && n == 19 && tid != os.Getpid() {
			low = append(low, tid)
		}
	}
	return low
}
