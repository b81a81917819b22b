package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
)

// metricValue reads one series (name plus labels) from s's metrics handler; ok is
// false when it is absent.
func metricValue(t *testing.T, s *Server, series string) (v float64, ok bool) {
	t.Helper()
	w := httptest.NewRecorder()
	s.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	sc := bufio.NewScanner(w.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if rest, found := strings.CutPrefix(sc.Text(), series+" "); found {
			fmt.Sscan(rest, &v)
			return v, true
		}
	}
	return 0, false
}

func mustMetric(t *testing.T, s *Server, series string) float64 {
	t.Helper()
	v, ok := metricValue(t, s, series)
	if !ok {
		t.Fatalf("/metrics has no %s", series)
	}
	return v
}

// flakyStorage is a game whose storage stops answering on demand.
type flakyStorage struct {
	game.Backend
	down atomic.Bool
}

func (f *flakyStorage) Ping(ctx context.Context) error {
	if f.down.Load() {
		return fmt.Errorf("ping: %w", game.ErrUnavailable)
	}
	return f.Backend.Ping(ctx)
}

func TestReadyMetricFollowsReadyz(t *testing.T) {
	g := &flakyStorage{Backend: mustEngine(t)}
	s := mustNew(t, testConfig(), g)
	if v := mustMetric(t, s, "ctb_ready"); v != 0 {
		t.Fatalf("ctb_ready %v before serving, want 0", v)
	}
	s.ready.Store(true) // what Serve does once it listens
	if v := mustMetric(t, s, "ctb_ready"); v != 1 {
		t.Fatalf("ctb_ready %v while serving, want 1", v)
	}
	g.down.Store(true)
	if v := mustMetric(t, s, "ctb_ready"); v != 0 {
		t.Fatalf("ctb_ready %v with the storage down, want 0", v)
	}
	g.down.Store(false)
	s.ready.Store(false) // shutdown begins
	if v := mustMetric(t, s, "ctb_ready"); v != 0 {
		t.Fatalf("ctb_ready %v while shutting down, want 0", v)
	}
}

func TestSnapshotAge(t *testing.T) {
	engine := mustEngine(t)
	s := mustNew(t, testConfigWith(func(c *Config) { c.SnapshotInterval = 5 * time.Second }), engine)
	ctx := context.Background()
	if v := mustMetric(t, s, "ctb_snapshot_interval_seconds"); v != 5 {
		t.Fatalf("ctb_snapshot_interval_seconds %v, want 5", v)
	}
	if v := mustMetric(t, s, "ctb_snapshot_age_seconds"); v != 0 {
		t.Fatalf("age %v of an unchanged game, want 0", v)
	}
	p, err := engine.Join(ctx, "saver")
	if err != nil {
		t.Fatal(err)
	}
	engine.Click(ctx, p)
	// The file is behind since the start; how far, the fake past tells.
	s.metrics.savedAt = time.Now().Add(-time.Minute)
	if v := mustMetric(t, s, "ctb_snapshot_age_seconds"); v < 59 || v > 120 {
		t.Fatalf("age %v a minute after the last write with clicks since, want about 60", v)
	}
	s.ObserveSnapshot(time.Millisecond, 0, errors.New("disk full"))
	if v := mustMetric(t, s, "ctb_snapshot_age_seconds"); v < 59 {
		t.Fatalf("age %v after a failed write, want it to keep growing", v)
	}
	s.ObserveSnapshot(time.Millisecond, 100, nil)
	if v := mustMetric(t, s, "ctb_snapshot_age_seconds"); v != 0 {
		t.Fatalf("age %v right after a write, want 0", v)
	}
	engine.Click(ctx, p)
	if v := mustMetric(t, s, "ctb_snapshot_age_seconds"); v <= 0 {
		t.Fatalf("age %v with a click since the write, want more than 0", v)
	}
}

func TestSnapshotIntervalOptional(t *testing.T) {
	s := mustNew(t, testConfig(), mustEngine(t))
	if _, ok := metricValue(t, s, "ctb_snapshot_interval_seconds"); ok {
		t.Fatal("ctb_snapshot_interval_seconds without an interval configured")
	}
}

func TestLabelledMetricsStartAtZero(t *testing.T) {
	s := mustNew(t, testConfig(), mustEngine(t))
	refused, limited, ops := metricLabels()
	var series []string
	for _, r := range refused {
		series = append(series, `ctb_ws_frames_refused_total{reason="`+r+`"}`)
	}
	for _, l := range limited {
		series = append(series, `ctb_http_limited_total{limit="`+l+`"}`)
	}
	for _, op := range ops {
		series = append(series, `ctb_backend_errors_total{op="`+op+`"}`)
	}
	for _, name := range series {
		if v := mustMetric(t, s, name); v != 0 {
			t.Errorf("%s = %v at the start", name, v)
		}
	}
}
