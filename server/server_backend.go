package server

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/labstack/echo/v4"
)

// How the server meets a backend that fails: the HTTP answers and error frames that
// say why, the log lines (at most one per operation and second, however many clicks
// fail), and the events another process of the same game sends.

// sessionError answers a failed playerOf: 401 without a session, 503 while the
// storage is unreachable.
func (s *Server) sessionError(op string, err error) error {
	if errors.Is(err, errNoIdentity) {
		return echo.NewHTTPError(http.StatusUnauthorized, "no session: choose a handle first")
	}
	return s.backendError(op, err)
}

// backendError turns an error of the game into the HTTP answer that says why: 400 for
// a refused handle, 404 for an unknown player, 503 while the storage is unreachable.
// Anything else is a 500 and a log line.
func (s *Server) backendError(op string, err error) error {
	var banned *game.BannedError
	switch {
	case errors.Is(err, game.ErrInvalidHandle):
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	case errors.As(err, &banned):
		return &echo.HTTPError{Code: http.StatusForbidden, Message: banned.Error(), Internal: err}
	case errors.Is(err, game.ErrHandleLocked):
		return &echo.HTTPError{Code: http.StatusForbidden, Message: game.ErrHandleLocked.Error(), Internal: err}
	case errors.Is(err, game.ErrNoPlayer):
		return echo.NewHTTPError(http.StatusNotFound, err.Error())
	case errors.Is(err, game.ErrUnavailable):
		s.metrics.backendErrors.WithLabelValues(op).Inc()
		return &echo.HTTPError{Code: http.StatusServiceUnavailable, Message: pausedMessage, Internal: err}
	}
	s.metrics.backendErrors.WithLabelValues(op).Inc()
	return fmt.Errorf("%s: %w", op, err)
}

// onEvent acts on a change another process of the same game made.
func (s *Server) onEvent(ev game.Event) {
	switch ev.Kind {
	case game.PlayerRemoved:
		s.hub.closePlayer(ev.ID, closeRemoved, adminCloseReason)
	case game.PlayerBanned:
		s.hub.closePlayer(ev.ID, closeBanned, banCloseReason(ev.Reason))
	}
}

// backendLog writes at most one line per operation and interval about failing backend
// calls, with how many failed since the last line, so an outage of the storage under
// thousands of clicks a second stays readable.
type backendLog struct {
	every time.Duration

	mu   sync.Mutex
	last map[string]time.Time
	n    map[string]int
}

func newBackendLog(every time.Duration) *backendLog {
	return &backendLog{every: every, last: make(map[string]time.Time), n: make(map[string]int)}
}

// logBackend logs a failed backend call, rate-limited per op.
func (s *Server) logBackend(op string, err error) {
	l := s.backendLog
	now := time.Now()
	l.mu.Lock()
	l.n[op]++
	if now.Sub(l.last[op]) < l.every {
		l.mu.Unlock()
		return
	}
	n := l.n[op]
	l.last[op], l.n[op] = now, 0
	l.mu.Unlock()
	s.cfg.Log.Warn("game storage call failed", "op", op, "failures", n, "err", err)
}
