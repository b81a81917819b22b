package server

import (
	"net/http"
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
		return collectorFunc{desc: desc, typ: typ, f: f}
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
	m.framesRefused.WithLabelValues("invalid") // present from the start, at 0
	m.backendErrors.WithLabelValues("click")
	return m
}

// collectorFunc exposes one engine count as a metric.
type collectorFunc struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
	f    func() int64
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c collectorFunc) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.desc, c.typ, float64(c.f()))
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
	s.metrics.snapSize.Set(float64(size))
	s.metrics.snapLastSuccess.Set(float64(time.Now().UnixNano()) / 1e9)
}
