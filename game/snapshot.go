package game

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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

// WriteSnapshot writes every player of src to w as CSV. The in-memory game's shards
// are formatted on every core at once and written in order (a Snapshotter's formatters
// also give way to other goroutines as they go); other sources are formatted one
// record after another.
func WriteSnapshot(ctx context.Context, w io.Writer, src Source) error {
	return writeSnapshotWith(ctx, w, src, nil)
}

// partBuffers keeps the buffers of one writer's parts from one snapshot to the next,
// so that a snapshot every second does not feed the garbage collector tens of
// megabytes each time; and how many goroutines format them.
type partBuffers struct {
	free    [][]byte
	workers int
	// background makes the formatters give way to every other goroutine (see
	// writeParts): a periodic snapshot must not delay clicks; an export, which someone
	// waits for, does not give way.
	background bool
}

func writeSnapshotWith(ctx context.Context, w io.Writer, src Source, bufs *partBuffers) error {
	head := strings.Join(snapshotColumns, ",") + "\n"
	if ps, ok := src.(partedSource); ok {
		if _, err := io.WriteString(w, head); err != nil {
			return err
		}
		if bufs == nil {
			bufs = &partBuffers{workers: runtime.GOMAXPROCS(0)}
		}
		return writeParts(ctx, w, ps, bufs)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString(head)
	var buf []byte
	var te timeEncoder
	err := src.Records(ctx, func(r Record) error {
		buf = appendRecord(buf[:0], r, &te)
		_, err := bw.Write(buf)
		return err
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// partedSource is a Source whose records come in parts that can be read at once by
// several goroutines: the in-memory game's shards.
type partedSource interface {
	Source
	// recordParts returns the number of parts and a function calling fn with a copy of
	// every record of part i, all parts taken as of one instant.
	recordParts(ctx context.Context) (int, func(i int, fn func(Record) error) error)
}

// writeParts formats the parts of src on bufs.workers goroutines and writes them to w
// in order. At most two parts per goroutine are held in memory, so the extra memory is a
// few part sizes, not the file's; those buffers are taken from bufs and given back.
func writeParts(ctx context.Context, w io.Writer, src partedSource, bufs *partBuffers) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	parts, each := src.recordParts(ctx)
	workers := min(max(bufs.workers, 1), parts)
	type result struct {
		buf []byte
		err error
	}
	results := make([]chan result, parts)
	for i := range results {
		results[i] = make(chan result, 1)
	}
	// A worker takes a token before it formats a part and the writer gives it back
	// once that part is written, so the formatters run at most 2*workers parts ahead.
	tokens := make(chan struct{}, 2*workers)
	free := make(chan []byte, 2*workers+len(bufs.free))
	for _, b := range bufs.free {
		free <- b
	}
	bufs.free = bufs.free[:0]
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var te timeEncoder
			for {
				select {
				case tokens <- struct{}{}:
				case <-ctx.Done():
					return
				}
				i := int(next.Add(1) - 1)
				if i >= parts {
					return
				}
				var buf []byte
				select {
				case buf = <-free:
				default:
				}
				buf = buf[:0]
				err := ctx.Err()
				if err == nil {
					n := 0
					err = each(i, func(r Record) error {
						buf = appendRecord(buf, r, &te)
						// A background formatter hands its P over every 512 rows (about a
						// fifth of a millisecond) to whatever goroutine waits for one, a
						// click's reply or a broadcast, and goes on at once when none does:
						// else a click arriving while both Ps are busy may wait for the
						// formatter's time slice to end (10 ms). A yield costs some
						// microseconds (it wakes an idle P): every 64 rows cost a quarter
						// more CPU per snapshot, every 512 a tenth; every 2,048 cost
						// nothing that showed but let the clicks' p99 slip back (1.35x).
						if n++; bufs.background && n%512 == 0 {
							runtime.Gosched()
						}
						return nil
					})
				}
				results[i] <- result{buf, err}
			}
		}()
	}
	var err error
	for i := 0; i < parts && err == nil; i++ {
		r := <-results[i]
		err = r.err
		if err == nil {
			_, err = w.Write(r.buf)
		}
		select {
		case free <- r.buf:
		default:
		}
		<-tokens
	}
	cancel()
	wg.Wait()
	for len(free) > 0 && len(bufs.free) < 2*workers {
		bufs.free = append(bufs.free, <-free)
	}
	return err
}

// appendRecord appends r as one line of the scores file. The row is written by index
// into room grown once for its longest form: the file is a million of these, and an
// append per field spent a fifth of the time in memmove.
func appendRecord(b []byte, r Record, te *timeEncoder) []byte {
	n := len(b)
	// id, a handle quoted with every byte doubled, three numbers, two times, commas.
	b = slices.Grow(b, 36+2*len(r.Handle)+2+3*21+2*(1+maxTimeLen)+1)
	d := b[n:cap(b)]
	encodeUUID(d[:36], r.ID)
	i := 36
	d[i] = ','
	i = putCSVField(d, i+1, r.Handle)
	for _, v := range [...]int64{r.Score, r.Best, r.Total} {
		d[i] = ','
		i = putInt(d, i+1, v)
	}
	for _, t := range [...]time.Time{r.LastClick, r.BestAt} {
		d[i] = ','
		i++
		if !t.IsZero() {
			i = te.putRFC3339Nano(d, i, t.UnixNano())
		}
	}
	d[i] = '\n'
	return b[:n+i+1]
}

func encodeUUID(dst []byte, id uuid.UUID) {
	d := (*[36]byte)(dst)
	d[8], d[13], d[18], d[23] = '-', '-', '-', '-'
	for i, b := range id {
		p := uuidDigits[i]
		d[p], d[p+1] = hexDigits[b>>4], hexDigits[b&15]
	}
}

// uuidDigits is where each byte of an id goes in its 36-character form.
const uuidDigits = "\x00\x02\x04\x06\x09\x0b\x0e\x10\x13\x15\x18\x1a\x1c\x1e\x20\x22"

const hexDigits = "0123456789abcdef"

// putCSVField writes s at d[i:] quoted as encoding/csv would read it back, and returns
// the index after it; d has room for s with every byte doubled and two quotes.
func putCSVField(d []byte, i int, s string) int {
	if !needsQuotes(s) {
		return i + copy(d[i:], s)
	}
	d[i] = '"'
	i++
	for j := 0; j < len(s); j++ {
		if s[j] == '"' {
			d[i] = '"'
			i++
		}
		d[i] = s[j]
		i++
	}
	d[i] = '"'
	return i + 1
}

// needsQuotes reports whether encoding/csv would misread s unquoted: it holds a comma,
// a quote or a line break, or starts with a space.
func needsQuotes(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == ' ' {
		return true
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',', '"', '\r', '\n':
			return true
		}
	}
	return false
}

