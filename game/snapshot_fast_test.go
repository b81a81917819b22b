package game

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// readBoth reads data with the plain reader (on workers goroutines, then in no set
// order) and with encoding/csv, and returns what each loaded and the error each gave.
func readBoth(data []byte, workers int) (plain, viaCSV []Record, plainErr, csvErr error) {
	collect := func(dst *[]Record) func() func(Record) error {
		return func() func(Record) error {
			return func(r Record) error { *dst = append(*dst, r); return nil }
		}
	}
	if workers > 1 {
		// The goroutines share one list; the callers compare it sorted.
		var mu sync.Mutex
		_, plainErr = readSnapshotPlain(data, "x.csv", func() func(Record) error {
			return func(r Record) error {
				mu.Lock()
				defer mu.Unlock()
				plain = append(plain, r)
				return nil
			}
		}, workers)
	} else {
		_, plainErr = readSnapshotPlain(data, "x.csv", collect(&plain), 1)
	}
	_, csvErr = readSnapshotCSV(bytes.NewReader(data), "x.csv", collect(&viaCSV)())
	return plain, viaCSV, plainErr, csvErr
}

// FuzzPlainReader: on any input without quotes and carriage returns, the plain reader
// loads the same records as encoding/csv and refuses the same inputs with the same
// message.
func FuzzPlainReader(f *testing.F) {
	sample := snapshot(f, sampleEngine(f), at(time.Minute))
	id1 := idN(1).String()
	for _, s := range []string{
		string(sample), "", "\n", "\n\n" + header + "\n", header, header + "\n\n\n",
		header + "\n" + id1 + ",a,1,1,1,,\n\n",
		header + "\n" + id1 + ",a,1,1,1,,",
		header + "\n" + id1 + ",a,1,1,1\n",
		header + "\n" + id1 + ",a,1,1,1,,,\n",
		"id,handle,score,best,total,last_click\n" + id1 + ",a,1,1,1,2030-06-01T12:00:00.123Z\n",
		header + "\n" + id1 + ",a,+1,01,1,2030-02-29T12:00:00Z,2028-02-29T23:59:59.999999999Z\n",
		header + "\n" + strings.ToUpper(id1) + ",a,1,1,1,2030-06-01T12:00:00+02:00,2030-06-01t12:00:00z\n",
		header + "\n" + id1 + ",a,1,1,1,1969-12-31T23:59:59Z,2262-04-11T23:47:16.854775807Z\n",
		header + "\n" + id1 + ",a,1,1,1,2030-06-01T12:00:60Z,2030-06-01T24:00:00Z\n",
		header + "\n" + id1 + ",a,1,1,1,2030-06-01T12:00:00.1234567891Z,2030-06-01T12:00:00.Z\n",
		header + "\n" + id1 + ",a,1,1,999999999999999999,,\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.ContainsAny(data, "\"\r") {
			return // those go to encoding/csv itself
		}
		plain, viaCSV, pe, ce := readBoth(data, 1)
		if (pe == nil) != (ce == nil) || pe != nil && pe.Error() != ce.Error() {
			t.Fatalf("plain reader: %v\nencoding/csv: %v\ninput: %q", pe, ce, data)
		}
		if !equalRecords(plain, viaCSV) {
			t.Fatalf("plain reader loaded %+v\nencoding/csv %+v\ninput: %q", plain, viaCSV, data)
		}
	})
}

// bigSnapshot is a scores file of n players, large enough for the plain reader to cut
// into chunks for several goroutines.
func bigSnapshot(t *testing.T, n int) []byte {
	t.Helper()
	e := newEngine(t, nil)
	rng := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < n; i++ {
		best := int64(rng.IntN(50))
		r := Record{ID: idN(uint64(i + 1)), Handle: fmt.Sprintf("p%d", i), Score: best / 2, Best: best, Total: best * 2}
		if best > 0 {
			// Few distinct times, so the board has ties on best and best_at.
			r.BestAt = at(time.Duration(rng.IntN(3)) * time.Second)
			r.LastClick = r.BestAt
		}
		if err := e.Load(r); err != nil {
			t.Fatal(err)
		}
	}
	return snapshot(t, e, at(time.Minute))
}

