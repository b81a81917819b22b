package game

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// SnapshotFile is the name of the scores file in the data folder.
const SnapshotFile = "scores.csv"

// snapshotColumns is the header of the scores file. The first six are fixed by the
// product; best_at keeps leaderboard tie-breaks across restarts.
var snapshotColumns = []string{"id", "handle", "score", "best", "total", "last_click", "best_at"}

// requiredColumns is how many leading columns every scores file must have.
const requiredColumns = 6

// FS is the part of the file system the snapshot writer uses, so tests can make any
// step fail.
type FS interface {
	CreateTemp(dir, pattern string) (File, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	SyncDir(dir string) error
}

// File is a temporary file being written.
type File interface {
	io.Writer
	Name() string
	Sync() error
	Close() error
}

// OSFS is the real file system.
type OSFS struct{}

// CreateTemp creates a file with mode 0600 (ids are private) in dir.
func (OSFS) CreateTemp(dir, pattern string) (File, error) { return os.CreateTemp(dir, pattern) }

// Rename renames a file, replacing newpath atomically.
func (OSFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

// Remove removes a file.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// SyncDir flushes a folder's entries, so that a rename survives a power cut.
func (OSFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Source is what a snapshot is written from: a game's players, and a number that
// changes whenever one of them did. Both backends are Sources.
type Source interface {
	// Version changes whenever anything a snapshot stores has changed.
	Version(ctx context.Context) (int64, error)
	// Records calls fn with a copy of every player's stored fields, the idle reset
	// applied, and stops at the first error fn returns.
	Records(ctx context.Context, fn func(Record) error) error
}

// WriteSnapshot writes every player of src to w as CSV.
func WriteSnapshot(ctx context.Context, w io.Writer, src Source) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString(strings.Join(snapshotColumns, ",") + "\n")
	var buf []byte
	err := src.Records(ctx, func(r Record) error {
		buf = appendRecord(buf[:0], r)
		_, err := bw.Write(buf)
		return err
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

func appendRecord(b []byte, r Record) []byte {
	var id [36]byte
	encodeUUID(id[:], r.ID)
	b = append(b, id[:]...)
	b = append(b, ',')
	b = appendCSVField(b, r.Handle)
	for _, n := range [...]int64{r.Score, r.Best, r.Total} {
		b = append(b, ',')
		b = strconv.AppendInt(b, n, 10)
	}
	for _, t := range [...]time.Time{r.LastClick, r.BestAt} {
		b = append(b, ',')
		if !t.IsZero() {
			b = t.UTC().AppendFormat(b, time.RFC3339Nano)
		}
	}
	return append(b, '\n')
}

func encodeUUID(dst []byte, id uuid.UUID) {
	hex.Encode(dst[0:8], id[0:4])
	dst[8] = '-'
	hex.Encode(dst[9:13], id[4:6])
	dst[13] = '-'
	hex.Encode(dst[14:18], id[6:8])
	dst[18] = '-'
	hex.Encode(dst[19:23], id[8:10])
	dst[23] = '-'
	hex.Encode(dst[24:], id[10:16])
}

// appendCSVField quotes s as encoding/csv would read it back.
func appendCSVField(b []byte, s string) []byte {
	if s == "" || !strings.ContainsAny(s, ",\"\r\n") && s[0] != ' ' {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

// ReadSnapshot reads every player from r and hands each to load, which may refuse it
// (a duplicate id, say). name is used in error messages, which give the line at fault.
// The records are checked with CheckRecord before load sees them.
func ReadSnapshot(r io.Reader, name string, load func(Record) error) (int, error) {
	tail := &lastByteReader{r: r}
	cr := csv.NewReader(bufio.NewReaderSize(tail, 1<<20))
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("%s: line 1: empty file, want a header starting with %s", name, strings.Join(snapshotColumns[:requiredColumns], ","))
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	if len(header) < requiredColumns || len(header) > len(snapshotColumns) ||
		strings.Join(header, ",") != strings.Join(snapshotColumns[:len(header)], ",") {
		return 0, fmt.Errorf("%s: line 1: header is %q, want %q", name, strings.Join(header, ","), strings.Join(snapshotColumns, ","))
	}
	n := 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		r, err := parseRecord(rec)
		if err == nil {
			err = CheckRecord(r)
		}
		if err == nil {
			err = load(r)
		}
		if err != nil {
			return n, fmt.Errorf("%s: line %d: %w", name, line, err)
		}
		n++
	}
	if tail.last != '\n' {
		// The writer ends every row with a newline; without it the last row may have
		// lost trailing fields (a truncated copy) and would load wrong.
		line, _ := cr.FieldPos(0)
		return n, fmt.Errorf("%s: line %d: the file does not end with a newline, so it may be cut short", name, line)
	}
	return n, nil
}

// lastByteReader remembers the last byte read through it.
type lastByteReader struct {
	r    io.Reader
	last byte
}

func (l *lastByteReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if n > 0 {
		l.last = p[n-1]
	}
	return n, err
}

// maxCount is the largest score the page can show exactly (JavaScript's largest safe
// integer); a larger one in a file is corruption, not a score.
const maxCount = 1<<53 - 1

func parseRecord(f []string) (Record, error) {
	var r Record
	var err error
	if r.ID, err = uuid.Parse(f[0]); err != nil || len(f[0]) != 36 {
		return r, fmt.Errorf("id %q is not a UUID", f[0])
	}
	r.Handle = f[1]
	for i, dst := range [...]*int64{&r.Score, &r.Best, &r.Total} {
		if *dst, err = strconv.ParseInt(f[2+i], 10, 64); err != nil {
			return r, fmt.Errorf("%s %q is not a whole number", snapshotColumns[2+i], f[2+i])
		}
		if *dst > maxCount {
			return r, fmt.Errorf("%s %d is larger than %d", snapshotColumns[2+i], *dst, int64(maxCount))
		}
	}
	for i, dst := range [...]*time.Time{&r.LastClick, &r.BestAt} {
		col := requiredColumns - 1 + i
		if col >= len(f) || f[col] == "" {
			continue
		}
		if *dst, err = time.Parse(time.RFC3339Nano, f[col]); err != nil {
			return r, fmt.Errorf("%s %q is not an RFC 3339 time", snapshotColumns[col], f[col])
		}
		// The engine keeps times as Unix nanoseconds: refuse what would not survive that.
		if ns := dst.UnixNano(); ns <= 0 || !time.Unix(0, ns).Equal(*dst) {
			return r, fmt.Errorf("%s %q is outside 1970 to 2262", snapshotColumns[col], f[col])
		}
	}
	return r, nil
}

// LoadSnapshot reads the scores file at path into e, which should be empty, and
// builds the leaderboard. A missing file is an empty game and not an error.
func LoadSnapshot(path string, e *Engine) (int, error) {
	n, err := ReadSnapshotFile(path, e.Load)
	if err != nil {
		return n, err
	}
	e.Rebuild()
	return n, nil
}

// ReadSnapshotFile is ReadSnapshot of the file at path. A missing file holds no
// players and is not an error.
func ReadSnapshotFile(path string, load func(Record) error) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open scores: %w", err)
	}
	defer f.Close()
	return ReadSnapshot(f, path, load)
}

// Lease decides which of several processes sharing one game writes its snapshots.
type Lease interface {
	// Hold takes or renews the lease and reports whether this process holds it.
	Hold(ctx context.Context) (bool, error)
	// Release gives the lease up, so another process may take it at once.
	Release(ctx context.Context) error
}

// Snapshotter writes a game's players to a CSV file whenever something changed,
// atomically: a temporary file in the same folder is written and synced, renamed over
// the old file, and the folder is synced.
type Snapshotter struct {
	// Path is the scores file.
	Path string
	// Interval is the time between two checks for changes.
	Interval time.Duration
	// Source is the game whose players are written.
	Source Source
	// Lease, when set, lets only its holder write; nil means this process always may.
	Lease Lease
	// FS is the file system; nil means the real one.
	FS FS
	// Log receives one line per failed write; nil means slog.Default().
	Log *slog.Logger
	// Observe, when set, is told about every write attempt: how long it took, the size
	// of the file written, and the error if it failed.
	Observe func(took time.Duration, size int64, err error)

	mu      sync.Mutex // one write at a time
	written int64      // Source.Version at the last successful write
	primed  bool
}

// Prime records the game's current state as already on disk; call it right after
// loading, so an unchanged game is not written again.
func (s *Snapshotter) Prime(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.Source.Version(ctx)
	if err != nil {
		return err
	}
	s.written, s.primed = v, true
	return nil
}

// Run writes a snapshot every Interval when something changed, until ctx is done. It
// does not write a final snapshot; call Flush after the last click was taken.
func (s *Snapshotter) Run(ctx context.Context) {
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Flush(ctx); err != nil {
				s.log().Error("snapshot failed; the previous file is intact and the write is retried", "path", s.Path, "err", err)
			}
		}
	}
}

// Flush writes the snapshot now if anything changed since the last write and this
// process holds the Lease (when there is one). It reports whether it wrote.
func (s *Snapshotter) Flush(ctx context.Context) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Lease != nil {
		held, err := s.Lease.Hold(ctx)
		if err != nil {
			return false, fmt.Errorf("snapshot lease: %w", err)
		}
		if !held {
			return false, nil
		}
	}
	v, err := s.Source.Version(ctx)
	if err != nil {
		return false, fmt.Errorf("snapshot version: %w", err)
	}
	if s.primed && v == s.written {
		return false, nil
	}
	start := time.Now()
	size, err := s.write(ctx)
	if s.Observe != nil {
		s.Observe(time.Since(start), size, err)
	}
	if err != nil {
		return false, err
	}
	s.written, s.primed = v, true
	return true, nil
}

func (s *Snapshotter) write(ctx context.Context) (size int64, err error) {
	err = WriteFileAtomic(s.FS, s.Path, func(w io.Writer) error {
		cw := &countingWriter{w: w}
		err := WriteSnapshot(ctx, cw, s.Source)
		size = cw.n
		return err
	})
	return size, err
}

// WriteFileAtomic writes the file at path through fill, atomically: a temporary file in
// the same folder is written and synced, renamed over path, and the folder is synced.
// On any error path is left as it was and the temporary file is removed. fsys nil is
// the real file system.
func WriteFileAtomic(fsys FS, path string, fill func(io.Writer) error) (err error) {
	if fsys == nil {
		fsys = OSFS{}
	}
	dir := filepath.Dir(path)
	f, err := fsys.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("create temp file in %s: %w", dir, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			fsys.Remove(tmp)
		}
	}()
	if err = fill(f); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err = fsys.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp, path, err)
	}
	if err = fsys.SyncDir(dir); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