// ReadSnapshot reads every player from r and hands each to load, which may refuse it
// (a duplicate id, say). name is used in error messages, which give the line at fault.
// The records are checked with CheckRecord before load sees them. The whole of r is
// read into memory first.
func ReadSnapshot(r io.Reader, name string, load func(Record) error) (int, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return readSnapshotData(data, name, func() func(Record) error { return load }, 1)
}

// readSnapshotData reads the scores file held in data. A file with no quote and no
// carriage return, which is every file the writer produced from valid handles, is cut
// into rows and fields in place, on up to workers goroutines when it is large, each
// loading through its own newLoad(); any other goes through encoding/csv. Both read
// the same records and refuse the same files with the same errors (the tests compare
// them).
func readSnapshotData(data []byte, name string, newLoad func() func(Record) error, workers int) (int, error) {
	if bytes.IndexByte(data, '"') >= 0 || bytes.IndexByte(data, '\r') >= 0 {
		return readSnapshotCSV(bytes.NewReader(data), name, newLoad())
	}
	return readSnapshotPlain(data, name, newLoad, workers)
}

// emptyFileError is the refusal of a file without a header.
func emptyFileError(name string) error {
	return fmt.Errorf("%s: line 1: empty file, want a header starting with %s", name, strings.Join(snapshotColumns[:requiredColumns], ","))
}

// checkHeader refuses a header that is not a prefix of snapshotColumns of at least
// requiredColumns.
func checkHeader[S field](name string, header []S) error {
	ok := len(header) >= requiredColumns && len(header) <= len(snapshotColumns)
	for i := 0; ok && i < len(header); i++ {
		ok = string(header[i]) == snapshotColumns[i]
	}
	if !ok {
		got := make([]string, len(header))
		for i, f := range header {
			got[i] = string(f)
		}
		return fmt.Errorf("%s: line 1: header is %q, want %q", name, strings.Join(got, ","), strings.Join(snapshotColumns, ","))
	}
	return nil
}

// noNewlineError is the refusal of a file whose last row, on line, has no newline.
func noNewlineError(name string, line int) error {
	// The writer ends every row with a newline; without it the last row may have lost
	// trailing fields (a truncated copy) and would load wrong.
	return fmt.Errorf("%s: line %d: the file does not end with a newline, so it may be cut short", name, line)
}