// TestPlainReaderChunks: a file cut for several goroutines loads the same records as
// encoding/csv, and an error in any chunk names the same line as encoding/csv does;
// with errors in two chunks, the first one in the file is reported.
func TestPlainReaderChunks(t *testing.T) {
	data := bigSnapshot(t, 30_000)
	if len(data) < 2<<20 {
		t.Fatalf("file of %d bytes is too small to be cut", len(data))
	}
	lines := strings.SplitAfter(string(data), "\n")
	plain, viaCSV, pe, ce := readBoth(data, 4)
	if pe != nil || ce != nil || len(plain) != 30_000 || !equalRecords(sortRecords(plain), sortRecords(viaCSV)) {
		t.Fatalf("plain: %d records, %v; encoding/csv: %d, %v", len(plain), pe, len(viaCSV), ce)
	}
	breakLine := func(ls []string, i int) {
		ls[i] = strings.Replace(ls[i], ",", ",x", 3) // the score is no number
	}
	for _, bad := range [][]int{{1}, {len(lines) / 2}, {len(lines) - 2}, {len(lines) - 2, 10}, {len(lines) * 3 / 4, len(lines) / 3}} {
		ls := append([]string(nil), lines...)
		for _, i := range bad {
			breakLine(ls, i)
		}
		broken := []byte(strings.Join(ls, ""))
		_, _, pe, ce := readBoth(broken, 4)
		if pe == nil || ce == nil || pe.Error() != ce.Error() {
			t.Errorf("lines %v broken: plain %v, encoding/csv %v", bad, pe, ce)
		}
	}
	// A row with too few fields, far into the file.
	ls := append([]string(nil), lines...)
	ls[len(ls)*2/3] = "a,b\n"
	_, _, pe, ce = readBoth([]byte(strings.Join(ls, "")), 4)
	if pe == nil || ce == nil || pe.Error() != ce.Error() {
		t.Errorf("short row: plain %v, encoding/csv %v", pe, ce)
	}
	// Cut short: no newline at the end.
	_, _, pe, ce = readBoth(data[:len(data)-1], 4)
	if pe == nil || ce == nil || pe.Error() != ce.Error() {
		t.Errorf("no final newline: plain %v, encoding/csv %v", pe, ce)
	}
}

func sortRecords(rs []Record) []Record {
	out := append([]Record(nil), rs...)
	slices.SortFunc(out, func(a, b Record) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out
}

// TestLoadSnapshotLarge: LoadSnapshot of a file read on several goroutines holds every
// player and the same board as a full rebuild over them; a duplicate id anywhere in
// the file is refused, naming one of its two lines.
func TestLoadSnapshotLarge(t *testing.T) {
	data := bigSnapshot(t, 30_000)
	path := filepath.Join(t.TempDir(), SnapshotFile)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, nil)
	if n, err := LoadSnapshot(path, e); err != nil || n != 30_000 {
		t.Fatalf("LoadSnapshot = %d, %v", n, err)
	}
	got := e.Board().Rows
	want := e.Rebuild().Rows
	if len(got) != e.cfg.BoardSize || !equalRows(got, want) {
		t.Fatalf("board after the load (%d rows) differs from a rebuild (%d rows)", len(got), len(want))
	}
	if a, b := records(e, at(time.Minute)), records(readInto(t, data), at(time.Minute)); !equalRecords(a, b) {
		t.Fatal("records differ from those loaded one by one")
	}

	lines := strings.SplitAfter(string(data), "\n")
	first, dup := 5, len(lines)-10
	lines[dup] = lines[first][:36] + lines[dup][36:]
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadSnapshot(path, newEngine(t, nil))
	if err == nil || !strings.Contains(err.Error(), "duplicate id") ||
		!strings.Contains(err.Error(), fmt.Sprintf("line %d:", first+1)) && !strings.Contains(err.Error(), fmt.Sprintf("line %d:", dup+1)) {
		t.Fatalf("duplicate on lines %d and %d: %v", first+1, dup+1, err)
	}
}

