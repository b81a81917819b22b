package server

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics, on a registry of its own. Counts the
// engine already keeps (clicks, players, online) are read from it at scrape time, so
// the click path pays nothing for them.
type metrics struct {
	reg *prometheus.Registry

	framesRefused   *prometheus.CounterVec
	framesDropped   prometheus.Counter
	wsConnects      prometheus.Counter
	wsDisconnects   prometheus.Counter
	tickDuration    prometheus.Histogram
	snapDuration    prometheus.Histogram
	snapSize        prometheus.Gauge
	snapLastSuccess prometheus.Gauge
	snapFailures    prometheus.Counter
	httpLimited     *prometheus.CounterVec
	backendErrors   *prometheus.CounterVec

	// What the last successful snapshot saved, for ctb_snapshot_age_seconds.
	savedMu    sync.Mutex
	savedAt    time.Time
	savedStats savedCounts
}

// savedCounts are the counts a snapshot must follow: when they moved since the last
// write, the file is behind the game.
type savedCounts struct{ clicks, players int64 }

func countsOf(st game.Stats) savedCounts { return savedCounts{st.TotalClicks, st.Players} }

// Label values every metric with labels shows from the start, at 0, so that rate() and
// the dashboard's panels have a series before the first event.
func metricLabels() (framesRefused, httpLimited, backendOps []string) {
	return []string{"invalid", "binary", "too_large", "flood", "unknown_type"},
		[]string{"max_conns", "conns_per_ip", "new_players_per_ip", "sockets_per_ip"},
		[]string{"click", "tick", "attach"}
}

func newMetrics(g game.Backend) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		framesRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctb_ws_frames_refused_total",
			Help: "Client WebSocket frames refused, by reason.",
		}, []string{"reason"}),
		framesDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ctb_ws_frames_dropped_total",
			Help: "Frames not sent to a socket whose send queue was full; the socket then gets the full board.",
		}),
		wsConnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ctb_ws_connects_total",
			Help: "WebSocket sessions opened.",
		}),
		wsDisconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ctb_ws_disconnects_total",
			Help: "WebSocket sessions closed.",
		}),
		tickDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ctb_leaderboard_tick_duration_seconds",
			Help:    "Time to fold changes into the leaderboard and queue the frames to every socket.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16),
		}),
		snapDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ctb_snapshot_duration_seconds",
			Help:    "Time to write one snapshot of the scores, successful or not.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		snapSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ctb_snapshot_size_bytes",
			Help: "Size of the last snapshot written.",
		}),
		snapLastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ctb_snapshot_last_success_timestamp_seconds",
			Help: "Unix time of the last successful snapshot.",
		}),
		snapFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ctb_snapshot_failures_total",
			Help: "Snapshots that failed to write; the previous file stays and the write is retried.",
		}),
		httpLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctb_http_limited_total",
			Help: "Requests refused by a server limit, by limit.",
		}, []string{"limit"}),
		backendErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ctb_backend_errors_total",
			Help: "Calls to the game's storage (Redis) that failed, by operation. Always 0 in memory.",
		}, []string{"op"}),
	}
	stat := func(name, help string, typ prometheus.ValueType, f func() int64, labels ...string) prometheus.Collector {
		var constLabels prometheus.Labels
		if len(labels) == 2 {
			constLabels = prometheus.Labels{labels[0]: labels[1]}
		}
		desc := prometheus.NewDesc(name, help, nil, constLabels)
		return collectorFunc{desc: desc, typ: typ, f: func() float64 { return float64(f()) }}
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.framesRefused, m.framesDropped, m.wsConnects, m.wsDisconnects, m.tickDuration,
		m.snapDuration, m.snapSize, m.snapLastSuccess, m.snapFailures, m.httpLimited, m.backendErrors,
		stat("ctb_clicks_total", "Clicks counted, across restarts.", prometheus.CounterValue, func() int64 { return g.Stats().TotalClicks }),
		// The throttle is the one reason the engine refuses a click; frames refused
		// before they reach it are in ctb_ws_frames_refused_total.
		stat("ctb_clicks_refused_total", "Click attempts refused since the start, by reason.", prometheus.CounterValue, func() int64 { return g.Stats().Refused }, "reason", "throttled"),
		stat("ctb_players", "Players known to the game.", prometheus.GaugeValue, func() int64 { return g.Stats().Players }),
		stat("ctb_players_online", "Players with at least one open socket.", prometheus.GaugeValue, func() int64 { return g.Stats().Online }),
		stat("ctb_players_online_peak", "Highest number of players online at once since the start.", prometheus.GaugeValue, func() int64 { return g.Stats().PeakOnline }),
		stat("ctb_players_returning_total", "Players who came back after 30 minutes or more away, since the start.", prometheus.CounterValue, func() int64 { return g.Stats().Returning }),
	)
	// What was loaded at the start is on disk already (memory), or in Redis.
	m.savedAt, m.savedStats = time.Now(), countsOf(g.Stats())
	m.reg.MustRegister(collectorFunc{
		desc: prometheus.NewDesc("ctb_snapshot_age_seconds",
			"Seconds the game has been ahead of its last snapshot: 0 while clicks and players are as the last write (or the start) left them, "+
				"else the time since that write. With Redis only the node writing the backup keeps it low.", nil, nil),
		typ: prometheus.GaugeValue,
		f:   func() float64 { return m.snapshotAge(g, time.Now()) },
	})
	refused, limited, ops := metricLabels()
	for _, r := range refused {
		m.framesRefused.WithLabelValues(r)
	}
	for _, l := range limited {
		m.httpLimited.WithLabelValues(l)
	}
	for _, op := range ops {
		m.backendErrors.WithLabelValues(op)
	}
	return m
}

