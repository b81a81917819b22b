package game

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

const header = "id,handle,score,best,total,last_click,best_at"

// clocked is an engine as a snapshot Source whose records are taken at the time now
// gives, so tests choose when the idle reset applies.
type clocked struct {
	e   *Engine
	now func() time.Time
}

func (c clocked) Version(context.Context) (int64, error) { return c.e.version(), nil }
func (c clocked) Records(_ context.Context, fn func(Record) error) error {
	return c.e.records(c.now(), fn)
}

func (c clocked) recordParts(context.Context) (int, func(int, func(Record) error) error) {
	return c.e.partsAt(c.now())
}

// frozen is e as a Source whose records are taken at now.
func frozen(e *Engine, now time.Time) clocked {
	return clocked{e, func() time.Time { return now }}
}

// writeSnapshot is WriteSnapshot of e's players at now.
func writeSnapshot(w io.Writer, e *Engine, now time.Time) error {
	return WriteSnapshot(context.Background(), w, frozen(e, now))
}

// readSnapshot loads r into e as LoadSnapshot does a file.
func readSnapshot(r io.Reader, name string, e *Engine) (int, error) {
	n, err := ReadSnapshot(r, name, e.Load)
	if err == nil {
		e.Rebuild()
	}
	return n, err
}

func records(e *Engine, now time.Time) []Record {
	var rs []Record
	e.records(now, func(r Record) error { rs = append(rs, r); return nil })
	sort.Slice(rs, func(i, j int) bool { return bytes.Compare(rs[i].ID[:], rs[j].ID[:]) < 0 })
	return rs
}

func equalRecords(a, b []Record) bool {
	return slices.EqualFunc(a, b, func(x, y Record) bool {
		return x.ID == y.ID && x.Handle == y.Handle && x.Score == y.Score && x.Best == y.Best &&
			x.Total == y.Total && x.LastClick.Equal(y.LastClick) && x.BestAt.Equal(y.BestAt) &&
			x.LastClick.IsZero() == y.LastClick.IsZero() && x.BestAt.IsZero() == y.BestAt.IsZero()
	})
}

func snapshot(t testing.TB, e *Engine, now time.Time) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := writeSnapshot(&buf, e, now); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sampleEngine builds a game with awkward handles, a tie, an idle player and a player
// who never clicked.
func sampleEngine(t testing.TB) *Engine {
	t.Helper()
	e := newEngine(t, nil)
	// Handles cannot hold commas or quotes (see TestSnapshotRecordQuoting for those).
	handles := []string{"two words", "a.b-c_d", "Zoë", "東京", "e\u0301clair", "plain"}
	for i, h := range handles {
		p := join(t, e, h)
		for j := 0; j <= i; j++ {
			mustClick(t, e, p, at(time.Duration(j)*time.Second+time.Duration(i)*123*time.Nanosecond))
		}
	}
	// A tie on best 7 where the larger id reached it first: only best_at keeps the order.
	first := restore(t, e, idN(900), "first")
	second := restore(t, e, idN(100), "second")
	for j := 0; j < 7; j++ {
		mustClick(t, e, first, at(time.Duration(j)*time.Second))
		mustClick(t, e, second, at(time.Duration(j)*time.Second+time.Nanosecond))
	}
	// Idle: score 3 then reset.
	idle := join(t, e, "idle")
	for j := 0; j < 3; j++ {
		mustClick(t, e, idle, at(-time.Hour+time.Duration(j)*time.Second))
	}
	join(t, e, "never clicked")
	e.tick()
	return e
}

