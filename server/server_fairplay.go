package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/labstack/echo/v4"
)

// Fair play in the moderation API (docs/admin.md, docs/fair-play.md): bans that hold,
// handles a moderator locked, and the players the bot detection flagged.

// banJSON is a ban as a moderator sees it.
type banJSON struct {
	Reason string `json:"reason"`
	At     string `json:"at"` // RFC 3339 UTC
}

// suspectJSON is the evidence against a flagged player.
type suspectJSON struct {
	// Rule is "sustained_rate" or "regular_intervals".
	Rule string `json:"rule"`
	// At is when the player was flagged, RFC 3339 UTC.
	At string `json:"at"`
	// Rate is the attempts per second the player kept up.
	Rate float64 `json:"rate"`
	// CV is the coefficient of variation of the intervals between attempts.
	CV float64 `json:"interval_cv"`
	// Samples is how many intervals the CV stands on.
	Samples int `json:"samples"`
}

type banListJSON struct {
	Bans []banEntryJSON `json:"bans"`
}

type banEntryJSON struct {
	ID     string `json:"id"`
	Tag    string `json:"tag"`
	Handle string `json:"handle"` // "" when the player is no longer in the game
	banJSON
}

type banRequest struct {
	Reason *string `json:"reason"`
}

// handleAdminBan bans a player: its identity is refused on every node from now on
// (the page says why), it leaves the board, and its sockets here close with 4003;
// the other nodes close theirs when the backend tells them.
func (s *Server) handleAdminBan(c echo.Context) error {
	id, err := adminID(c)
	if err != nil {
		return err
	}
	var req banRequest
	dec := json.NewDecoder(c.Request().Body)
	if err := dec.Decode(&req); err != nil || req.Reason == nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return echo.NewHTTPError(http.StatusBadRequest, `body must be a JSON object like {"reason":"autoclicker"}`)
	}
	if err := game.CheckBanReason(*req.Reason); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	if err := s.game.Ban(c.Request().Context(), id, *req.Reason); err != nil {
		if errors.Is(err, game.ErrNoPlayer) {
			return errNoPlayer(id)
		}
		return s.backendError("admin", err)
	}
	closed := s.hub.closePlayer(id, closeBanned, banCloseReason(*req.Reason))
	s.audit(c, "ban", id, "reason", *req.Reason, "sockets_closed", closed)
	p, err := s.game.Get(c.Request().Context(), id)
	if err != nil {
		return s.backendError("admin", err)
	}
	return s.adminInfo(c, p)
}

// handleAdminUnban lifts a ban; the player comes back with the scores it had.
func (s *Server) handleAdminUnban(c echo.Context) error {
	id, err := adminID(c)
	if err != nil {
		return err
	}
	if err := s.game.Unban(c.Request().Context(), id); err != nil {
		if errors.Is(err, game.ErrNoPlayer) {
			return echo.NewHTTPError(http.StatusNotFound, "no ban on "+id.String())
		}
		return s.backendError("admin", err)
	}
	s.audit(c, "unban", id)
	return c.JSON(http.StatusOK, map[string]string{"unbanned": id.String()})
}

// handleAdminBans lists the bans in force, newest first.
func (s *Server) handleAdminBans(c echo.Context) error {
	bans, err := s.game.Bans(c.Request().Context())
	if err != nil {
		return s.backendError("admin", err)
	}
	out := banListJSON{Bans: make([]banEntryJSON, len(bans))}
	for i, b := range bans {
		out.Bans[i] = banEntryJSON{ID: b.ID.String(), Tag: s.id.tag(b.ID), Handle: b.Handle,
			banJSON: banJSON{Reason: b.Reason, At: b.At.UTC().Format(time.RFC3339)}}
	}
	return c.JSON(http.StatusOK, out)
}

// handleAdminUnlock lets a player whose handle a moderator set rename again.
func (s *Server) handleAdminUnlock(c echo.Context) error {
	p, err := s.adminTarget(c)
	if err != nil {
		return err
	}
	if err := s.game.UnlockHandle(c.Request().Context(), p); err != nil {
		return s.backendError("admin", err)
	}
	s.audit(c, "unlock", p.ID())
	return s.adminInfo(c, p)
}

// handleAdminSuspects lists the players the bot detection flagged, newest first, with
// the evidence.
func (s *Server) handleAdminSuspects(c echo.Context) error {
	offset, limit, err := queryPage(c)
	if err != nil {
		return err
	}
	page, total, err := s.game.Suspects(c.Request().Context(), offset, limit)
	if err != nil {
		return s.backendError("admin", err)
	}
	out := adminListJSON{Players: make([]adminPlayerJSON, len(page)), Total: total, Offset: offset, Limit: limit}
	for i, info := range page {
		out.Players[i] = s.adminPlayer(info)
	}
	return c.JSON(http.StatusOK, out)
}

// handleAdminClear lifts a bot flag, and what its action did (a hidden player is
// back on the board, a throttled one unthrottled).
func (s *Server) handleAdminClear(c echo.Context) error {
	p, err := s.adminTarget(c)
	if err != nil {
		return err
	}
	if err := s.game.Clear(c.Request().Context(), p); err != nil {
		return s.backendError("admin", err)
	}
	s.audit(c, "clear", p.ID())
	return s.adminInfo(c, p)
}