// readSnapshotCSV is the reader for files with quoted fields or CRLF line ends.
func readSnapshotCSV(r io.Reader, name string, load func(Record) error) (int, error) {
	tail := &lastByteReader{r: r}
	cr := csv.NewReader(bufio.NewReaderSize(tail, 1<<20))
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return 0, emptyFileError(name)
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	if err := checkHeader(name, header); err != nil {
		return 0, err
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
		line, _ := cr.FieldPos(0)
		return n, noNewlineError(name, line)
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

// plainChunk is a run of whole rows of a plain file, and what reading it found.
type plainChunk struct {
	data     []byte
	line     int // the line data starts on
	n        int // records loaded
	lastLine int // the line of the last record read; 0 if none
	err      error
}

// readSnapshotPlain reads a file with neither quotes nor carriage returns, where a row
// is a line and a field is what lies between commas, as encoding/csv reads it: empty
// lines are skipped and every row must have as many fields as the header.
func readSnapshotPlain(data []byte, name string, newLoad func() func(Record) error, workers int) (int, error) {
	line := 1
	var header [][]byte
	rest := data
	for len(rest) > 0 && header == nil {
		var l []byte
		l, rest = cutLine(rest)
		if len(l) > 0 {
			header = splitFields(l, nil)
			break
		}
		line++
	}
	if header == nil {
		return 0, emptyFileError(name)
	}
	if err := checkHeader(name, header); err != nil {
		return 0, err
	}
	headerLine := line
	line++
	chunks := splitChunks(rest, line, workers)
	var stop atomic.Int64 // the lowest chunk that failed, +1; 0 while none did
	if len(chunks) == 1 {
		chunks[0].read(name, len(header), newLoad(), 0, &stop)
	} else {
		var wg sync.WaitGroup
		for i := range chunks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				chunks[i].read(name, len(header), newLoad(), i, &stop)
			}()
		}
		wg.Wait()
	}
	n, last := 0, headerLine
	for i := range chunks {
		c := &chunks[i]
		n += c.n
		if c.err != nil {
			return n, c.err
		}
		if c.lastLine != 0 {
			last = c.lastLine
		}
	}
	if data[len(data)-1] != '\n' {
		return n, noNewlineError(name, last)
	}
	return n, nil
}

// splitChunks cuts data, which starts on line, into at most workers runs of whole
// lines of similar size; below 1 MB it is one run.
func splitChunks(data []byte, line, workers int) []plainChunk {
	if workers < 1 || len(data) < 1<<20 {
		workers = 1
	}
	chunks := make([]plainChunk, 0, workers)
	for w := workers; w > 0 && len(data) > 0; w-- {
		end := len(data)
		if w > 1 {
			end = len(data) / w
			if i := bytes.IndexByte(data[end:], '\n'); i >= 0 {
				end += i + 1
			} else {
				end = len(data)
			}
		}
		chunks = append(chunks, plainChunk{data: data[:end], line: line})
		line += bytes.Count(data[:end], []byte{'\n'})
		data = data[end:]
	}
	if len(chunks) == 0 {
		chunks = append(chunks, plainChunk{line: line})
	}
	return chunks
}

// read loads the rows of c until one fails or an earlier chunk has failed.
func (c *plainChunk) read(name string, columns int, load func(Record) error, index int, stop *atomic.Int64) {
	fields := make([][]byte, 0, len(snapshotColumns)+1)
	rest, line := c.data, c.line
	for len(rest) > 0 {
		if s := stop.Load(); s != 0 && s-1 < int64(index) {
			return
		}
		var l []byte
		l, rest = cutLine(rest)
		if len(l) == 0 {
			line++
			continue
		}
		c.lastLine = line
		fields = splitFields(l, fields[:0])
		var err error
		if len(fields) != columns {
			err = fmt.Errorf("%s: %w", name, &csv.ParseError{StartLine: line, Line: line, Column: 1, Err: csv.ErrFieldCount})
		} else {
			var r Record
			r, err = parseRecord(fields)
			if err == nil {
				err = CheckRecord(r)
			}
			if err == nil {
				err = load(r)
			}
			if err != nil {
				err = fmt.Errorf("%s: line %d: %w", name, line, err)
			}
		}
		if err != nil {
			c.err = err
			for {
				s := stop.Load()
				if s != 0 && s-1 <= int64(index) || stop.CompareAndSwap(s, int64(index)+1) {
					return
				}
			}
		}
		c.n++
		line++
	}
}

