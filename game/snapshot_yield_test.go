package game

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
)

// yieldSource is one part of rows records; it notes after how many rows a goroutine
// started before the write had run.
type yieldSource struct {
	rows  int
	ran   *atomic.Bool
	after int // rows formatted when ran was first seen; -1: never
}

func (*yieldSource) Version(context.Context) (int64, error)            { return 1, nil }
func (*yieldSource) Records(context.Context, func(Record) error) error { return nil }

func (s *yieldSource) recordParts(context.Context) (int, func(int, func(Record) error) error) {
	return 1, func(_ int, fn func(Record) error) error {
		s.after = -1
		r := Record{ID: uuid.New(), Handle: "a", Score: 1, Best: 1, Total: 1}
		for i := range s.rows {
			if s.after < 0 && s.ran.Load() {
				s.after = i
			}
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	}
}

// TestSnapshotGivesWay: with one P, a goroutine that became runnable when a periodic
// snapshot began runs within the snapshot's first few hundred rows, not after the part
// (tens of thousands of rows): the formatter hands its P over as it goes.
func TestSnapshotGivesWay(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var ran atomic.Bool
	src := &yieldSource{rows: 50_000, ran: &ran}
	s := &Snapshotter{Path: t.TempDir() + "/" + SnapshotFile, Source: src}
	go ran.Store(true)
	if _, err := s.write(context.Background()); err != nil {
		t.Fatal(err)
	}
	if src.after < 0 || src.after > 600 {
		t.Fatalf("a waiting goroutine ran after %d of %d rows (-1: not before the part ended), want within 600", src.after, src.rows)
	}
}
