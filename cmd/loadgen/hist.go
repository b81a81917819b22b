package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// hist is a lock-free log-linear histogram of durations in microseconds: exact below
// 128 µs, then 64 buckets per power of two (about 1.6% resolution). Histograms from
// several processes merge by adding counts, so percentiles over every process are exact
// to the bucket.
type hist struct {
	counts [histBuckets]atomic.Uint64
	max    atomic.Uint64
	n      atomic.Uint64
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits
	histHalf    = histSub / 2
	histBuckets = histSub + 64*histHalf
)

func histBucket(v uint64) int {
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - histSubBits // >= 1
	m := v >> e                      // in [histHalf, histSub)
	return e*histHalf + int(m)
}

// histLow is the smallest value of bucket b; histMid its middle.
func histLow(b int) uint64 {
	if b < histSub {
		return uint64(b)
	}
	e := b/histHalf - 1
	m := uint64(b%histHalf + histHalf)
	return m << e
}

func histMid(b int) uint64 {
	if b < histSub {
		return uint64(b)
	}
	lo, hi := histLow(b), histLow(b+1)
	return lo + (hi-lo)/2
}

func (h *hist) add(d time.Duration) {
	v := uint64(0)
	if d > 0 {
		v = uint64(d / time.Microsecond)
	}
	h.counts[histBucket(v)].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			break
		}
	}
}

// histData is the serialised form: sparse bucket counts.
type histData struct {
	N       uint64         `json:"n"`
	MaxUS   uint64         `json:"max_us"`
	Buckets map[int]uint64 `json:"buckets,omitempty"`
}

func (h *hist) data() histData {
	d := histData{N: h.n.Load(), MaxUS: h.max.Load(), Buckets: map[int]uint64{}}
	for i := range h.counts {
		if c := h.counts[i].Load(); c > 0 {
			d.Buckets[i] = c
		}
	}
	return d
}

func (d *histData) merge(o histData) {
	if d.Buckets == nil {
		d.Buckets = map[int]uint64{}
	}
	d.N += o.N
	if o.MaxUS > d.MaxUS {
		d.MaxUS = o.MaxUS
	}
	for b, c := range o.Buckets {
		d.Buckets[b] += c
	}
}

// quantile returns the q-quantile in milliseconds (0 when empty).
func (d histData) quantile(q float64) float64 {
	if d.N == 0 {
		return 0
	}
	rank := uint64(q*float64(d.N) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for b := 0; b < histBuckets; b++ {
		seen += d.Buckets[b]
		if seen >= rank {
			v := histMid(b)
			if v > d.MaxUS {
				v = d.MaxUS
			}
			return float64(v) / 1000
		}
	}
	return float64(d.MaxUS) / 1000
}

// summary is what reports show of a histogram.
type summary struct {
	N     uint64  `json:"n"`
	P50ms float64 `json:"p50_ms"`
	P90ms float64 `json:"p90_ms"`
	P99ms float64 `json:"p99_ms"`
	Maxms float64 `json:"max_ms"`
}

func (d histData) summary() summary {
	return summary{N: d.N, P50ms: d.quantile(0.5), P90ms: d.quantile(0.9), P99ms: d.quantile(0.99), Maxms: float64(d.MaxUS) / 1000}
}
