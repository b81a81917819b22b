package game

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The snapshot benchmarks go through the server's own code on a real disk: the file is
// written by Snapshotter (temporary file, fsync, rename, folder fsync) into a temporary
// folder of the test, and loaded by LoadSnapshot from there. Each reports, beside its
// own time, the physical floor measured in the same iterations: the same number of
// bytes written (through WriteFileAtomic, so with the same fsyncs and rename) or read
// without any formatting, and the ratio of the two.

// writeFloor writes data to path as the snapshot writer would, without formatting.
func writeFloor(path string, data []byte) error {
	return WriteFileAtomic(nil, path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// readFloor reads the file at path through buf and returns its size.
func readFloor(path string, buf []byte) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	for {
		m, err := f.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// BenchmarkSnapshotWrite1M writes the scores file of a million players exactly as the
// server does; floor-ms/op writes the same bytes, already formatted, the same way.
func BenchmarkSnapshotWrite1M(b *testing.B) {
	g, err := newBenchGame()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	s := &Snapshotter{Path: filepath.Join(dir, SnapshotFile), Source: g.e}
	ctx := context.Background()
	size, err := s.write(ctx)
	if err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(s.Path)
	if err != nil || int64(len(data)) != size {
		b.Fatalf("read back %d of %d bytes: %v", len(data), size, err)
	}
	floorPath := filepath.Join(dir, "floor.bin")
	var floor, cpu time.Duration
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		c := processCPU()
		if n, err := s.write(ctx); err != nil || n != size {
			b.Fatalf("wrote %d bytes, want %d: %v", n, size, err)
		}
		b.StopTimer()
		cpu += processCPU() - c
		start := time.Now()
		if err := writeFloor(floorPath, data); err != nil {
			b.Fatal(err)
		}
		floor += time.Since(start)
		b.StartTimer()
	}
	reportFloor(b, floor, cpu)
}

// benchSource is the records of a bench game, made up as they are read: it writes the
// file a bench game would without holding a million players in the heap. The rows come
// in a random order, as the engine's store gives them, not in the order of their
// times.
type benchSource struct{ base time.Time }

func (benchSource) Version(context.Context) (int64, error) { return 1, nil }

func (s benchSource) Records(_ context.Context, fn func(Record) error) error {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, i := range rng.Perm(benchPlayers) {
		var id uuid.UUID
		for j := 0; j < 16; j += 8 {
			v := rng.Uint64()
			for k := 0; k < 8; k++ {
				id[j+k] = byte(v >> (8 * k))
			}
		}
		id[6] = id[6]&0x0f | 0x40
		id[8] = id[8]&0x3f | 0x80
		if err := fn(benchRecord(id, i, s.base)); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkSnapshotLoad1M loads a scores file of a million players from disk into an
// empty game and builds the board, as the server does at start; floor-ms/op reads the
// same file without parsing. Both read it from the page cache (the file was just
// written), as a restart soon after a snapshot does. The heap holds nothing else, as
// at a start, and each iteration starts after a forced GC, so the garbage of the last
// one is not charged to it.
func BenchmarkSnapshotLoad1M(b *testing.B) {
	path := filepath.Join(b.TempDir(), SnapshotFile)
	size, err := (&Snapshotter{Path: path, Source: benchSource{t0}}).write(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	var floor, cpu time.Duration
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		start := time.Now()
		if n, err := readFloor(path, buf); err != nil || n != size {
			b.Fatalf("read %d bytes, want %d: %v", n, size, err)
		}
		floor += time.Since(start)
		e, err := New(DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		c := processCPU()
		b.StartTimer()
		n, err := LoadSnapshot(path, e)
		b.StopTimer()
		cpu += processCPU() - c
		if err != nil || n != benchPlayers {
			b.Fatalf("LoadSnapshot = %d, %v", n, err)
		}
		b.StartTimer()
	}
	reportFloor(b, floor, cpu)
}

// reportFloor adds the floor's time per iteration, the benchmark's ratio to it, and the
// CPU time the process used per iteration (all cores, the GC's included), which says
// how much of the time was work when the machine is shared.
func reportFloor(b *testing.B, floor, cpu time.Duration) {
	perOp := float64(b.Elapsed()) / float64(b.N)
	f := float64(floor) / float64(b.N)
	b.ReportMetric(f/1e6, "floor-ms/op")
	b.ReportMetric(perOp/f, "x-floor")
	b.ReportMetric(float64(cpu)/float64(b.N)/1e6, "cpu-ms/op")
}