// cutLine returns the bytes before the first newline of b, and those after it.
func cutLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// splitFields appends the comma-separated fields of line to dst.
func splitFields(line []byte, dst [][]byte) [][]byte {
	for {
		i := bytes.IndexByte(line, ',')
		if i < 0 {
			return append(dst, line)
		}
		dst = append(dst, line[:i])
		line = line[i+1:]
	}
}

// maxCount is the largest score the page can show exactly (JavaScript's largest safe
// integer); a larger one in a file is corruption, not a score.
const maxCount = 1<<53 - 1

func parseRecord[S field](f []S) (Record, error) {
	var r Record
	var ok bool
	var err error
	if r.ID, ok = parseID(f[0]); !ok {
		return r, fmt.Errorf("id %q is not a UUID", f[0])
	}
	r.Handle = string(f[1])
	for i, dst := range [...]*int64{&r.Score, &r.Best, &r.Total} {
		if *dst, err = parseCount(f[2+i]); err != nil {
			return r, fmt.Errorf("%s %q is not a whole number", snapshotColumns[2+i], f[2+i])
		}
		if *dst > maxCount {
			return r, fmt.Errorf("%s %d is larger than %d", snapshotColumns[2+i], *dst, int64(maxCount))
		}
	}
	for i, dst := range [...]*time.Time{&r.LastClick, &r.BestAt} {
		col := requiredColumns - 1 + i
		if col >= len(f) || len(f[col]) == 0 {
			continue
		}
		if *dst, err = parseTime(f[col]); err != nil {
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
// builds the leaderboard. A missing file is an empty game and not an error. The store
// is sized once for the file's rows, and a large file is parsed on every core.
func LoadSnapshot(path string, e *Engine) (int, error) {
	data, err := readScores(path)
	if err != nil || data == nil {
		return 0, err
	}
	empty := e.store.Len() == 0
	e.store.reserve(bytes.Count(data, []byte{'\n'}))
	// The reader has checked each record (CheckRecord), so the loaders do not again.
	var mu sync.Mutex
	var loaders []*loader
	newLoad := func() func(Record) error {
		l := e.newLoader()
		mu.Lock()
		loaders = append(loaders, l)
		mu.Unlock()
		return l.load
	}
	n, err := readSnapshotData(data, path, newLoad, runtime.GOMAXPROCS(0))
	for _, l := range loaders {
		l.flush()
	}
	if err != nil {
		return n, err
	}
	if !empty {
		e.Rebuild()
		return n, nil
	}
	// Every player is one a loader loaded, so their boards together hold the board.
	tops := make([][]entry, len(loaders))
	for i, l := range loaders {
		tops[i] = l.top
	}
	e.rebuildFrom(tops)
	return n, nil
}

// ReadSnapshotFile is ReadSnapshot of the file at path. A missing file holds no
// players and is not an error.
func ReadSnapshotFile(path string, load func(Record) error) (int, error) {
	data, err := readScores(path)
	if err != nil || data == nil {
		return 0, err
	}
	return readSnapshotData(data, path, func() func(Record) error { return load }, 1)
}

// readScores reads the whole file at path; a missing file is nil and no error, an
// empty one is empty and not nil.
func readScores(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read scores: %w", err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
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
	// Workers is how many goroutines format the in-memory game's shards at once; 0
	// means one per core (GOMAXPROCS). The file is written by yet another goroutine,
	// so even one worker formats while the previous part goes to disk. The workers
	// give way to every other goroutine every few rows, so that on a busy server the
	// clicks go first and the snapshot takes the CPU that is left: with that, a worker
	// per core was measured to keep the clicks' p99 as well as leaving a core free did,
	// and writes in three quarters of the time.
	Workers int
	// Observe, when set, is told about every write attempt: how long it took, the size
	// of the file written, and the error if it failed.
	Observe func(took time.Duration, size int64, err error)

	mu      sync.Mutex // one write at a time
	written int64      // Source.Version at the last successful write
	primed  bool
	bufs    partBuffers // guarded by mu
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
		s.bufs.workers, s.bufs.background = s.Workers, true
		if s.bufs.workers <= 0 {
			s.bufs.workers = runtime.GOMAXPROCS(0)
		}
		err := writeSnapshotWith(ctx, cw, s.Source, &s.bufs)
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
	if err = fill(&writebackWriter{f: f}); err != nil {
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

// writebackWriter writes to f and starts the kernel's writeback of every
// writebackChunk bytes as they are written.
type writebackWriter struct {
	f            File
	off, pending int64
}

const writebackChunk = 8 << 20

func (w *writebackWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.pending += int64(n)
	if w.pending >= writebackChunk {
		startWriteback(w.f, w.off, w.pending)
		w.off += w.pending
		w.pending = 0
	}
	return n, err
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
