package server

import (
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/labstack/echo/v4"
)

// contentSecurityPolicy is the page's: only its own scripts, styles and sockets, and
// no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; object-src 'none'"

// resourcePolicy is the CSP of every answer that is not the page (JSON, scripts,
// styles, images): none is a document, so should a browser ever render one, it may
// load nothing and not be framed. A fifth of the page's policy, on every request of a
// first visit.
const resourcePolicy = "default-src 'none'; frame-ancestors 'none'"

// Header values shared by every answer; net/http only reads them.
var (
	documentPolicyHeader = []string{contentSecurityPolicy}
	denyFramingHeader    = []string{"DENY"}
)

// setDocumentHeaders gives an HTML answer the page's policy and, for browsers older
// than frame-ancestors, X-Frame-Options.
func setDocumentHeaders(h http.Header) {
	h["Content-Security-Policy"] = documentPolicyHeader
	h["X-Frame-Options"] = denyFramingHeader
}

// hstsMaxAge is two years: a returning player's browser never tries plain HTTP first.
// No includeSubDomains: the game may share its domain with sites it knows nothing of.
const hstsMaxAge = "max-age=63072000"

// securityHeaders sets the headers every response carries (HTML answers then take the
// page's policy, setDocumentHeaders). Strict-Transport-Security
// goes only with tls, when the server serves TLS itself: behind a proxy that
// terminates TLS, the proxy decides (and a plain-HTTP answer would be ignored anyway).
func securityHeaders(tls bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Content-Security-Policy", resourcePolicy)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			if tls {
				h.Set("Strict-Transport-Security", hstsMaxAge)
			}
			return next(c)
		}
	}
}

// guardAPIWrites lets a state-changing request under the API through only when it
// comes from the game's own page and, when it has a body, labels that body JSON. An
// HTML form on any site can post text/plain, form or multipart bodies to any URL, with
// the visitor's cookie when the form's site is the game's own or a sibling subdomain
// (SameSite=Lax holds back only cross-site posts): it could rename the visitor or spend
// the visitor's address's quota of new players. A page that wants to send JSON to
// another origin must ask first with a CORS preflight, which this server never grants,
// so the type alone stops those. The Origin and Sec-Fetch-Site headers, which browsers
// send and pages cannot forge, refuse the rest. Requests without them (curl, scripts,
// the load generator) are no cross-site forgery and go through; the cookie or the
// admin token still decides what they may do.
func (s *Server) guardAPIWrites(next echo.HandlerFunc) echo.HandlerFunc {
	api := s.cfg.BasePath + pathAPI
	return func(c echo.Context) error {
		r := c.Request()
		// Echo routes on the raw path when there is one; the check looks at both spellings
		// so that no escaping slips past it.
		if !changesState(r.Method) || (!underPath(echo.GetPath(r), api) && !underPath(r.URL.Path, api)) {
			return next(c)
		}
		if !s.fromOwnSite(r) {
			return echo.NewHTTPError(http.StatusForbidden, "cross-site request refused: changes to the game must come from its own page")
		}
		// ContentLength is -1 when the length is unknown (a chunked body): a body too.
		if r.ContentLength != 0 && !isJSON(r.Header.Get(echo.HeaderContentType)) {
			return echo.NewHTTPError(http.StatusUnsupportedMediaType, "the request body must be JSON, sent with Content-Type: application/json")
		}
		return next(c)
	}
}

// changesState reports whether a request with this method may change the game.
func changesState(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// underPath reports whether path is prefix or below it.
func underPath(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// isJSON reports whether a Content-Type header is application/json, with any
// parameters (such as charset=utf-8).
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// fromOwnSite reports whether a state-changing request may come from where it says it
// comes from. Sec-Fetch-Site cross-site is refused whatever the Origin: an allowed
// origin on another site can open the socket, but could not post JSON here anyway
// without the CORS answer this server never gives. same-site is refused unless the
// Origin is one of Config.AllowedOrigins: a sibling subdomain shares the site (and
// the cookie) but may be anyone's, and so may another port of the game's own host, or
// (where browsers ignore the scheme) a plain-HTTP page of it, which anyone on the path
// can rewrite. Otherwise the Origin, when present, must pass the WebSocket's check
// (isAllowedOrigin).
func (s *Server) fromOwnSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site":
		return false
	case "same-site":
		return s.isListedOrigin(r.Header.Get("Origin"))
	}
	return s.isAllowedOrigin(r)
}

// limitBody caps request bodies; a larger one fails to read and gets a 413.
func limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.ContentLength > maxBodyBytes {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body must be at most %d bytes", maxBodyBytes))
		}
		r.Body = http.MaxBytesReader(c.Response(), r.Body, maxBodyBytes)
		return next(c)
	}
}

// recoverJSON turns a panic in a handler into a 500 and a log line, never a crash.
func recoverJSON(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				if r := recover(); r != nil {
					if r == http.ErrAbortHandler {
						panic(r)
					}
					log.Error("handler panicked", "path", c.Request().URL.Path, "panic", r)
					err = echo.NewHTTPError(http.StatusInternalServerError, "internal error")
				}
			}()
			return next(c)
		}
	}
}

// errorHandler answers every error as {"error": "..."}.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code, msg := http.StatusInternalServerError, "internal error"
	var he *echo.HTTPError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		code, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("request body must be at most %d bytes", maxBodyBytes)
	case errors.As(err, &he):
		code = he.Code
		if m, ok := he.Message.(string); ok {
			msg = m
		} else {
			msg = http.StatusText(code)
		}
	default:
		s.cfg.Log.Error("request failed", "path", c.Request().URL.Path, "err", err)
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(code)
		return
	}
	out := errorJSON{Error: msg}
	var banned *game.BannedError
	switch {
	case errors.Is(err, game.ErrUnavailable):
		out.Code = codeUnavailable
		s.logBackend(c.Request().URL.Path, err)
	case errors.As(err, &banned):
		out.Code, out.Reason = codeBanned, banned.Reason
	case errors.Is(err, game.ErrHandleLocked):
		out.Code = codeHandleLocked
	}
	c.JSON(code, out)
}

// accessLog writes one line per request with its duration and the client's real
// address. A WebSocket upgrade logs status 101 here, and handleWS logs the session
// when it ends.
func accessLog(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			r := c.Request()
			status := c.Response().Status
			if err != nil {
				var he *echo.HTTPError
				if errors.As(err, &he) {
					status = he.Code
				} else {
					status = http.StatusInternalServerError
				}
			}
			log.Info("request", "method", r.Method, "path", r.URL.Path, "status", status,
				"bytes", c.Response().Size, "duration", time.Since(start).Round(time.Microsecond), "ip", c.RealIP())
			return err
		}
	}
}
