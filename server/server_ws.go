package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/internal/protocol"
	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"
	"github.com/olahol/melody"
)

// clientKey is the context key, in a session's request, of the *client.
type clientKey struct{}

// upgradeHeaders are all the upgrader reads of a request.
var upgradeHeaders = []string{"Connection", "Upgrade", "Sec-Websocket-Version", "Sec-Websocket-Key", "Sec-Websocket-Extensions", "Sec-Websocket-Protocol", "Origin"}

// upgradeRequest is what the session keeps of the upgrade request for its whole life:
// the headers the upgrader needs and the client, instead of every parsed header and
// cookie. It saves about a kilobyte per idle socket, and no session map is needed.
func upgradeRequest(r *http.Request, c *client) *http.Request {
	h := make(http.Header, len(upgradeHeaders))
	for _, k := range upgradeHeaders {
		if v, ok := r.Header[k]; ok {
			h[k] = v
		}
	}
	keep := &http.Request{Method: r.Method, URL: r.URL, Proto: r.Proto, ProtoMajor: r.ProtoMajor, ProtoMinor: r.ProtoMinor,
		Header: h, Host: r.Host, RemoteAddr: r.RemoteAddr}
	return keep.WithContext(context.WithValue(context.Background(), clientKey{}, c))
}

// Close codes the page acts on (docs/protocol.md): reconnecting cannot fix any of these,
// so the page stops and says why instead.
const (
	closeBanned  = 4003 // a moderator banned the player; the reason follows
	closeRemoved = 4004 // a moderator removed the player
	closeFlood   = 4008 // the socket sent far more frames than a person can
)

// adminCloseReason is the close reason sent to the sockets of a removed player.
const adminCloseReason = "removed by a moderator"

// banCloseReason is the close reason of a banned player's sockets: the ban's reason,
// cut to what a close frame holds (123 bytes) on a character boundary.
func banCloseReason(reason string) string {
	const most = 123 - len("banned: ")
	for len(reason) > most {
		_, size := utf8.DecodeLastRuneInString(reason)
		reason = reason[:len(reason)-size]
	}
	return "banned: " + reason
}

// clickFrame is the frame nearly every client message is; it skips the JSON decoder.
var clickFrame = []byte(`{"type":"click"}`)

// client is one open socket of one player.
type client struct {
	sess *melody.Session
	p    game.Player
	tag  string

	// behind is set when a frame for this socket was dropped; the next tick sends it the
	// full board and its state instead of a delta.
	behind atomic.Bool

	mu   sync.Mutex // orders state frames between the click handler and the tick
	sent stateSig   // the last state sent; guarded by mu

	slot int // index in hub.clients; guarded by hub.mu

	// rankSent is the last rank frame sent (server_rank.go); only the rank refresh
	// touches it.
	rankSent []byte

	// upgraded is closed when the socket is open and registered, which tells handleWS
	// that it may return.
	upgraded chan struct{}

	// Flood accounting, touched only by the socket's read goroutine.
	windowStart time.Time
	frames      int
}

// stateSig is the part of a state that, when it changes, is worth a frame.
type stateSig struct {
	score, best, total int64
	throttled, idle    bool
	handle             string
}

func sigOf(st game.State) stateSig {
	return stateSig{st.Score, st.Best, st.Total, st.Throttled, st.IdleReset, st.Handle}
}

// sendState queues a state frame unless the player saw this state already. Call with
// c.mu held.
func (c *client) sendState(st game.State, force bool) {
	sig := sigOf(st)
	if !force && sig == c.sent {
		return
	}
	c.sent = sig
	c.sess.Write(stateFrameJSON(newSessionJSON(st, c.tag)))
}

func (c *client) sendError(msg string) {
	c.sess.Write(mustJSON(errorFrame{Type: protocol.TypeError, Error: msg}))
}

// sendPaused tells the page that its click could not be stored: the game's storage
// is unreachable. The page shows a notice until the next state frame.
func (c *client) sendPaused() {
	c.sess.Write(pausedFrame)
}