func TestSnapshotRoundTrip(t *testing.T) {
	e := sampleEngine(t)
	now := at(time.Minute)
	data := snapshot(t, e, now)
	if first, _, _ := strings.Cut(string(data), "\n"); first != header {
		t.Fatalf("header %q, want %q", first, header)
	}
	for _, want := range []string{",two words,", ",a.b-c_d,", ",Zoë,", ",東京,", ",\u00e9clair,"} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("snapshot does not contain %s:\n%s", want, data)
		}
	}
	e2 := newEngine(t, nil)
	n, err := readSnapshot(bytes.NewReader(data), "scores.csv", e2)
	if err != nil {
		t.Fatal(err)
	}
	if n != 10 {
		t.Fatalf("read %d players, want 10", n)
	}
	got, want := records(e2, now), records(e, now)
	if !equalRecords(got, want) {
		t.Fatalf("records after the round trip\n%+v\nwant\n%+v", got, want)
	}
	// The idle player was written with score 0.
	for _, r := range got {
		if r.Handle == "idle" && (r.Score != 0 || r.Best != 3 || r.Total != 3) {
			t.Fatalf("idle player %+v", r)
		}
		if r.Handle == "never clicked" && (!r.LastClick.IsZero() || !r.BestAt.IsZero() || r.Best != 0) {
			t.Fatalf("player without clicks %+v", r)
		}
	}
	// The board, tie-break included, survives.
	b1, b2 := e.Board().Rows, e2.Board().Rows
	if !equalRows(b1, b2) || !equalRows(b2, oracle(e2, 100)) {
		t.Fatalf("board after the round trip\n%v\nwant\n%v", b2, b1)
	}
	if b2[0].Handle != "first" || b2[1].Handle != "second" {
		t.Fatalf("tie-break lost: %v", b2[:2])
	}
	if e2.Stats().TotalClicks != e.Stats().TotalClicks || e2.Stats().Players != 10 {
		t.Fatalf("stats %+v, want %+v", e2.Stats(), e.Stats())
	}
	// Writing the loaded game again gives the same rows, byte for byte (their order
	// follows the store's slots; see sortedLines).
	if again := snapshot(t, e2, now); !slices.Equal(sortedLines(again), sortedLines(data)) {
		t.Fatalf("second write differs:\n%s\nfirst:\n%s", again, data)
	}
	// The loaded players keep playing: the idle reset and the scores carry on.
	for _, r := range got {
		p := e2.get(r.ID)
		if r.Handle == "plain" {
			if res := mustClick(t, e2, p, now); res.Score != 7 || res.Best != 7 {
				t.Fatalf("click after load: %+v", res)
			}
		}
	}
}

func TestSnapshotEmptyGame(t *testing.T) {
	e := newEngine(t, nil)
	data := snapshot(t, e, t0)
	if string(data) != header+"\n" {
		t.Fatalf("empty snapshot %q", data)
	}
	e2 := newEngine(t, nil)
	if n, err := readSnapshot(bytes.NewReader(data), "x", e2); n != 0 || err != nil {
		t.Fatalf("ReadSnapshot = %d, %v", n, err)
	}
}

func TestSnapshotSixColumns(t *testing.T) {
	// A file without best_at still loads; ties are then broken by id.
	data := "id,handle,score,best,total,last_click\n" +
		idN(9).String() + ",nine,0,5,9,2030-06-01T12:00:00Z\n" +
		idN(3).String() + ",three,2,5,5,\n"
	e := newEngine(t, nil)
	if n, err := readSnapshot(strings.NewReader(data), "old.csv", e); n != 2 || err != nil {
		t.Fatalf("ReadSnapshot = %d, %v", n, err)
	}
	rows := e.Board().Rows
	if len(rows) != 2 || rows[0].Handle != "three" || rows[1].Handle != "nine" {
		t.Fatalf("rows %v", rows)
	}
}

func TestCSVFieldQuoting(t *testing.T) {
	for _, s := range []string{"plain", "a,b", `say "hi"`, `"`, " lead", "x\ny", "cr\r", "Zoë", "東京", ""} {
		line := string(appendCSVField(nil, s)) + ",end\n"
		rec, err := csv.NewReader(strings.NewReader(line)).Read()
		if err != nil {
			t.Fatalf("%q written as %q: %v", s, line, err)
		}
		if rec[0] != s {
			t.Fatalf("%q written as %q read back as %q", s, line, rec[0])
		}
	}
}

