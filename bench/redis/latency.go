package main

import (
	"math/bits"
	"time"
)

// histogram counts latencies in log-linear buckets: exact below 64 ns, then 64
// buckets per power of two, so a quantile read from it is within 1/64 (1.6%) of the
// true value. Its size is fixed (under 20 KB) however many calls it counts, so each
// caller goroutine can keep its own and none of them contends on a shared one.
type histogram struct {
	counts [subBuckets * 64]uint64
	n      uint64
}

// subBuckets is the number of buckets per power of two, and the exact range.
const (
	subBits    = 6
	subBuckets = 1 << subBits
)

// bucketOf is the index of the bucket that holds v nanoseconds.
func bucketOf(v uint64) int {
	if v < subBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1 // keeps the top subBits+1 bits of v
	return (shift+1)*subBuckets + int(v>>shift) - subBuckets
}

// bucketBounds are the smallest and largest value, in nanoseconds, of bucket i.
func bucketBounds(i int) (lo, hi uint64) {
	if i < subBuckets {
		return uint64(i), uint64(i)
	}
	shift := i/subBuckets - 1
	lo = uint64(i%subBuckets+subBuckets) << shift
	return lo, lo + 1<<shift - 1
}

// record counts one latency.
func (h *histogram) record(d time.Duration) {
	h.counts[bucketOf(uint64(max(d, 0)))]++
	h.n++
}

// merge adds o's counts to h.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile is the latency below which a fraction q of the counted ones fall: the
// middle of the bucket that holds the q·n-th smallest.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n-1)) + 1 // 1-based rank of the wanted value
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			lo, hi := bucketBounds(i)
			return time.Duration(lo + (hi-lo)/2)
		}
	}
	return 0 // not reached: the counts add up to n
}