// allowFrame counts a frame and reports whether the socket is still within the flood
// limit.
func (c *client) allowFrame(now time.Time, limit int) bool {
	if now.Sub(c.windowStart) >= time.Second {
		c.windowStart, c.frames = now, 0
	}
	c.frames++
	return c.frames <= limit
}

// closeSocket sends a close frame and closes the connection, past the session's send
// queue: that queue may be full, and a client that floods or is being removed must be
// closed even when it never reads. The connection closes gently (lingerConn), so the
// close frame reaches the client even when it was still sending.
func closeSocket(sess *melody.Session, code int, reason string) {
	conn := sess.WebsocketConnection()
	if conn == nil {
		return
	}
	conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	conn.Close()
}

func clientOf(sess *melody.Session) *client {
	c, _ := sess.Request.Context().Value(clientKey{}).(*client)
	return c
}

func (s *Server) newMelody() *melody.Melody {
	m := melody.New()
	m.Config.MaxMessageSize = maxFrameBytes
	m.Config.MessageBufferSize = s.cfg.SendQueue
	m.Config.WriteWait = s.cfg.WriteTimeout
	m.Config.PongWait = pongWait
	m.Config.PingPeriod = pongWait * 9 / 10
	// A client frame is at most maxFrameBytes, so a larger read buffer is never filled.
	m.Upgrader.ReadBufferSize = maxFrameBytes
	m.Upgrader.WriteBufferSize = 4096
	// Idle sockets hold no write buffer; busy ones borrow one from the pool.
	m.Upgrader.WriteBufferPool = &sync.Pool{}
	// handleWS checks the Origin before upgrading, with a clear 403.
	m.Upgrader.CheckOrigin = func(*http.Request) bool { return true }

	m.HandleConnect(s.hub.connect)
	m.HandleDisconnect(s.hub.disconnect)
	m.HandleMessage(s.onMessage)
	m.HandleMessageBinary(func(sess *melody.Session, _ []byte) {
		s.metrics.framesRefused.WithLabelValues("binary").Inc()
		if c := clientOf(sess); c != nil {
			c.sendError("binary frames are not supported; send JSON text frames")
		}
	})
	m.HandleError(func(sess *melody.Session, err error) {
		switch {
		case errors.Is(err, melody.ErrMessageBufferFull):
			s.metrics.framesDropped.Inc()
			if c := clientOf(sess); c != nil {
				c.behind.Store(true)
			}
		case errors.Is(err, websocket.ErrReadLimit):
			s.metrics.framesRefused.WithLabelValues("too_large").Inc()
		}
	})
	return m
}

// handleWS upgrades to a WebSocket for a valid cookie from an allowed origin.
func (s *Server) handleWS(c echo.Context) error {
	r := c.Request()
	if !s.isAllowedOrigin(r) {
		return echo.NewHTTPError(http.StatusForbidden, "origin not allowed")
	}
	p, err := s.playerOf(r)
	if err != nil {
		return s.sessionError("session", err)
	}
	ip := s.limitKeyOf(c)
	if !s.ipSockets.acquire(ip) {
		s.metrics.httpLimited.WithLabelValues("sockets_per_ip").Inc()
		return tooMany(c, 10*time.Second, fmt.Sprintf("at most %d open sockets per address", s.cfg.SocketsPerIP))
	}
	cl := &client{p: p, tag: s.id.tag(p.ID()), upgraded: make(chan struct{})}
	// The session runs on a goroutine of its own, and this handler returns as soon as
	// the socket is upgraded. That lets net/http drop what it keeps per request (its
	// buffered reader and writer, the request context, a deep stack) for the life of
	// the socket: about half the memory of an idle connection.
	s.sockets.Add(1)
	ended := make(chan error, 1)
	w, addr, start := c.Response(), c.RealIP(), time.Now()
	go func() {
		defer s.sockets.Done()
		defer s.ipSockets.release(ip)
		err := s.ws.HandleRequest(w, upgradeRequest(r, cl))
		ended <- err
		if err == nil {
			s.cfg.Log.Info("websocket session", "ip", addr, "player", cl.tag, "duration", time.Since(start).Round(time.Millisecond))
		}
	}()
	select {
	case <-cl.upgraded:
		w.Status = http.StatusSwitchingProtocols // for the access log; the upgrader wrote it
		return nil
	case err := <-ended:
		if errors.Is(err, melody.ErrClosed) {
			return echo.NewHTTPError(http.StatusServiceUnavailable, "server shutting down")
		}
		// Any other error is a failed handshake, already answered by the upgrader.
		return nil
	}
}

