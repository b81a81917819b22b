package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/olahol/melody"
	"golang.org/x/text/unicode/norm"
)

// The moderation API (docs/admin.md). It exists only when Config.AdminToken is set,
// and every request must bear that token. Players are addressed by id here: admins may
// see ids, the public API never shows them.

// Admin paths, under pathAdmin.
const (
	pathAdminPlayers = "/players"
	pathAdminPlayer  = "/players/:id"
	pathAdminRename  = "/players/:id/rename"
	pathAdminReset   = "/players/:id/reset"
	pathAdminUnlock  = "/players/:id/unlock"
	pathAdminBan     = "/players/:id/ban"
	pathAdminClear   = "/players/:id/clear"
	pathAdminBans    = "/bans"
	pathAdminSuspect = "/suspects"
)

// Listing bounds.
const (
	adminDefaultLimit = 50
	adminMaxLimit     = 500
	adminMaxOffset    = 1 << 30
)

// minAdminToken is the token length below which a warning is logged.
const minAdminToken = 16

// adminRoutes registers the moderation API on g.
func (s *Server) adminRoutes(g *echo.Group) {
	if len(s.cfg.AdminToken) < minAdminToken {
		s.cfg.Log.Warn("the admin token is short; use a long random one, e.g. from `openssl rand -hex 32`", "length", len(s.cfg.AdminToken))
	}
	g.Use(s.requireAdmin())
	g.GET(pathAdminPlayers, s.handleAdminList)
	g.GET(pathAdminPlayer, s.handleAdminGet)
	g.POST(pathAdminRename, s.handleAdminRename)
	g.POST(pathAdminReset, s.handleAdminReset)
	g.DELETE(pathAdminPlayer, s.handleAdminRemove)
	// Fair play (server_fairplay.go): bans, locked handles, suspected bots.
	g.POST(pathAdminUnlock, s.handleAdminUnlock)
	g.POST(pathAdminBan, s.handleAdminBan)
	g.DELETE(pathAdminBan, s.handleAdminUnban)
	g.GET(pathAdminBans, s.handleAdminBans)
	g.GET(pathAdminSuspect, s.handleAdminSuspects)
	g.POST(pathAdminClear, s.handleAdminClear)
}

// requireAdmin lets through requests with "Authorization: Bearer <admin token>". The
// comparison runs in constant time over SHA-256 digests, so neither the token's
// content nor its length shows in the response time.
func (s *Server) requireAdmin() echo.MiddlewareFunc {
	want := sha256.Sum256([]byte(s.cfg.AdminToken))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Cache-Control", "no-store")
			token, ok := bearerToken(c.Request().Header.Get(echo.HeaderAuthorization))
			got := sha256.Sum256([]byte(token))
			if subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !ok {
				h.Set(echo.HeaderWWWAuthenticate, `Bearer realm="clickthebutton admin"`)
				return echo.NewHTTPError(http.StatusUnauthorized, "admin token missing or wrong: send Authorization: Bearer <token>")
			}
			return next(c)
		}
	}
}

// bearerToken returns the token of an "Authorization: Bearer <token>" header. The
// scheme is case-insensitive (RFC 7235).
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// adminPlayerJSON is one player as a moderator sees it.
type adminPlayerJSON struct {
	ID        string  `json:"id"`
	Handle    string  `json:"handle"`
	Tag       string  `json:"tag"`
	Score     int64   `json:"score"`
	Best      int64   `json:"best"`
	Total     int64   `json:"total"`
	LastClick *string `json:"last_click"` // RFC 3339 UTC; null when the player never clicked
	Online    bool    `json:"online"`
	// HandleLocked is true when a moderator set the handle.
	HandleLocked bool `json:"handle_locked"`
	// Banned is the ban on the player, or null.
	Banned *banJSON `json:"banned"`
	// Suspect is the bot detection's evidence, or null.
	Suspect *suspectJSON `json:"suspect"`
}

type adminListJSON struct {
	Players []adminPlayerJSON `json:"players"`
	// Total is how many players matched, of which Players is the page at Offset.
	Total  int `json:"total"`
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
}