func TestSnapshotRecordQuoting(t *testing.T) {
	// The CSV layer round-trips any text, although the handle rules refuse commas and
	// quotes today: a record written is read back field for field.
	for i, h := range []string{"a,b", `say "hi"`, "Zoë", "東京", " lead", `"`, ",", "a\nb"} {
		r := Record{
			ID: idN(uint64(i + 1)), Handle: h, Score: 1, Best: 2, Total: 3,
			LastClick: time.Unix(0, 1906545600123456789).UTC(), BestAt: time.Unix(0, 1906545600000000001).UTC(),
		}
		line := appendRecord(nil, r, &timeEncoder{})
		cr := csv.NewReader(bytes.NewReader(line))
		rec, err := cr.Read()
		if err != nil {
			t.Fatalf("%q written as %q: %v", h, line, err)
		}
		if len(rec) != len(snapshotColumns) {
			t.Fatalf("%q written as %q: %d fields", h, line, len(rec))
		}
		got, err := parseRecord(rec)
		if err != nil {
			t.Fatalf("%q written as %q: %v", h, line, err)
		}
		if !equalRecords([]Record{got}, []Record{r}) {
			t.Fatalf("record %+v read back as %+v", r, got)
		}
	}
	// But the engine refuses such handles when loading a file.
	data := header + "\n" + string(appendRecord(nil, Record{ID: idN(1), Handle: "a,b", Score: 1, Best: 1, Total: 1}, &timeEncoder{}))
	_, err := readSnapshot(strings.NewReader(data), "f.csv", newEngine(t, nil))
	if err == nil || !strings.Contains(err.Error(), "f.csv: line 2") || !errors.Is(err, ErrInvalidHandle) {
		t.Fatalf("handle with a comma: %v", err)
	}
}

