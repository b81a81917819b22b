package game

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/internal/testutil"
)

// quoteHandles rewrites a snapshot so that every handle is a quoted CSV field, which
// encoding/csv reads back to the same handle.
func quoteHandles(data []byte) []byte {
	lines := strings.SplitAfter(string(data), "\n")
	for i := 1; i < len(lines); i++ {
		f := strings.SplitN(lines[i], ",", 3)
		if len(f) == 3 {
			lines[i] = f[0] + `,"` + f[1] + `",` + f[2]
		}
	}
	return []byte(strings.Join(lines, ""))
}

// TestTruncatedSnapshotEveryCut cuts a real snapshot (once plain, once with every
// handle quoted) at every byte. Either the cut falls on a row boundary, so the file
// holds exactly the complete rows before it and loads them, or loading fails with the
// file's name and the number of the line that was cut.
func TestTruncatedSnapshotEveryCut(t *testing.T) {
	src := sampleEngine(t)
	now := at(time.Minute)
	want := map[string]Record{}
	for _, r := range records(src, now) {
		want[r.ID.String()] = r
	}
	plain := snapshot(t, src, now)
	const name = "/srv/ctb/scores.csv"
	for _, tc := range []struct {
		kind string
		data []byte
	}{{"plain", plain}, {"quoted", quoteHandles(plain)}} {
		t.Run(tc.kind, func(t *testing.T) {
			full := newEngine(t, nil)
			if _, err := readSnapshot(bytes.NewReader(tc.data), name, full); err != nil {
				t.Fatal(err)
			}
			if !equalRecords(records(full, now), records(src, now)) {
				t.Fatal("the uncut file does not load to the game it was written from")
			}
			loaded, refused := 0, 0
			for k := 0; k < len(tc.data); k++ {
				cut := tc.data[:k]
				line := bytes.Count(cut, []byte("\n")) + 1 // the line the cut falls in
				// Only a cut right after a newline leaves a file the writer could have
				// written; anything else is refused, since the writer ends every row
				// with a newline.
				atRowEnd := k > 0 && cut[k-1] == '\n'
				e := newEngine(t, nil)
				n, err := readSnapshot(bytes.NewReader(cut), name, e)
				if atRowEnd {
					if err != nil {
						t.Fatalf("cut at %d (a row boundary) refused: %v", k, err)
					}
					rows := strings.Split(strings.TrimSuffix(string(cut), "\n"), "\n")[1:]
					if n != len(rows) {
						t.Fatalf("cut at %d: loaded %d players, the cut file holds %d rows", k, n, len(rows))
					}
					var exp []Record
					for _, row := range rows {
						exp = append(exp, want[row[:36]])
					}
					slices.SortFunc(exp, func(a, b Record) int { return bytes.Compare(a.ID[:], b.ID[:]) })
					if !equalRecords(records(e, now), exp) {
						t.Fatalf("cut at %d: loaded records differ from the complete rows", k)
					}
					loaded++
					continue
				}
				if err == nil {
					t.Fatalf("cut at %d (line %d) loaded %d players:\n%q", k, line, n, cut)
				}
				msg := err.Error()
				m := lineRef.FindStringSubmatch(msg)
				if !strings.HasPrefix(msg, name+": ") || m == nil || m[1] != strconv.Itoa(line) {
					t.Fatalf("cut at %d: error %q does not name %s and line %d", k, msg, name, line)
				}
				refused++
			}
			t.Logf("%s: %d cuts, %d refused naming the cut line, %d on row boundaries loaded the complete rows", tc.kind, len(tc.data), refused, loaded)
		})
	}
}

// TestTruncatedScoresFileLeftUntouched: the two truncations an interrupted copy leaves
// most often, in a real file: LoadSnapshot refuses them naming the file and the line,
// and the file keeps its bytes and its modification time.
func TestTruncatedScoresFileLeftUntouched(t *testing.T) {
	id1, id2 := idN(1).String(), idN(2).String()
	full := header + "\n" +
		id1 + `,"alice",3,5,9,2030-06-01T12:00:00Z,2030-06-01T11:00:00Z` + "\n" +
		id2 + `,"bob the builder",1,2,2,2030-06-01T12:00:01Z,2030-06-01T12:00:01Z` + "\n"
	for _, tc := range []struct {
		name string
		data string
		line int
		want string
	}{
		{"cut in a quoted field", full[:strings.Index(full, "the builder")], 3, `extraneous or missing " in quoted-field`},
		{"cut mid-row", full[:strings.Index(full, ",2,2,")], 3, "wrong number of fields"},
		{"cut in the last time", full[:len(full)-5], 3, "best_at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), SnapshotFile)
			if err := os.WriteFile(path, []byte(tc.data), 0o600); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-time.Hour).Truncate(time.Second)
			os.Chtimes(path, old, old)
			_, err := LoadSnapshot(path, newEngine(t, nil))
			if err == nil {
				t.Fatalf("a truncated file loaded:\n%s", tc.data)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, path+": ") || !strings.Contains(msg, fmt.Sprintf("line %d", tc.line)) || !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q does not name %s, line %d and %q", msg, path, tc.line, tc.want)
			}
			got, _ := os.ReadFile(path)
			fi, _ := os.Stat(path)
			if string(got) != tc.data || !fi.ModTime().Equal(old) {
				t.Fatal("the truncated file was changed")
			}
		})
	}
}