type adminRemovedJSON struct {
	Removed adminPlayerJSON `json:"removed"`
	// Sockets is how many open sockets of the player were closed.
	Sockets int `json:"sockets"`
}

func (s *Server) adminPlayer(info game.PlayerInfo) adminPlayerJSON {
	out := adminPlayerJSON{
		ID:     info.ID.String(),
		Handle: info.Handle,
		Tag:    s.id.tag(info.ID),
		Score:  info.Score,
		Best:   info.Best,
		Total:  info.Total,
		Online: info.Online,

		HandleLocked: info.HandleLocked,
	}
	if !info.LastClick.IsZero() {
		t := info.LastClick.UTC().Format(time.RFC3339)
		out.LastClick = &t
	}
	if info.Banned != nil {
		out.Banned = &banJSON{Reason: info.Banned.Reason, At: info.Banned.At.UTC().Format(time.RFC3339)}
	}
	if sus := info.Suspect; sus != nil {
		out.Suspect = &suspectJSON{Rule: sus.Rule.String(), At: sus.At.UTC().Format(time.RFC3339Nano), Rate: sus.Rate, CV: sus.CV, Samples: sus.Samples}
	}
	return out
}

// adminInfo answers with p as a moderator sees it.
func (s *Server) adminInfo(c echo.Context, p game.Player) error {
	info, err := s.game.Info(c.Request().Context(), p)
	if err != nil {
		return s.backendError("admin", err)
	}
	return c.JSON(http.StatusOK, s.adminPlayer(info))
}

// handleAdminList lists players, best first, optionally only those matching q: a
// player id (exact), a public tag (exact), or a part of the handle (any case).
func (s *Server) handleAdminList(c echo.Context) error {
	offset, limit, err := queryPage(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	out := adminListJSON{Players: []adminPlayerJSON{}, Offset: offset, Limit: limit}
	q := strings.TrimSpace(c.QueryParam("q"))
	if id, err := uuid.Parse(q); err == nil {
		// An id: no scan needed.
		p, err := s.game.Get(ctx, id)
		if errors.Is(err, game.ErrNoPlayer) {
			return c.JSON(http.StatusOK, out)
		}
		var info game.PlayerInfo
		if err == nil {
			info, err = s.game.Info(ctx, p)
		}
		if err != nil {
			return s.backendError("admin", err)
		}
		out.Total = 1
		if offset == 0 {
			out.Players = append(out.Players, s.adminPlayer(info))
		}
		return c.JSON(http.StatusOK, out)
	}
	page, total, err := s.game.Find(ctx, s.adminMatch(q), offset, limit)
	if err != nil {
		return s.backendError("admin", err)
	}
	out.Total = total
	for _, info := range page {
		out.Players = append(out.Players, s.adminPlayer(info))
	}
	return c.JSON(http.StatusOK, out)
}

// adminMatch returns the filter for q, or nil for every player. A q shaped like a tag
// matches that tag as well as handles containing it; computing tags costs an HMAC per
// player, so it is done only then.
func (s *Server) adminMatch(q string) func(uuid.UUID, string) bool {
	if q == "" {
		return nil
	}
	needle := strings.ToLower(norm.NFC.String(q))
	tagShaped := len(q) == tagLen && strings.Trim(q, "abcdefghijklmnopqrstuvwxyz234567") == ""
	return func(id uuid.UUID, handle string) bool {
		if strings.Contains(strings.ToLower(handle), needle) {
			return true
		}
		return tagShaped && s.id.tag(id) == q
	}
}

// queryPage reads a list's offset and limit query parameters.
func queryPage(c echo.Context) (offset, limit int, err error) {
	if limit, err = queryInt(c, "limit", adminDefaultLimit, 1, adminMaxLimit); err != nil {
		return 0, 0, err
	}
	offset, err = queryInt(c, "offset", 0, 0, adminMaxOffset)
	return offset, limit, err
}

// queryInt reads an integer query parameter within [lo, hi], def when absent.
func queryInt(c echo.Context, name string, def, lo, hi int) (int, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, echo.NewHTTPError(http.StatusBadRequest, name+" must be a whole number from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
	}
	return n, nil
}

// adminTarget returns the player named by the :id path parameter: 400 for a malformed
// id, 404 for an unknown one.
func (s *Server) adminTarget(c echo.Context) (game.Player, error) {
	id, err := adminID(c)
	if err != nil {
		return nil, err
	}
	p, err := s.game.Get(c.Request().Context(), id)
	if errors.Is(err, game.ErrNoPlayer) {
		return nil, errNoPlayer(id)
	}
	if err != nil {
		return nil, s.backendError("admin", err)
	}
	return p, nil
}

func adminID(c echo.Context) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return uuid.Nil, echo.NewHTTPError(http.StatusBadRequest, "id must be a player id (a UUID such as 2f1c0a8e-5b7d-4c1e-9a3f-0d6b8e4c2a17)")
	}
	return id, nil
}

