// Package server serves Click the Button over HTTP and WebSocket: the page, the JSON
// API, signed identities and the coalesced leaderboard broadcast. It knows the game
// only through the game.Backend interface and nothing of how scores are stored.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/labstack/echo/v4"
	"github.com/olahol/melody"
)

// Route paths.
const (
	pathHealth      = "/healthz"
	pathReady       = "/readyz"
	pathMetrics     = "/metrics"
	pathStats       = "/stats" // under pathAPI
	pathAPI         = "/api"
	pathSession     = "/session"     // under pathAPI
	pathLeaderboard = "/leaderboard" // under pathAPI
	pathAdmin       = "/api/admin"
	pathWS          = "/ws"
)

// Server is the HTTP and WebSocket front of one game.
type Server struct {
	cfg     Config
	game    game.Backend
	id      identity
	origins map[string]bool
	echo    *echo.Echo
	ws      *melody.Melody
	hub     *hub
	metrics *metrics

	// The public reads, encoded once per tick.
	leaderboard, stats *publicRead

	newPlayers *ipRate  // players created per client address and minute
	ipSockets  *ipCount // open sockets per client address
	backendLog *backendLog

	ready   atomic.Bool    // serving, and not shutting down
	sockets sync.WaitGroup // WebSocket handlers still running
}

// New wires a server for g. It does not listen yet.
func New(cfg Config, g game.Backend) (*Server, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		game:    g,
		id:      newIdentity(cfg.Secret),
		origins: make(map[string]bool),
		metrics: newMetrics(g),

		newPlayers: newIPRate(cfg.NewPlayersPerMinute, time.Minute),
		ipSockets:  newIPCount(cfg.SocketsPerIP),
		backendLog: newBackendLog(time.Second),
	}
	for _, o := range cfg.AllowedOrigins {
		if n, ok := normalizeOrigin(o); ok {
			s.origins[n] = true
		}
	}
	s.hub = newHub(s)
	s.metrics.registerServer(s)
	s.leaderboard = newPublicRead(&s.hub.ticks, s.leaderboardBody)
	s.stats = newPublicRead(&s.hub.ticks, s.statsBody)
	s.ws = s.newMelody()
	e, err := s.routes()
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.echo = e
	g.Watch(s.onEvent)
	return s, nil
}

func (s *Server) routes() (*echo.Echo, error) {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.IPExtractor = ipExtractor(s.cfg.TrustedProxies)
	e.Use(accessLog(s.cfg.Log), securityHeaders(s.cfg.TLS != nil), recoverJSON(s.cfg.Log))
	// State-changing API requests only as JSON and only from the page's own site (CSRF).
	e.Use(s.guardAPIWrites)

	// Probes and metrics sit at the root, whatever the base path.
	e.GET(pathHealth, s.handleHealth)
	e.GET(pathReady, s.handleReady)
	if s.cfg.MetricsOnMain {
		e.GET(pathMetrics, echo.WrapHandler(s.MetricsHandler()))
	}

	// Everything else lives under the base path ("" serves at the root).
	root := e.Group(s.cfg.BasePath)
	if s.cfg.BasePath != "" {
		// Relative asset and API URLs need the trailing slash.
		e.GET(s.cfg.BasePath, func(c echo.Context) error {
			return c.Redirect(http.StatusMovedPermanently, s.cfg.BasePath+"/")
		})
	}

	// The JSON API.
	api := root.Group(pathAPI, limitBody)
	api.GET(pathSession, s.handleGetSession)
	api.POST(pathSession, s.handlePostSession)
	api.GET(pathLeaderboard, s.handleLeaderboard)
	api.GET(pathStats, s.handleStats)

	// Moderation, only when an admin token is configured.
	if s.cfg.AdminToken != "" {
		s.adminRoutes(root.Group(pathAdmin, limitBody))
	}

	// The live socket.
	root.GET(pathWS, s.handleWS)

	// Everything else is the page.
	page, err := pageHandler(s.cfg.Page, s.cfg.BasePath)
	if err != nil {
		return nil, err
	}
	root.GET("/*", page)
	return e, nil
}

// Handler returns the server's HTTP handler, for tests.
func (s *Server) Handler() http.Handler { return s.echo }

// Serve accepts connections on l (plain TCP; Config.TLS adds TLS) until ctx is done, then shuts down: it stops
// accepting, closes every socket with "going away", waits for handlers to finish (at
// most for grace) and returns. The caller writes the final snapshot after that, so
// every click acknowledged before ctx ended is in it.
func (s *Server) Serve(ctx context.Context, l net.Listener, grace time.Duration) error {
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.cfg.Log.Handler(), slog.LevelDebug),
	}
	// Innermost, so that every close, a refusal's included, lets what was sent arrive.
	l = lingerListener{l}
	if s.cfg.ConnsPerIP > 0 {
		// Inside the global cap, so that a connection one address is refused never takes
		// one of everybody's slots, even for the moment its refusal takes.
		l = &ipConnListener{Listener: l, conns: newIPCount(s.cfg.ConnsPerIP), key: s.connKey, plain: s.cfg.TLS == nil,
			response: plainResponse(http.StatusTooManyRequests, 5, fmt.Sprintf("at most %d connections at once from one address; try again in a while", s.cfg.ConnsPerIP)),
			refused:  func() { s.metrics.httpLimited.WithLabelValues("conns_per_ip").Inc() }}
	}
	if s.cfg.MaxConns > 0 {
		l = &limitListener{Listener: l, max: int64(s.cfg.MaxConns), plain: s.cfg.TLS == nil, refused: func() {
			s.metrics.httpLimited.WithLabelValues("max_conns").Inc()
		}}
	}
	if s.cfg.TLS != nil {
		// Outside the cap, so that the HTTP server sees *tls.Conn and sets r.TLS.
		l = tls.NewListener(l, s.cfg.TLS)
	}
	hubCtx, stopHub := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); s.hub.run(hubCtx) }()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	s.ready.Store(true)

	var err error
	select {
	case err = <-served:
	case <-ctx.Done():
	}
	s.ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil && err == nil {
		err = serr
	}
	s.ws.CloseWithMsg(melody.FormatCloseMessage(melody.CloseGoingAway, "server shutting down"))
	waitTimeout(&s.sockets, sctx)
	stopHub()
	<-hubDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func waitTimeout(wg *sync.WaitGroup, ctx context.Context) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func (s *Server) handleHealth(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok", "version": s.cfg.Version})
}

// handleReady answers 200 once the scores are loaded and the server listens, while the
// game's storage answers; 503 from the moment shutdown begins or while the storage
// is unreachable.
func (s *Server) handleReady(c echo.Context) error {
	if !s.ready.Load() {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
	}
	if !s.storageAnswers(c.Request().Context()) {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": "the game's storage is unreachable"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

// isReady is what /readyz answers, as a boolean (ctb_ready).
func (s *Server) isReady(ctx context.Context) bool {
	return s.ready.Load() && s.storageAnswers(ctx)
}

// storageAnswers pings the game's storage, within readyTimeout.
func (s *Server) storageAnswers(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := s.game.Ping(ctx); err != nil {
		// The probe is public: the details (addresses, errors) go to the log only.
		s.logBackend("ready", err)
		return false
	}
	return true
}