// RemoveStaleTemps deletes temporary files that a crash mid-write left next to path.
// It never touches path itself.
func RemoveStaleTemps(path string) error {
	// The names are compared literally: a glob would read '[', '*' or '?' in the
	// folder's or the file's name as a pattern and could reach into other folders.
	dir := filepath.Dir(path)
	prefix, suffix := "."+filepath.Base(path)+".", ".tmp"
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, en := range entries {
		n := en.Name()
		if !en.Type().IsRegular() || len(n) < len(prefix)+len(suffix) ||
			!strings.HasPrefix(n, prefix) || !strings.HasSuffix(n, suffix) {
			continue
		}
		m := filepath.Join(dir, n)
		if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale %s: %w", m, err)
		}
	}
	return nil
}

func (s *Snapshotter) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// OpenMemory is the in-memory game kept in the scores file at path: it loads the bans
// and locked handles of ModerationFile beside it, then the scores (a missing file is
// an empty game), and builds the leaderboard; moderation changes are written to
// ModerationFile as they happen. A malformed file stops it with the line at fault,
// and is left as it is.
func OpenMemory(cfg Config, path string) (*Engine, int, error) {
	e, err := New(cfg)
	if err != nil {
		return nil, 0, err
	}
	if err := e.loadModeration(filepath.Join(filepath.Dir(path), ModerationFile)); err != nil {
		return nil, 0, fmt.Errorf("load moderation (the file was left untouched): %w", err)
	}
	n, err := LoadSnapshot(path, e)
	if err != nil {
		return nil, 0, fmt.Errorf("load scores (the file was left untouched): %w", err)
	}
	return e, n, nil
}