func TestReadSnapshotMalformed(t *testing.T) {
	id1, id2 := idN(1).String(), idN(2).String()
	ok := id1 + ",alice,1,2,3,2030-06-01T12:00:00Z,2030-06-01T11:00:00Z\n"
	row := func(fields ...string) string { return strings.Join(fields, ",") + "\n" }
	tests := []struct {
		name string
		data string
		line int
		want string // also in the message
	}{
		{"empty file", "", 1, "empty"},
		{"bad header", "id,name,score,best,total,last_click,best_at\n" + ok, 1, "header"},
		{"short header", "id,handle,score,best,total\n", 1, "header"},
		{"long header", header + ",extra\n", 1, "header"},
		{"header in other order", "handle,id,score,best,total,last_click,best_at\n", 1, "header"},
		{"too few fields", header + "\n" + ok + row(id2, "bob", "1", "1", "1", ""), 3, "wrong number of fields"},
		{"too many fields", header + "\n" + row(id2, "bob", "1", "1", "1", "", "", ""), 2, "wrong number of fields"},
		{"score not a number", header + "\n" + ok + row(id2, "bob", "x", "1", "1", "", ""), 3, "score"},
		{"best not a number", header + "\n" + row(id2, "bob", "1", "1.5", "1", "", ""), 2, "best"},
		{"total overflows", header + "\n" + row(id2, "bob", "1", "1", "99999999999999999999", "", ""), 2, "total"},
		{"negative score", header + "\n" + ok + ok[:0] + row(id2, "bob", "-1", "1", "1", "", ""), 3, "negative"},
		{"negative total", header + "\n" + row(id2, "bob", "0", "0", "-5", "", ""), 2, "negative"},
		{"score above best", header + "\n" + ok + row(id2, "bob", "3", "2", "5", "", ""), 3, "above best"},
		{"best above total", header + "\n" + row(id2, "bob", "1", "6", "5", "", ""), 2, "above total"},
		{"bad uuid", header + "\n" + row("not-a-uuid", "bob", "1", "1", "1", "", ""), 2, "UUID"},
		{"uuid without dashes", header + "\n" + row(strings.ReplaceAll(id2, "-", ""), "bob", "1", "1", "1", "", ""), 2, "UUID"},
		{"uuid in braces", header + "\n" + row("{"+id2+"}", "bob", "1", "1", "1", "", ""), 2, "UUID"},
		{"empty id", header + "\n" + row("", "bob", "1", "1", "1", "", ""), 2, "UUID"},
		{"duplicate id", header + "\n" + ok + row(id2, "bob", "1", "1", "1", "", "") + ok, 4, "duplicate"},
		{"duplicate id in upper case", header + "\n" + ok + row(strings.ToUpper(id1), "bob", "1", "1", "1", "", ""), 3, "duplicate"},
		{"bad time", header + "\n" + row(id2, "bob", "1", "1", "1", "yesterday", ""), 2, "last_click"},
		{"bad best_at", header + "\n" + ok + row(id2, "bob", "1", "1", "1", "", "2030-13-01T00:00:00Z"), 3, "best_at"},
		{"time without zone", header + "\n" + row(id2, "bob", "1", "1", "1", "2030-06-01T12:00:00", ""), 2, "last_click"},
		{"invalid handle", header + "\n" + ok + row(id2, "a<b", "1", "1", "1", "", ""), 3, "handle"},
		{"empty handle", header + "\n" + row(id2, "", "1", "1", "1", "", ""), 2, "handle"},
		{"handle with leading space", header + "\n" + row(id2, `" bob"`, "1", "1", "1", "", ""), 2, "normal form"},
		{"handle not NFC", header + "\n" + row(id2, "e\u0301", "1", "1", "1", "", ""), 2, "normal form"},
		{"handle with newline", header + "\n" + ok + row(id2, "\"a\nb\"", "1", "1", "1", "", ""), 3, "handle"},
		{"truncated quoted field", header + "\n" + ok + id2 + ",\"bob,1,1,1,,\n", 3, "quote"},
		{"bare quote", header + "\n" + row(id2, `bo"b`, "1", "1", "1", "", ""), 2, "quote"},
		{"invalid UTF-8 handle", header + "\n" + row(id2, "b\xffb", "1", "1", "1", "", ""), 2, "UTF-8"},
	}
	const name = "/var/lib/ctb/scores.csv"
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, nil)
			_, err := readSnapshot(strings.NewReader(tc.data), name, e)
			if err == nil {
				t.Fatalf("no error for\n%s", tc.data)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.HasPrefix(msg, name+": ") {
				t.Errorf("error %q does not start with the file name", msg)
			}
			if !strings.Contains(msg, fmt.Sprintf("line %d", tc.line)) {
				t.Errorf("error %q does not name line %d", msg, tc.line)
			}
			for l := tc.line + 1; l < tc.line+5; l++ {
				if strings.Contains(msg, fmt.Sprintf("line %d", l)) {
					t.Errorf("error %q names line %d, want %d", msg, l, tc.line)
				}
			}
			if !strings.Contains(strings.ToLower(msg), strings.ToLower(tc.want)) {
				t.Errorf("error %q does not mention %q", msg, tc.want)
			}
		})
	}
}

func TestLoadSnapshot(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SnapshotFile)

	e := newEngine(t, nil)
	if n, err := LoadSnapshot(path, e); n != 0 || err != nil {
		t.Fatalf("missing file: %d, %v", n, err)
	}
	if st := e.Stats(); st.Players != 0 || len(e.Board().Rows) != 0 {
		t.Fatalf("missing file is not an empty game: %+v", st)
	}

	src := sampleEngine(t)
	if err := os.WriteFile(path, snapshot(t, src, t0), 0o600); err != nil {
		t.Fatal(err)
	}
	e = newEngine(t, nil)
	if n, err := LoadSnapshot(path, e); n != 10 || err != nil {
		t.Fatalf("LoadSnapshot = %d, %v", n, err)
	}
	if !equalRecords(records(e, t0), records(src, t0)) || !equalRows(e.Board().Rows, src.Board().Rows) {
		t.Fatal("loaded game differs")
	}

	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte(header+"\nnope\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadSnapshot(bad, newEngine(t, nil))
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("error %v does not name %s and line 2", err, bad)
	}

	if _, err := LoadSnapshot(dir, newEngine(t, nil)); err == nil {
		t.Fatal("loading a folder succeeded")
	}
}

