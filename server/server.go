// Package server serves Click the Button over HTTP and WebSocket: the page, the JSON
// API, signed identities and the coalesced leaderboard broadcast. It knows the game
// only through the Game interface and nothing of how scores are stored.
package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/olahol/melody"
)

// Route paths.
const (
	pathHealth      = "/healthz"
	pathAPI         = "/api"
	pathSession     = "/session"     // under pathAPI
	pathLeaderboard = "/leaderboard" // under pathAPI
	pathWS          = "/ws"
)

// Game is what the server needs of the game engine.
type Game interface {
	Join(handle string) (*game.Player, error)
	Get(id uuid.UUID) *game.Player
	Restore(id uuid.UUID, handle string) (*game.Player, error)
	Rename(p *game.Player, handle string) (string, error)
	Click(p *game.Player, now time.Time) game.ClickResult
	State(p *game.Player, now time.Time) game.State
	Attach(p *game.Player)
	Detach(p *game.Player)
	Tick() (game.Update, bool)
	Board() game.Update
	Stats() game.Stats
	Config() game.Config
}

// Server is the HTTP and WebSocket front of one game.
type Server struct {
	cfg     Config
	game    Game
	id      identity
	origins map[string]bool
	echo    *echo.Echo
	ws      *melody.Melody
	hub     *hub

	sockets sync.WaitGroup // WebSocket handlers still running
}

// New wires a server for g. It does not listen yet.
func New(cfg Config, g Game) *Server {
	cfg.setDefaults()
	s := &Server{
		cfg:     cfg,
		game:    g,
		id:      newIdentity(cfg.Secret),
		origins: make(map[string]bool),
	}
	for _, o := range cfg.AllowedOrigins {
		if n, ok := normalizeOrigin(o); ok {
			s.origins[n] = true
		}
	}
	s.hub = newHub(s)
	s.ws = s.newMelody()
	s.echo = s.routes()
	return s
}

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.Use(securityHeaders, recoverJSON(s.cfg.Log))

	// Probes sit at the root.
	e.GET(pathHealth, s.handleHealth)

	// The JSON API.
	api := e.Group(pathAPI, limitBody)
	api.GET(pathSession, s.handleGetSession)
	api.POST(pathSession, s.handlePostSession)
	api.GET(pathLeaderboard, s.handleLeaderboard)

	// The live socket.
	e.GET(pathWS, s.handleWS)

	// Everything else is the page.
	e.GET("/*", pageHandler(s.cfg.Page))
	return e
}

// Handler returns the server's HTTP handler, for tests.
func (s *Server) Handler() http.Handler { return s.echo }

// Serve accepts connections on l until ctx is done, then shuts down: it stops
// accepting, closes every socket with "going away", waits for handlers to finish (at
// most for grace) and returns. The caller writes the final snapshot after that, so
// every click acknowledged before ctx ended is in it.
func (s *Server) Serve(ctx context.Context, l net.Listener, grace time.Duration) error {
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          nil,
	}
	hubCtx, stopHub := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); s.hub.run(hubCtx) }()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()

	var err error
	select {
	case err = <-served:
	case <-ctx.Done():
	}
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
