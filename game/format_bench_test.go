package game

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

// BenchmarkAppendRecord formats one row of the scores file into a buffer that is
// reset every 64 KB, without the memory misses of reading a million players: the
// formatting's share of a snapshot.
func BenchmarkAppendRecord(b *testing.B) {
	recs := make([]Record, 1024)
	for i := range recs {
		recs[i] = benchRecord(uuid.New(), i*977, t0.Add(time.Duration(i)*time.Hour))
	}
	buf := make([]byte, 0, 1<<16+256)
	var te timeEncoder
	i := 0
	for b.Loop() {
		if len(buf) > 1<<16 {
			buf = buf[:0]
		}
		buf = appendRecord(buf, recs[i&1023], &te)
		i++
	}
}