// snapshotAge is how long the game has been ahead of its last snapshot.
func (m *metrics) snapshotAge(g game.Backend, now time.Time) float64 {
	m.savedMu.Lock()
	defer m.savedMu.Unlock()
	if countsOf(g.Stats()) == m.savedStats {
		return 0
	}
	return now.Sub(m.savedAt).Seconds()
}

// registerServer adds the metrics that need the server itself.
func (m *metrics) registerServer(s *Server) {
	m.reg.MustRegister(collectorFunc{
		desc: prometheus.NewDesc("ctb_ready", "1 while /readyz answers 200: serving, not shutting down, and the game's storage answers.", nil, nil),
		typ:  prometheus.GaugeValue,
		f: func() float64 {
			if s.isReady(context.Background()) {
				return 1
			}
			return 0
		},
	})
	if s.cfg.SnapshotInterval > 0 {
		m.reg.MustRegister(collectorFunc{
			desc: prometheus.NewDesc("ctb_snapshot_interval_seconds", "How often scores.csv is written when something changed (--snapshot-interval).", nil, nil),
			typ:  prometheus.GaugeValue,
			f:    func() float64 { return s.cfg.SnapshotInterval.Seconds() },
		})
	}
}

// collectorFunc exposes one value read at scrape time as a metric.
type collectorFunc struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
	f    func() float64
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c collectorFunc) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.desc, c.typ, c.f())
}

// MetricsHandler serves the Prometheus metrics, for a listener of their own.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
}

// ObserveSnapshot records one snapshot attempt: how long it took, the file's size and
// whether it failed.
func (s *Server) ObserveSnapshot(took time.Duration, size int64, err error) {
	s.metrics.snapDuration.Observe(took.Seconds())
	if err != nil {
		s.metrics.snapFailures.Inc()
		return
	}
	now := time.Now()
	s.metrics.snapSize.Set(float64(size))
	s.metrics.snapLastSuccess.Set(float64(now.UnixNano()) / 1e9)
	s.metrics.savedMu.Lock()
	s.metrics.savedAt, s.metrics.savedStats = now, countsOf(s.game.Stats())
	s.metrics.savedMu.Unlock()
}
