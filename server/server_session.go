package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/clickthebutton/clickthebutton/internal/protocol"
	"net/http"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/labstack/echo/v4"
)

// playerOf returns the player of r's session cookie: errNoIdentity without a valid
// one. A valid cookie for a player the game does not know (its snapshot was lost)
// brings that player back with no score.
func (s *Server) playerOf(r *http.Request) (game.Player, error) {
	id, handle, err := s.id.fromRequest(r)
	if err != nil {
		return nil, err
	}
	p, err := s.game.Restore(r.Context(), id, handle)
	if errors.Is(err, game.ErrInvalidHandle) {
		return nil, errNoIdentity
	}
	return p, err
}

func (s *Server) sessionBody(p game.Player) sessionResponse {
	return sessionResponse{
		Session: newSessionJSON(s.game.State(p), s.id.tag(p.ID())),
		Rules:   newRulesJSON(s.game.Config()),
	}
}

// handleGetSession answers the cookie's session. Without one it is 401, unless the
// request says the session is optional (?optional=1, as the page asks on every visit):
// then 204, since a first visit is no error and a browser logs every 401 as one.
func (s *Server) handleGetSession(c echo.Context) error {
	p, err := s.playerOf(c.Request())
	if errors.Is(err, errNoIdentity) && c.QueryParam("optional") != "" {
		return c.NoContent(http.StatusNoContent)
	}
	if err != nil {
		return s.sessionError("session", err)
	}
	return c.JSON(http.StatusOK, s.sessionBody(p))
}

type sessionRequest struct {
	Handle *string `json:"handle"`
}

// decodeHandle reads a {"handle":"..."} body, or says what is wrong with it.
func decodeHandle(c echo.Context) (string, error) {
	var req sessionRequest
	dec := json.NewDecoder(c.Request().Body)
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", err
		}
		return "", echo.NewHTTPError(http.StatusBadRequest, `body must be a JSON object like {"handle":"alice"}`)
	}
	if dec.More() {
		return "", echo.NewHTTPError(http.StatusBadRequest, "body must hold a single JSON object")
	}
	if req.Handle == nil {
		return "", echo.NewHTTPError(http.StatusBadRequest, `"handle" is required`)
	}
	return *req.Handle, nil
}

// handlePostSession creates a player, or renames the cookie's player, and sets a fresh
// cookie holding the id and the handle.
func (s *Server) handlePostSession(c echo.Context) error {
	handle, err := decodeHandle(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	p, err := s.playerOf(c.Request())
	switch {
	case err == nil:
		_, err = s.game.Rename(ctx, p, handle)
	case errors.Is(err, errNoIdentity):
		if _, err := game.NormalizeHandle(handle); err != nil {
			// A bad handle costs the address nothing from its quota.
			return s.backendError("join", err)
		}
		if ok, retry := s.newPlayers.allow(s.limitKeyOf(c), time.Now()); !ok {
			s.metrics.httpLimited.WithLabelValues("new_players_per_ip").Inc()
			return tooMany(c, retry, fmt.Sprintf("at most %d new players per minute from one address", s.cfg.NewPlayersPerMinute))
		}
		p, err = s.game.Join(ctx, handle)
	}
	if err != nil {
		return s.backendError("session", err)
	}
	c.SetCookie(s.id.cookie(p.ID(), p.Handle(), s.cfg.BasePath+"/", s.isHTTPS(c)))
	return c.JSON(http.StatusOK, s.sessionBody(p))
}

// leaderboardBody is the answer of GET /api/leaderboard, encoded once per tick
// (server_public.go).
func (s *Server) leaderboardBody() any {
	u := s.game.Board()
	out := leaderboardJSON{Top: make([]rowJSON, len(u.Rows)), Counters: newStatsJSON(s.game.Stats())}
	for i, r := range u.Rows {
		out.Top[i] = rowJSON{Rank: i + 1, Tag: s.id.tag(r.ID), Handle: r.Handle, Best: r.Best}
	}
	return out
}

func (s *Server) handleLeaderboard(c echo.Context) error {
	return s.servePublic(c, s.leaderboard)
}

// statsBody is the answer of GET /api/stats, encoded once per tick (server_public.go).
func (s *Server) statsBody() any {
	st := s.game.Stats()
	rate := s.hub.lastRate()
	if rate == nil {
		rate = make([]int64, pulseSeconds) // before the first second completed: no clicks seen yet
	}
	return protocol.StatsResponse{Counters: newStatsJSON(st), PeakOnline: st.PeakOnline, ReturningPlayers: st.Returning, Rate: rate}
}

func (s *Server) handleStats(c echo.Context) error {
	return s.servePublic(c, s.stats)
}

// servePublic answers a public read from its cache: the same bytes and ETag for
// everyone until the next tick, a 304 to whoever already has them.
func (s *Server) servePublic(c echo.Context, p *publicRead) error {
	e, err := p.get()
	if err != nil {
		return err
	}
	e.serve(c.Response(), c.Request())
	return nil
}