// fakeFS is an in-memory FS that can be told to fail one step.
type fakeFS struct {
	mu     sync.Mutex
	files  map[string][]byte
	fail   string // "create", "write", "sync", "close", "rename" or "syncdir"
	n      int
	closes int
}

type fakeFile struct {
	fs     *fakeFS
	name   string
	closed bool
}

var errInjected = errors.New("injected failure")

func newFakeFS() *fakeFS { return &fakeFS{files: map[string][]byte{}} }

func (f *fakeFS) failing(step string) error {
	if f.fail == step {
		return fmt.Errorf("%s: %w", step, errInjected)
	}
	return nil
}

func (f *fakeFS) CreateTemp(dir, pattern string) (File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("create"); err != nil {
		return nil, err
	}
	f.n++
	i := strings.LastIndex(pattern, "*")
	name := dir + "/" + pattern[:i] + strconv.Itoa(f.n) + pattern[i+1:]
	f.files[name] = []byte{}
	return &fakeFile{fs: f, name: name}, nil
}

func (f *fakeFS) Rename(oldpath, newpath string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("rename"); err != nil {
		return err
	}
	data, ok := f.files[oldpath]
	if !ok {
		return fs.ErrNotExist
	}
	f.files[newpath] = data
	delete(f.files, oldpath)
	return nil
}

func (f *fakeFS) Remove(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.files[name]; !ok {
		return fs.ErrNotExist
	}
	delete(f.files, name)
	return nil
}

func (f *fakeFS) SyncDir(dir string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failing("syncdir")
}

func (f *fakeFS) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ns []string
	for n := range f.files {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns
}

func (f *fakeFS) file(name string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.files[name]
	return slices.Clone(b), ok
}

func (w *fakeFile) Name() string { return w.name }

func (w *fakeFile) Write(p []byte) (int, error) {
	w.fs.mu.Lock()
	defer w.fs.mu.Unlock()
	if w.closed {
		return 0, fs.ErrClosed
	}
	if err := w.fs.failing("write"); err != nil {
		// A short write: part of the data reaches the file.
		w.fs.files[w.name] = append(w.fs.files[w.name], p[:len(p)/2]...)
		return len(p) / 2, err
	}
	if _, ok := w.fs.files[w.name]; !ok {
		return 0, fs.ErrNotExist
	}
	w.fs.files[w.name] = append(w.fs.files[w.name], p...)
	return len(p), nil
}

func (w *fakeFile) Sync() error {
	w.fs.mu.Lock()
	defer w.fs.mu.Unlock()
	if w.closed {
		return fs.ErrClosed
	}
	return w.fs.failing("sync")
}

func (w *fakeFile) Close() error {
	w.fs.mu.Lock()
	defer w.fs.mu.Unlock()
	w.fs.closes++
	if w.closed {
		return fs.ErrClosed
	}
	w.closed = true
	return w.fs.failing("close")
}

