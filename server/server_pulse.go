package server

import (
	"slices"
	"time"
)

// pulseSeconds is how far back the game's pulse looks: one bucket per second.
const pulseSeconds = 60

// pulse is the game's clicks per second over the last minute, derived from the one
// figure every backend already publishes at each tick: the total of counted clicks
// (in Redis mode, the whole game's, every node's clicks included). No click path pays
// for it, and every node of one game computes the same buckets from the same counter.
//
// Buckets are whole seconds of the wall clock. The clicks of a second are the growth of
// the total between the first tick seen in that second and the first tick seen in the
// next one, so a bucket is only published once it is complete.
type pulse struct {
	sec  int64 // Unix second of the open bucket
	base int64 // the total at the first tick of sec
	rate []int64
}

// newPulse starts a pulse from the total at now: the clicks before it are history the
// counter cannot date.
func newPulse(now time.Time, total int64) *pulse {
	return &pulse{sec: now.Unix(), base: total, rate: make([]int64, pulseSeconds)}
}

// observe takes the total seen at a tick and reports whether the published rate changed,
// which happens only when a second completed.
func (p *pulse) observe(now time.Time, total int64) bool {
	s := now.Unix()
	if s <= p.sec {
		// The same second, or a clock stepped back: wait for the clock to pass sec.
		return false
	}
	gap := s - p.sec
	// A total that shrank (a moderator removed a player and their clicks left it, or
	// unplayed players were forgotten) is no negative pace: those seconds count 0.
	d := max(total-p.base, 0)
	p.sec, p.base = s, total

	before := slices.Clone(p.rate)
	// Ticks normally come every 100 ms; after a stall that spanned several seconds the
	// clicks are spread evenly over them instead of piling into one spike.
	per, extra := d/gap, d%gap
	for i := max(0, gap-pulseSeconds); i < gap; i++ {
		v := per
		if i >= gap-extra {
			v++
		}
		copy(p.rate, p.rate[1:])
		p.rate[pulseSeconds-1] = v
	}
	return !slices.Equal(before, p.rate)
}

// snapshot returns a copy of the rate, oldest second first, for a frame.
func (p *pulse) snapshot() []int64 {
	return slices.Clone(p.rate)
}