func (f *fakeFS) setFail(step string) {
	f.mu.Lock()
	f.fail = step
	f.mu.Unlock()
}

func (f *fakeFS) temps() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// waitFor polls cond every millisecond for at most d.
func waitFor(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestSnapshotterRunLogsAndRetries drives Run itself, on its ticker, with each step of
// the write failing: every failed tick logs one error line naming the file and the
// failure, the previous file stays as it was, and the first tick after the failure
// clears writes the new snapshot without anything else changing in the game.
func TestSnapshotterRunLogsAndRetries(t *testing.T) {
	const path = "/data/scores.csv"
	const msg = "snapshot failed; the previous file is intact and the write is retried"
	for _, step := range []string{"create", "write", "sync", "close", "rename", "syncdir"} {
		t.Run(step, func(t *testing.T) {
			e := sampleEngine(t)
			fsys := newFakeFS()
			now := at(time.Minute)
			var logs testutil.SyncBuffer
			s := &Snapshotter{Path: path, Interval: 2 * time.Millisecond, Source: frozen(e, now), FS: fsys,
				Log: slog.New(slog.NewTextHandler(&logs, nil))}
			if wrote, err := s.Flush(context.Background()); !wrote || err != nil {
				t.Fatalf("first Flush = %v, %v", wrote, err)
			}
			prev, _ := fsys.file(path)
			mustClick(t, e, join(t, e, "newcomer"), now)
			next := snapshot(t, e, now)

			fsys.setFail(step)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); s.Run(ctx) }()
			defer func() { cancel(); <-done }()

			// Two failed ticks: the write is retried on every tick while it fails.
			if !waitFor(10*time.Second, func() bool { return strings.Count(logs.String(), msg) >= 2 }) {
				t.Fatalf("no two failure lines in 10s; log:\n%s", logs.String())
			}
			first, _, _ := strings.Cut(logs.String(), "\n")
			for _, want := range []string{"level=ERROR", `msg="` + msg + `"`, "path=" + path, "injected failure", step + ":"} {
				if !strings.Contains(first, want) {
					t.Errorf("log line %q lacks %q", first, want)
				}
			}
			got, _ := fsys.file(path)
			if step != "syncdir" && !bytes.Equal(got, prev) {
				t.Fatalf("a failed %s changed the previous file", step)
			}
			fsys.setFail("")
			if !waitFor(10*time.Second, func() bool { b, _ := fsys.file(path); return bytes.Equal(b, next) }) {
				t.Fatal("Run did not write the snapshot once the failure cleared")
			}
			// Once written, nothing changed: no more writes and no more log lines.
			time.Sleep(20 * time.Millisecond)
			lines, temps := strings.Count(logs.String(), "\n"), fsys.temps()
			time.Sleep(30 * time.Millisecond)
			if l := strings.Count(logs.String(), "\n"); l != lines || fsys.temps() != temps {
				t.Fatalf("after the retry succeeded: %d more log lines, %d more writes", l-lines, fsys.temps()-temps)
			}
			cancel()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return after its context ended")
			}
			// Every failed tick removed its temp file.
			if names := fsys.names(); !slices.Equal(names, []string{path}) {
				t.Fatalf("temp files left by failed ticks: %v", names)
			}
		})
	}
}

// faultyFS is the real file system with injected errors, to check what is left on a
// real disk when a write fails (a disk that fills up, an I/O error, a rename across
// devices, a folder that became read-only).
type faultyFS struct {
	OSFS
	mu         sync.Mutex
	create     error
	writeAfter int // bytes a temp file takes before writes fail with ENOSPC; -1: never
	sync       error
	rename     error
}

type faultyFile struct {
	*os.File
	fs      *faultyFS
	written int
}

func (f *faultyFS) CreateTemp(dir, pattern string) (File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.create != nil {
		return nil, &fs.PathError{Op: "open", Path: filepath.Join(dir, pattern), Err: f.create}
	}
	file, err := f.OSFS.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return &faultyFile{File: file.(*os.File), fs: f}, nil
}

func (f *faultyFS) Rename(oldpath, newpath string) error {
	f.mu.Lock()
	err := f.rename
	f.mu.Unlock()
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return f.OSFS.Rename(oldpath, newpath)
}

func (w *faultyFile) Write(p []byte) (int, error) {
	w.fs.mu.Lock()
	limit := w.fs.writeAfter
	w.fs.mu.Unlock()
	if limit >= 0 && w.written+len(p) > limit {
		n, _ := w.File.Write(p[:max(0, limit-w.written)])
		w.written += n
		return n, &fs.PathError{Op: "write", Path: w.Name(), Err: syscall.ENOSPC}
	}
	n, err := w.File.Write(p)
	w.written += n
	return n, err
}

