package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/labstack/echo/v4"
)

// playerOf returns the player of r's session cookie. A valid cookie for a player the
// game does not know (its snapshot was lost) brings that player back with no score.
func (s *Server) playerOf(r *http.Request) (*game.Player, error) {
	id, handle, err := s.id.fromRequest(r)
	if err != nil {
		return nil, err
	}
	if p := s.game.Get(id); p != nil {
		return p, nil
	}
	p, err := s.game.Restore(id, handle)
	if err != nil {
		return nil, errNoIdentity
	}
	return p, nil
}

func (s *Server) sessionBody(p *game.Player) sessionResponse {
	return sessionResponse{
		sessionJSON: newSessionJSON(s.game.State(p, time.Now()), s.id.tag(p.ID)),
		Rules:       newRulesJSON(s.game.Config()),
	}
}

func (s *Server) handleGetSession(c echo.Context) error {
	p, err := s.playerOf(c.Request())
	if err != nil {
		return echo.NewHTTPError(http.StatusUnauthorized, "no session: choose a handle first")
	}
	return c.JSON(http.StatusOK, s.sessionBody(p))
}

type sessionRequest struct {
	Handle *string `json:"handle"`
}

// handlePostSession creates a player, or renames the cookie's player, and sets a fresh
// cookie holding the id and the handle.
func (s *Server) handlePostSession(c echo.Context) error {
	var req sessionRequest
	dec := json.NewDecoder(c.Request().Body)
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return echo.NewHTTPError(http.StatusBadRequest, `body must be a JSON object like {"handle":"alice"}`)
	}
	if dec.More() {
		return echo.NewHTTPError(http.StatusBadRequest, "body must hold a single JSON object")
	}
	if req.Handle == nil {
		return echo.NewHTTPError(http.StatusBadRequest, `"handle" is required`)
	}
	p, err := s.playerOf(c.Request())
	if err == nil {
		_, err = s.game.Rename(p, *req.Handle)
	} else {
		p, err = s.game.Join(*req.Handle)
	}
	if err != nil {
		if errors.Is(err, game.ErrInvalidHandle) {
			return echo.NewHTTPError(http.StatusBadRequest, err.Error())
		}
		return err
	}
	c.SetCookie(s.id.cookie(p.ID, p.Handle(), c.Request().TLS != nil))
	return c.JSON(http.StatusOK, s.sessionBody(p))
}

func (s *Server) handleLeaderboard(c echo.Context) error {
	u := s.game.Board()
	out := leaderboardJSON{Top: make([]rowJSON, len(u.Rows)), statsJSON: newStatsJSON(s.game.Stats())}
	for i, r := range u.Rows {
		out.Top[i] = rowJSON{Rank: i + 1, Tag: s.id.tag(r.ID), Handle: r.Handle, Best: r.Best}
	}
	return c.JSON(http.StatusOK, out)
}