// isAllowedOrigin lets a browser open the socket from the page's own origin (the
// Origin's host equals the Host the request was sent to, which a same-origin dev proxy
// preserves) or from one of the configured origins. A request without Origin does not
// come from a browser page, so there is no cross-site hijacking to prevent; the cookie
// still decides.
func (s *Server) isAllowedOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	n, ok := normalizeOrigin(origin)
	if !ok {
		return false
	}
	if _, host, _ := strings.Cut(n, "://"); strings.EqualFold(host, r.Host) {
		return true
	}
	return s.origins[n]
}

// isListedOrigin reports whether origin is one of Config.AllowedOrigins.
func (s *Server) isListedOrigin(origin string) bool {
	n, ok := normalizeOrigin(origin)
	return ok && s.origins[n]
}

// normalizeOrigin returns "scheme://host[:port]" in lower case.
func normalizeOrigin(o string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", false
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), true
}

func (s *Server) onMessage(sess *melody.Session, msg []byte) {
	c := clientOf(sess)
	if c == nil {
		return
	}
	now := time.Now()
	if !c.allowFrame(now, s.cfg.MaxFramesPerSecond) {
		s.metrics.framesRefused.WithLabelValues("flood").Inc()
		closeSocket(sess, closeFlood, "too many frames")
		return
	}
	typ, err := frameType(msg)
	if err != nil {
		s.metrics.framesRefused.WithLabelValues("invalid").Inc()
		c.sendError(err.Error())
		return
	}
	switch typ {
	case "click":
		s.click(c)
	case "resync":
		c.behind.Store(true)
	default:
		s.metrics.framesRefused.WithLabelValues("unknown_type").Inc()
		c.sendError(fmt.Sprintf("unknown frame type %q", typ))
	}
}

// click applies one click of c's player and acknowledges it with a state frame, sent
// only once the backend stored the click. The click runs outside c.mu: with a remote
// backend it waits for a round trip, and the tick must not wait for it.
func (s *Server) click(c *client) {
	res, err := s.game.Click(context.Background(), c.p)
	var banned *game.BannedError
	switch {
	case errors.As(err, &banned):
		closeSocket(c.sess, closeBanned, banCloseReason(banned.Reason))
		return
	case errors.Is(err, game.ErrNoPlayer):
		// Removed by a moderator, maybe on another node: as closePlayer does.
		closeSocket(c.sess, closeRemoved, adminCloseReason)
		return
	case err != nil:
		s.metrics.backendErrors.WithLabelValues("click").Inc()
		s.logBackend("click", err)
		c.sendPaused()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st := res.State
	// Another tab's click may have been stored, and sent here by the tick, since this
	// one: acknowledge with the newer state rather than step the page back.
	if cur := s.game.State(c.p); cur.Total > st.Total {
		st = cur
	}
	c.sendState(st, true)
}

// frameType returns the type of a client frame, or a reason it is refused.
func frameType(msg []byte) (string, error) {
	if bytes.Equal(msg, clickFrame) {
		return "click", nil
	}
	if !utf8.Valid(msg) {
		return "", errors.New("frame is not valid UTF-8")
	}
	var f clientFrame
	if err := json.Unmarshal(msg, &f); err != nil {
		return "", errors.New(`frame must be a JSON object like {"type":"click"}`)
	}
	if f.Type == "" {
		return "", errors.New(`frame has no "type"`)
	}
	return f.Type, nil
}