func errNoPlayer(id uuid.UUID) error {
	return echo.NewHTTPError(http.StatusNotFound, "no player with id "+id.String())
}

func (s *Server) handleAdminGet(c echo.Context) error {
	p, err := s.adminTarget(c)
	if err != nil {
		return err
	}
	return s.adminInfo(c, p)
}

// handleAdminRename gives a player a new handle, under the players' own rules, and
// locks it: the player cannot rename until a moderator unlocks it. The rename reaches
// the board at the next tick, the player's sockets (on every node) in a state frame,
// and the next snapshot.
func (s *Server) handleAdminRename(c echo.Context) error {
	p, err := s.adminTarget(c)
	if err != nil {
		return err
	}
	handle, err := decodeHandle(c)
	if err != nil {
		return err
	}
	old := p.Handle()
	h, err := s.game.LockHandle(c.Request().Context(), p, handle)
	if err != nil {
		return s.backendError("admin", err)
	}
	s.audit(c, "rename", p.ID(), "old_handle", old, "new_handle", h)
	return s.adminInfo(c, p)
}

// handleAdminReset sets a player's score and best to 0, keeping the lifetime total:
// the player leaves the board at the next tick.
func (s *Server) handleAdminReset(c echo.Context) error {
	p, err := s.adminTarget(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	before, err := s.game.Info(ctx, p)
	if err == nil {
		err = s.game.Reset(ctx, p)
	}
	if err != nil {
		return s.backendError("admin", err)
	}
	s.audit(c, "reset", p.ID(), "handle", before.Handle, "old_score", before.Score, "old_best", before.Best)
	return s.adminInfo(c, p)
}

// handleAdminRemove removes a player from the game and closes the player's sockets
// on this node; the other nodes sharing the game close theirs when the backend tells
// them (Server.onEvent). It answers with the player as it was.
func (s *Server) handleAdminRemove(c echo.Context) error {
	id, err := adminID(c)
	if err != nil {
		return err
	}
	info, err := s.game.Remove(c.Request().Context(), id)
	if errors.Is(err, game.ErrNoPlayer) {
		return errNoPlayer(id)
	}
	if err != nil {
		return s.backendError("admin", err)
	}
	last := s.adminPlayer(info) // a removed player still reads as it was
	closed := s.hub.closePlayer(id, closeRemoved, adminCloseReason)
	s.audit(c, "remove", id, "handle", last.Handle, "old_best", last.Best, "old_total", last.Total, "sockets_closed", closed)
	return c.JSON(http.StatusOK, adminRemovedJSON{Removed: last, Sockets: closed})
}

// audit logs one admin action at Info.
func (s *Server) audit(c echo.Context, action string, id uuid.UUID, args ...any) {
	s.cfg.Log.Info("admin action", append([]any{"action", action, "id", id.String(), "tag", s.id.tag(id), "ip", c.RealIP()}, args...)...)
}

// closePlayer closes every open socket of the player with id on this node with a
// policy-violation close frame and returns how many it closed. The page reconnects
// by itself; its cookie then brings back a fresh player (see Backend.Restore).
func (h *hub) closePlayer(id uuid.UUID, code int, reason string) int {
	h.mu.Lock()
	var sessions []*melody.Session
	for _, c := range h.clients {
		if c.p.ID() == id {
			sessions = append(sessions, c.sess)
		}
	}
	h.mu.Unlock()
	for _, sess := range sessions {
		closeSocket(sess, code, reason)
	}
	return len(sessions)
}
