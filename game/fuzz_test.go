package game

import (
	"bytes"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// lineRef finds the line an error names: "line 3" from our messages, "record on line
// 3" and "parse error on line 3, column 4" from encoding/csv.
var lineRef = regexp.MustCompile(`\bline (\d+)\b`)

// FuzzReadSnapshot: no input can panic the loader; every refusal names the file and a
// line that exists; every input that loads writes back to a file that loads again to
// the same players, the same board and the same bytes.
//
//	go test -run '^$' -fuzz FuzzReadSnapshot -fuzztime 2m ./game/
func FuzzReadSnapshot(f *testing.F) {
	sample := snapshot(f, sampleEngine(f), at(time.Minute))
	id1, id2 := idN(1).String(), idN(2).String()
	seeds := []string{
		string(sample),
		header + "\n",
		"",
		"id,handle,score,best,total,last_click\n" + id1 + ",nine,0,5,9,2030-06-01T12:00:00Z\n" + id2 + ",three,2,5,5,\n",
		header + "\n" + id1 + `,"quoted",1,1,1,2030-06-01T12:00:00Z,2030-06-01T12:00:00Z` + "\n",
		header + "\r\n" + id1 + ",crlf,1,1,1,2030-06-01T12:00:00.5Z,\r\n",
		header + "\n" + id1 + ",no newline at the end,0,0,0,,",
		header + "\n" + id1 + ",a,1,1,1,,\n" + id1 + ",dup,1,1,1,,\n",
		header + "\n" + id1 + ",\"cut in a quote,1,1,1,,\n",
		"\ufeff" + header + "\n",
		header + "\n" + id1 + ",far future,1,1,1,2300-01-01T00:00:00Z,1970-01-01T00:00:00Z\n",
		header + "\n" + id1 + ",big,0,0,9223372036854775807,,\n" + id2 + ",big2,0,0,9223372036854775807,,\n",
	}
	for i := 1; i < len(sample); i += len(sample) / 7 {
		seeds = append(seeds, string(sample[:i]))
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	const name = "fuzz.csv"
	now := at(time.Minute)
	f.Fuzz(func(t *testing.T, data []byte) {
		e := newEngine(t, nil)
		n, err := readSnapshot(bytes.NewReader(data), name, e)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, name+": ") {
				t.Fatalf("error %q does not start with the file name", msg)
			}
			m := lineRef.FindStringSubmatch(msg)
			if m == nil {
				t.Fatalf("error %q names no line", msg)
			}
			if l, _ := strconv.Atoi(m[1]); l < 1 || l > bytes.Count(data, []byte("\n"))+1 {
				t.Fatalf("error %q names a line the input does not have", msg)
			}
			return
		}
		if got := e.Stats().Players; got != int64(n) {
			t.Fatalf("ReadSnapshot said %d players, the engine holds %d", n, got)
		}
		var out bytes.Buffer
		if err := writeSnapshot(&out, e, now); err != nil {
			t.Fatal(err)
		}
		e2 := newEngine(t, nil)
		n2, err := readSnapshot(bytes.NewReader(out.Bytes()), name, e2)
		if err != nil {
			t.Fatalf("a loaded file, written back, does not load: %v\ninput:\n%q\nwritten:\n%q", err, data, out.Bytes())
		}
		if n2 != n {
			t.Fatalf("loaded %d players, then %d after the write", n, n2)
		}
		if a, b := records(e, now), records(e2, now); !equalRecords(a, b) {
			t.Fatalf("records changed by a write and load:\n%+v\n%+v", a, b)
		}
		if a, b := e.Board().Rows, e2.Board().Rows; !equalRows(a, b) {
			t.Fatalf("board changed by a write and load:\n%v\n%v", a, b)
		}
		var again bytes.Buffer
		if err := writeSnapshot(&again, e2, now); err != nil {
			t.Fatal(err)
		}
		// The same rows, byte for byte. Their order follows the store's slots, which may
		// differ between two loads of the same rows (a probe chain that wraps around
		// the end of a table), so the rows are compared sorted.
		if a, b := sortedLines(again.Bytes()), sortedLines(out.Bytes()); !slices.Equal(a, b) {
			t.Fatalf("second write differs:\n%q\n%q", again.Bytes(), out.Bytes())
		}
	})
}

func sortedLines(b []byte) []string {
	lines := strings.Split(string(b), "\n")
	slices.Sort(lines)
	return lines
}