func (w *faultyFile) Sync() error {
	w.fs.mu.Lock()
	err := w.fs.sync
	w.fs.mu.Unlock()
	if err != nil {
		return &fs.PathError{Op: "sync", Path: w.Name(), Err: err}
	}
	return w.File.Sync()
}

func TestSnapshotterRealDiskFaults(t *testing.T) {
	now := at(time.Minute)
	cases := []struct {
		name string
		set  func(*faultyFS)
		want error
	}{
		{"disk full at once", func(f *faultyFS) { f.writeAfter = 0 }, syscall.ENOSPC},
		{"disk full mid-file", func(f *faultyFS) { f.writeAfter = 200 }, syscall.ENOSPC},
		{"I/O error on fsync", func(f *faultyFS) { f.sync = syscall.EIO }, syscall.EIO},
		{"rename across devices", func(f *faultyFS) { f.rename = syscall.EXDEV }, syscall.EXDEV},
		{"read-only folder", func(f *faultyFS) { f.create = syscall.EROFS }, syscall.EROFS},
		{"permission denied", func(f *faultyFS) { f.create = syscall.EACCES }, fs.ErrPermission},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, SnapshotFile)
			e := sampleEngine(t)
			fsys := &faultyFS{writeAfter: -1}
			s := &Snapshotter{Path: path, Source: clocked{e, func() time.Time { return now }}, FS: fsys}
			if _, err := s.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			prev, _ := os.ReadFile(path)
			mustClick(t, e, join(t, e, "newcomer"), now)
			next := snapshot(t, e, now)

			fsys.mu.Lock()
			tc.set(fsys)
			fsys.mu.Unlock()
			if wrote, err := s.Flush(context.Background()); wrote || !errors.Is(err, tc.want) {
				t.Fatalf("Flush = %v, %v; want the %v", wrote, err, tc.want)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, prev) {
				t.Fatal("the previous file changed")
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Fatalf("folder holds %d entries after the failure, want only %s", len(entries), SnapshotFile)
			}
			loaded := newEngine(t, nil)
			if n, err := LoadSnapshot(path, loaded); err != nil || n != 10 {
				t.Fatalf("the previous file does not load: %d, %v", n, err)
			}

			*fsys = faultyFS{writeAfter: -1}
			if wrote, err := s.Flush(context.Background()); !wrote || err != nil {
				t.Fatalf("Flush after the fault cleared = %v, %v", wrote, err)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, next) {
				t.Fatal("the retry did not write the new snapshot")
			}
		})
	}
}

// TestSnapshotterReadOnlyFolder makes the folder really read-only. Root ignores the
// permission bits (CAP_DAC_OVERRIDE), so as root this is skipped and the read-only
// case of TestSnapshotterRealDiskFaults, through the FS seam, stands in for it.
func TestSnapshotterReadOnlyFolder(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows ignores a folder's read-only bit for new files")
	}
	if os.Geteuid() == 0 {
		t.Skip("running as root: chmod cannot make a folder read-only for root; see TestSnapshotterRealDiskFaults/read-only_folder")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, SnapshotFile)
	e := sampleEngine(t)
	s := &Snapshotter{Path: path, Source: e}
	if _, err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	prev, _ := os.ReadFile(path)
	mustClick(t, e, join(t, e, "newcomer"), at(time.Minute))
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	if wrote, err := s.Flush(context.Background()); wrote || !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("Flush into a read-only folder = %v, %v", wrote, err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, prev) {
		t.Fatal("the previous file changed")
	}
	os.Chmod(dir, 0o700)
	if wrote, err := s.Flush(context.Background()); !wrote || err != nil {
		t.Fatalf("Flush once writable again = %v, %v", wrote, err)
	}
}

// TestSnapshotTimeOutOfRange: a last_click or best_at that int64 Unix nanoseconds cannot
// hold (2300-01-01 would come back as 1715-06-13), or the epoch itself (which the
// engine reads as "never"), is refused with the line named instead of loading changed.
func TestSnapshotTimeOutOfRange(t *testing.T) {
	for _, ts := range []string{"2300-01-01T00:00:00Z", "1600-01-01T00:00:00Z", "1970-01-01T00:00:00Z"} {
		data := header + "\n" + idN(1).String() + ",a,1,1,1," + ts + ",\n"
		if _, err := readSnapshot(strings.NewReader(data), "x.csv", newEngine(t, nil)); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("last_click %s: %v, want a refusal naming line 2", ts, err)
		}
	}
}

// TestSnapshotLimits: a file whose last row lost its newline (and so maybe trailing
// fields) and numbers beyond what the page can show exactly are refused, naming the line.
func TestSnapshotLimits(t *testing.T) {
	cases := map[string]string{
		"no final newline": header + "\n" + idN(1).String() + ",a,1,1,1,2026-01-02T03:04:05Z,",
		"score too large":  header + "\n" + idN(1).String() + ",a,9007199254740992,9007199254740992,9007199254740992,,\n",
	}
	for name, data := range cases {
		if _, err := readSnapshot(strings.NewReader(data), "x.csv", newEngine(t, nil)); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("%s: %v, want a refusal naming line 2", name, err)
		}
	}
}
