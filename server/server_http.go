package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/labstack/echo/v4"
)

// contentSecurityPolicy allows only the page's own scripts, styles and sockets, and no
// framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; object-src 'none'"

func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		return next(c)
	}
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