// readInto loads data one record after another, as ReadSnapshot does for any caller.
func readInto(t *testing.T, data []byte) *Engine {
	t.Helper()
	e := newEngine(t, nil)
	if _, err := readSnapshot(bytes.NewReader(data), "x.csv", e); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestSnapshotReadableByCSV: the file the writer makes is read by encoding/csv, with
// every field as written, so spreadsheets and scripts keep working.
func TestSnapshotReadableByCSV(t *testing.T) {
	e := sampleEngine(t)
	now := at(time.Minute)
	data := snapshot(t, e, now)
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != header {
		t.Fatalf("header %q", rows[0])
	}
	want := records(e, now)
	if len(rows)-1 != len(want) {
		t.Fatalf("%d rows, want %d", len(rows)-1, len(want))
	}
	byID := map[string]Record{}
	for _, r := range want {
		byID[r.ID.String()] = r
	}
	for _, row := range rows[1:] {
		r, ok := byID[row[0]]
		if !ok {
			t.Fatalf("row %q: unknown id", row)
		}
		times := [2]string{}
		for i, tm := range []time.Time{r.LastClick, r.BestAt} {
			if !tm.IsZero() {
				times[i] = tm.UTC().Format(time.RFC3339Nano)
			}
		}
		wantRow := []string{r.ID.String(), r.Handle, fmt.Sprint(r.Score), fmt.Sprint(r.Best), fmt.Sprint(r.Total), times[0], times[1]}
		if strings.Join(row, "|") != strings.Join(wantRow, "|") {
			t.Errorf("row %q, want %q", row, wantRow)
		}
	}
}

// TestTimeEncoding: the hand-written RFC 3339 encoder and decoder agree with the time
// package over the engine's whole range, fractions and leap days included.
func TestTimeEncoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	cases := []int64{1, 999_999_999, 1e9, 951_782_400e9, 4_107_542_399e9 + 999_999_999, 1<<63 - 1}
	for i := 0; i < 200_000; i++ {
		ns := rng.Int64N(1<<63-1) + 1
		switch i % 4 {
		case 1:
			ns -= ns % 1e9 // whole seconds
		case 2:
			ns -= ns % 1e6 // milliseconds
		}
		cases = append(cases, ns)
	}
	var te timeEncoder
	for _, ns := range cases {
		want := time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
		if got := string(appendRFC3339Nano(&te, nil, ns)); got != want {
			t.Fatalf("%d: encoded %q, want %q", ns, got, want)
		}
		got, ok := parseUTCFast(want)
		if wantT, _ := time.Parse(time.RFC3339Nano, want); ok && got != wantT.UnixNano() {
			t.Fatalf("%q: decoded %d, want %d", want, got, wantT.UnixNano())
		}
		if !ok && ns < 4_102_444_800e9 { // before 2100: the fast path must take it
			t.Fatalf("%q: refused by the fast path", want)
		}
	}
}

// TestPlainHandle: every handle the cheap check accepts is one NormalizeHandle's full
// check keeps unchanged.
func TestPlainHandle(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	const alphabet = "aZ09 _-.é,\t"
	for i := 0; i < 200_000; i++ {
		b := make([]byte, rng.IntN(MaxHandleLen+3))
		for j := range b {
			b[j] = alphabet[rng.IntN(len(alphabet))]
		}
		h := string(b)
		if !plainHandle(h) {
			continue
		}
		if got, err := normalizeHandleFull(h); err != nil || got != h {
			t.Fatalf("plainHandle(%q) is true, the full check says %q, %v", h, got, err)
		}
	}
	for _, h := range []string{"player 1", "a.b-c_d", "x", strings.Repeat("a", MaxHandleLen)} {
		if !plainHandle(h) {
			t.Errorf("plainHandle(%q) = false", h)
		}
	}
}

// TestRowEncoding holds the row writer, which writes digits by index, to the standard
// library's formatting: numbers as strconv writes them (edges, negatives and random
// values), ids as uuid.String, times as time.Format, and a row grown from a buffer
// with no room left.
func TestRowEncoding(t *testing.T) {
	nums := []int64{0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 12345, 1<<31 - 1, 1 << 40,
		1<<63 - 1, -1, -9, -10, -1 << 63}
	rng := rand.New(rand.NewPCG(7, 8))
	for range 10_000 {
		nums = append(nums, rng.Int64N(1<<62)>>rng.IntN(62))
	}
	for _, v := range nums {
		d := make([]byte, 24)
		n := putInt(d, 2, v)
		if got, want := string(d[2:n]), strconv.FormatInt(v, 10); got != want {
			t.Fatalf("putInt(%d) = %q, want %q", v, got, want)
		}
	}
	var te timeEncoder
	for i := range 2_000 {
		last := time.Unix(0, rng.Int64N(4e18)).UTC()
		r := Record{ID: uuid.New(), Handle: fmt.Sprintf("p%d", i), Score: nums[i], Best: nums[i+1],
			Total: nums[i+2], LastClick: last, BestAt: last.Add(-time.Duration(rng.Int64N(1e15)))}
		if i%5 == 0 {
			r.BestAt = time.Time{}
		}
		at := func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.Format(time.RFC3339Nano)
		}
		want := strings.Join([]string{r.ID.String(), r.Handle, strconv.FormatInt(r.Score, 10),
			strconv.FormatInt(r.Best, 10), strconv.FormatInt(r.Total, 10), at(r.LastClick), at(r.BestAt)}, ",") + "\n"
		prefix := []byte("x")
		got := appendRecord(prefix[:1:1], r, &te)
		if string(got) != "x"+want {
			t.Fatalf("row %d:\n got %q\nwant %q", i, got, "x"+want)
		}
	}
}

// appendRFC3339Nano appends what putRFC3339Nano writes.
func appendRFC3339Nano(te *timeEncoder, b []byte, ns int64) []byte {
	n := len(b)
	b = slices.Grow(b, maxTimeLen)
	return b[:n+te.putRFC3339Nano(b[n:cap(b)], 0, ns)]
}
