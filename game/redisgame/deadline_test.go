package redisgame

import (
	"context"
	"testing"
	"time"
)

// TestSharedDeadline: every call gets at least the timeout and at most a quarter more,
// calls within a quarter of the timeout share one context, and the shared context is
// not cancelled when a newer one replaces it (calls may still wait on it).
func TestSharedDeadline(t *testing.T) {
	const timeout = 8 * time.Second
	var s sharedDeadline
	t0 := time.Now()
	var prev context.Context
	for _, step := range []struct {
		at   time.Duration
		same bool // the context of the step before
	}{
		{0, false},
		{time.Second, true},
		{timeout/4 - time.Millisecond, true},
		{timeout / 4, false},
		{timeout/4 + time.Second, true},
		{3 * timeout, false},
	} {
		now := t0.Add(step.at)
		ctx := s.get(now, timeout)
		dl, ok := ctx.Deadline()
		if !ok {
			t.Fatalf("at %v: no deadline", step.at)
		}
		if left := dl.Sub(now); left < timeout || left > timeout+timeout/4 {
			t.Errorf("at %v: %v left, want between %v and %v", step.at, left, timeout, timeout+timeout/4)
		}
		if (ctx == prev) != step.same {
			t.Errorf("at %v: same context as before %v, want %v", step.at, ctx == prev, step.same)
		}
		if prev != nil && prev != ctx && step.at < timeout && prev.Err() != nil {
			t.Errorf("at %v: the replaced context was cancelled before its deadline: %v", step.at, prev.Err())
		}
		prev = ctx
	}
}

// TestOpKeepsCancellation: a caller that can cancel gets a context of its own, cancelled
// with it; one that cannot gets the shared one.
func TestOpKeepsCancellation(t *testing.T) {
	b := &Backend{opts: Options{OpTimeout: time.Second}}
	parent, cancel := context.WithCancel(context.Background())
	ctx, done := b.op(parent)
	defer done()
	cancel()
	if ctx.Err() == nil {
		t.Error("cancelling the caller's context did not cancel the call's")
	}
	a, _ := b.op(context.Background())
	c, _ := b.op(context.Background())
	if a != c {
		t.Error("two uncancellable calls in a row got different contexts")
	}
}