func TestSnapshotterFailures(t *testing.T) {
	const path = "/data/scores.csv"
	steps := []struct {
		step string
		want string // in the error message
	}{
		{"create", "create temp file in /data"},
		{"write", "write /data/.scores.csv."},
		{"sync", "sync /data/.scores.csv."},
		{"close", "close /data/.scores.csv."},
		{"rename", "rename /data/.scores.csv."},
		{"syncdir", "sync folder /data"},
	}
	for _, tc := range steps {
		t.Run(tc.step, func(t *testing.T) {
			e := sampleEngine(t)
			fsys := newFakeFS()
			now := at(time.Minute)
			s := &Snapshotter{Path: path, Source: clocked{e, func() time.Time { return now }}, FS: fsys}
			if wrote, err := s.Flush(context.Background()); !wrote || err != nil {
				t.Fatalf("first Flush = %v, %v", wrote, err)
			}
			prev, _ := fsys.file(path)
			if !bytes.Equal(prev, snapshot(t, e, now)) {
				t.Fatal("first snapshot is not what WriteSnapshot writes")
			}
			if got := fsys.names(); !slices.Equal(got, []string{path}) {
				t.Fatalf("files after the first write: %v", got)
			}

			p := join(t, e, "newcomer")
			mustClick(t, e, p, now)
			next := snapshot(t, e, now)

			fsys.fail = tc.step
			wrote, err := s.Flush(context.Background())
			if wrote || err == nil {
				t.Fatalf("failing Flush = %v, %v", wrote, err)
			}
			if !errors.Is(err, errInjected) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not wrap the failure or mention %q", err, tc.want)
			}
			got, ok := fsys.file(path)
			if tc.step == "syncdir" {
				// The rename was done before the folder sync failed; the file holds
				// the new snapshot, complete. It is written again below.
				if !ok || !bytes.Equal(got, next) {
					t.Fatalf("after a failed folder sync the file is\n%s", got)
				}
			} else if !ok || !bytes.Equal(got, prev) {
				t.Fatalf("previous file changed by a failed %s:\n%s", tc.step, got)
			}
			if names := fsys.names(); !slices.Equal(names, []string{path}) {
				t.Fatalf("temp file left behind: %v", names)
			}

			// Still failing: still an error, still intact.
			if wrote, err := s.Flush(context.Background()); wrote || err == nil {
				t.Fatalf("second failing Flush = %v, %v", wrote, err)
			}

			// The next Flush retries, although nothing changed since the failure.
			fsys.fail = ""
			n := fsys.n
			if wrote, err := s.Flush(context.Background()); !wrote || err != nil {
				t.Fatalf("Flush after the failure = %v, %v", wrote, err)
			}
			if fsys.n != n+1 {
				t.Fatal("Flush did not write a new temp file")
			}
			if got, _ := fsys.file(path); !bytes.Equal(got, next) {
				t.Fatalf("after the retry the file is\n%s\nwant\n%s", got, next)
			}
			if names := fsys.names(); !slices.Equal(names, []string{path}) {
				t.Fatalf("files after the retry: %v", names)
			}
			if wrote, err := s.Flush(context.Background()); wrote || err != nil {
				t.Fatalf("Flush with nothing new = %v, %v", wrote, err)
			}
		})
	}
}

func TestSnapshotterPrime(t *testing.T) {
	src := sampleEngine(t)
	data := snapshot(t, src, t0)
	e := newEngine(t, nil)
	if _, err := readSnapshot(bytes.NewReader(data), "x", e); err != nil {
		t.Fatal(err)
	}
	fsys := newFakeFS()
	s := &Snapshotter{Path: "/d/scores.csv", Source: clocked{e, func() time.Time { return t0 }}, FS: fsys}
	s.Prime(context.Background())
	for i := 0; i < 3; i++ {
		if wrote, err := s.Flush(context.Background()); wrote || err != nil {
			t.Fatalf("Flush after Prime = %v, %v", wrote, err)
		}
	}
	// Ticks, states, boards and a refused rename are not changes either.
	e.tick()
	e.Rebuild()
	e.records(t0, func(Record) error { return nil })
	for _, r := range records(e, t0) {
		e.stateAt(e.get(r.ID), t0)
		e.attach(e.get(r.ID), t0)
		e.rename(e.get(r.ID), "")
	}
	if wrote, err := s.Flush(context.Background()); wrote || err != nil || fsys.n != 0 {
		t.Fatalf("Flush without changes = %v, %v; %d temp files", wrote, err, fsys.n)
	}
	var p *memPlayer
	for _, r := range records(e, t0) {
		p = e.get(r.ID)
	}
	e.rename(p, "renamed")
	if wrote, err := s.Flush(context.Background()); !wrote || err != nil {
		t.Fatalf("Flush after a rename = %v, %v", wrote, err)
	}
	mustClick(t, e, p, at(time.Hour))
	if wrote, err := s.Flush(context.Background()); !wrote || err != nil {
		t.Fatalf("Flush after a click = %v, %v", wrote, err)
	}
	if wrote, err := s.Flush(context.Background()); wrote || err != nil {
		t.Fatalf("Flush without changes = %v, %v", wrote, err)
	}

	// Without Prime the first Flush writes, even an empty game.
	fsys = newFakeFS()
	s = &Snapshotter{Path: "/d/scores.csv", Source: newEngine(t, nil), FS: fsys}
	if wrote, err := s.Flush(context.Background()); !wrote || err != nil {
		t.Fatalf("first Flush of an empty game = %v, %v", wrote, err)
	}
	if got, _ := fsys.file("/d/scores.csv"); string(got) != header+"\n" {
		t.Fatalf("empty game written as %q", got)
	}
}

