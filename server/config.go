package server

import (
	"io/fs"
	"log/slog"
	"time"
)

// Config is everything the server needs besides the game. The defaults a self-hoster
// sees live in main.go, next to the flags.
type Config struct {
	// Secret is the key that signs session cookies and derives public tags. Changing it
	// logs every player out.
	Secret []byte
	// AllowedOrigins are extra origins ("https://example.com", scheme and host[:port])
	// whose pages may open the WebSocket; the page's own origin is always allowed.
	AllowedOrigins []string
	// Tick is how often the leaderboard is published to every socket.
	Tick time.Duration
	// Page is the built web page, or nil to serve a "page not built" notice instead.
	Page fs.FS
	// Version is reported by /healthz.
	Version string
	// Log receives the server's log lines; nil means slog.Default().
	Log *slog.Logger
	// SendQueue is the number of frames a socket may have waiting before frames for it
	// are dropped and it is marked behind. Coalesced broadcasts need few.
	SendQueue int
	// WriteTimeout is how long a write to a socket may take before the socket is closed.
	WriteTimeout time.Duration
	// MaxFramesPerSecond is far above any human's clicking; a socket sending more frames
	// in one second is closed. The game's throttle deals with the merely fast.
	MaxFramesPerSecond int
}

const (
	// maxBodyBytes bounds every HTTP request body.
	maxBodyBytes = 4 << 10
	// maxFrameBytes bounds every WebSocket frame from a client.
	maxFrameBytes = 512
	// pongWait is how long a silent socket is kept; the server pings at 9/10 of it.
	pongWait = 60 * time.Second
)

func (c *Config) setDefaults() {
	if c.Tick <= 0 {
		c.Tick = 100 * time.Millisecond
	}
	if c.SendQueue <= 0 {
		c.SendQueue = 32
	}
	if c.MaxFramesPerSecond <= 0 {
		c.MaxFramesPerSecond = 200
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}