type failWriter struct{ left int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		n := w.left
		w.left = 0
		return n, errInjected
	}
	w.left -= len(p)
	return len(p), nil
}

func TestWriteSnapshotWriteError(t *testing.T) {
	e := newEngine(t, nil)
	for i := 0; i < 20000; i++ { // more than the 1 MiB buffer
		p := restore(t, e, idN(uint64(i)), "some player name")
		mustClick(t, e, p, t0)
	}
	for _, left := range []int{0, 10, 1 << 20, 1<<20 + 100} {
		err := writeSnapshot(&failWriter{left: left}, e, t0)
		if !errors.Is(err, errInjected) {
			t.Fatalf("failing after %d bytes: %v", left, err)
		}
	}
	if err := writeSnapshot(io.Discard, e, t0); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotterRealFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SnapshotFile)
	e := sampleEngine(t)
	s := &Snapshotter{Path: path, Source: e}
	if wrote, err := s.Flush(context.Background()); !wrote || err != nil {
		t.Fatalf("Flush = %v, %v", wrote, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("scores file mode %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("folder holds %d entries after a write", len(entries))
	}
	e2 := newEngine(t, nil)
	if n, err := LoadSnapshot(path, e2); n != 10 || err != nil {
		t.Fatalf("LoadSnapshot = %d, %v", n, err)
	}
	// A failure on the real file system: the folder is gone.
	s2 := &Snapshotter{Path: filepath.Join(dir, "missing", SnapshotFile), Source: e}
	if wrote, err := s2.Flush(context.Background()); wrote || err == nil {
		t.Fatalf("Flush into a missing folder = %v, %v", wrote, err)
	}
}

func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SnapshotFile)
	keep := []string{
		SnapshotFile,
		"scores.csv.bak",
		"scores.csv.tmp",
		".scores.csv.tmp",
		".scores.csv.1.tmp.keep",
		".other.csv.1.tmp",
		"x.tmp",
		".scoresXcsv.1.tmp",
	}
	stale := []string{".scores.csv.123.tmp", ".scores.csv.abc.tmp"}
	for _, n := range append(slices.Clone(keep), stale...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A folder that looks like a temp file is not a temp file.
	if err := os.Mkdir(filepath.Join(dir, ".scores.csv.7.tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	keep = append(keep, ".scores.csv.7.tmp")
	// A temp file made the way the snapshotter makes them.
	f, err := OSFS{}.CreateTemp(dir, "."+SnapshotFile+".*.tmp")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := RemoveStaleTemps(path); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, en := range entries {
		got = append(got, en.Name())
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(keep))
	if !slices.Equal(got, want) {
		t.Fatalf("left %v, want %v", got, want)
	}
	for _, n := range keep[:len(keep)-1] {
		if b, _ := os.ReadFile(filepath.Join(dir, n)); string(b) != n {
			t.Fatalf("%s was modified", n)
		}
	}
	if err := RemoveStaleTemps(path); err != nil {
		t.Fatalf("second run: %v", err)
	}
	if err := RemoveStaleTemps(filepath.Join(t.TempDir(), "nothing", SnapshotFile)); err != nil {
		t.Fatalf("missing folder: %v", err)
	}
}

func TestRemoveStaleTempsOddNames(t *testing.T) {
	// Folder and file names are taken literally, not as glob patterns.
	root := t.TempDir()
	for _, tc := range []struct{ dir, sibling, file string }{
		{"data [prod]", "data p", SnapshotFile},
		{"star*dir", "starXdir", SnapshotFile},
		{"q?", "qq", SnapshotFile},
		{"plain", "", "scores[1].csv"},
	} {
		dir := filepath.Join(root, tc.dir)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		stale := filepath.Join(dir, "."+tc.file+".42.tmp")
		if err := os.WriteFile(stale, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		var other string
		if tc.sibling != "" {
			if err := os.MkdirAll(filepath.Join(root, tc.sibling), 0o700); err != nil {
				t.Fatal(err)
			}
			other = filepath.Join(root, tc.sibling, "."+tc.file+".42.tmp")
			if err := os.WriteFile(other, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := RemoveStaleTemps(filepath.Join(dir, tc.file)); err != nil {
			t.Fatalf("%s: %v", tc.dir, err)
		}
		if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: stale temp file not removed", stale)
		}
		if other != "" {
			if _, err := os.Stat(other); err != nil {
				t.Errorf("%s: a file in another folder was removed", other)
			}
			os.Remove(other)
		}
	}
}

func TestSnapshotAtomicUnderLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SnapshotFile)
	e := newEngine(t, nil)
	const players = 300
	ps := make([]*memPlayer, players)
	for i := range ps {
		ps[i] = join(t, e, fmt.Sprintf("p %d Zoë", i))
	}
	s := &Snapshotter{Path: path, Source: clocked{e, func() time.Time { return at(time.Minute) }}}
	if _, err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var clicks atomic.Int64
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if e.click(ps[(i*7+g)%players], at(time.Duration(i)*time.Millisecond)).Counted {
					clicks.Add(1)
				}
			}
		}(g)
	}
	var reads atomic.Int64
	readErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			f, err := os.Open(path)
			if err != nil {
				readErr <- err
				return
			}
			n, err := readSnapshot(f, path, newEngine(t, nil))
			f.Close()
			if err == nil && n != players {
				err = fmt.Errorf("read %d players, want %d", n, players)
			}
			if err != nil {
				readErr <- err
				return
			}
			reads.Add(1)
		}
	}()
	// Write until there were enough writes and reads racing each other; the deadline
	// only guards against a hang.
	writes := 0
	deadline := time.Now().Add(20 * time.Second)
	for (writes < 40 || reads.Load() < 40) && time.Now().Before(deadline) && len(readErr) == 0 {
		for c := clicks.Load(); clicks.Load() == c; {
			runtime.Gosched() // let some clicks happen between two writes
		}
		wrote, err := s.Flush(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if wrote {
			writes++
		}
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-readErr:
		t.Fatalf("a reader saw a broken file: %v", err)
	default:
	}
	if writes < 40 || reads.Load() < 40 {
		t.Fatalf("%d writes, %d reads", writes, reads.Load())
	}
	t.Logf("%d writes, %d reads, %d clicks", writes, reads.Load(), clicks.Load())

	// After the last Flush with the clicks stopped, the file holds every click.
	if _, err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	e2 := newEngine(t, nil)
	if _, err := LoadSnapshot(path, e2); err != nil {
		t.Fatal(err)
	}
	if got, want := records(e2, at(time.Minute)), records(e, at(time.Minute)); !equalRecords(got, want) {
		t.Fatal("the last snapshot differs from the game in memory")
	}
	if e2.Stats().TotalClicks != e.Stats().TotalClicks || e.Stats().TotalClicks != clicks.Load() {
		t.Fatalf("total clicks on disk %d, in memory %d, counted %d", e2.Stats().TotalClicks, e.Stats().TotalClicks, clicks.Load())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("folder holds %d entries", len(entries))
	}
}

func TestRecordsStopsEarly(t *testing.T) {
	e := newEngine(t, nil)
	for i := 0; i < 10; i++ {
		join(t, e, "p")
	}
	n := 0
	stop := errors.New("stop")
	err := e.records(t0, func(Record) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if n != 3 || err != stop {
		t.Fatalf("records called fn %d times and returned %v after fn returned an error", n, err)
	}
	_ = uuid.Nil
}

// appendCSVField appends what putCSVField writes.
func appendCSVField(b []byte, s string) []byte {
	n := len(b)
	b = slices.Grow(b, 2*len(s)+2)
	return b[:putCSVField(b[n:cap(b)], 0, s)+n]
}
