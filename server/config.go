package server

import (
	"crypto/tls"
	"errors"
	"io/fs"
	"log/slog"
	"net/netip"
	"time"
)

// Config is everything the server needs besides the game. It has no defaults of its
// own: the program's live in internal/app (Defaults), and New refuses a Config that
// leaves a needed setting at zero.
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
	// Log receives the server's log lines.
	Log *slog.Logger
	// SendQueue is the number of frames a socket may have waiting before frames for it
	// are dropped and it is marked behind. Coalesced broadcasts need few.
	SendQueue int
	// WriteTimeout is how long a write to a socket may take before the socket is closed.
	WriteTimeout time.Duration
	// TrustedProxies are the proxies whose X-Forwarded-For and X-Forwarded-Proto headers
	// are believed; with none, the peer address is the client's.
	TrustedProxies []netip.Prefix
	// TLS, when set, serves HTTPS with it.
	TLS *tls.Config
	// MaxConns caps the connections open at once (sockets included); one more is
	// answered 503. 0 means no cap.
	MaxConns int
	// NewPlayersPerMinute caps the players one client address may create per minute; 0
	// means no cap.
	NewPlayersPerMinute int
	// SocketsPerIP caps the WebSockets one client address may hold open; 0 means no cap.
	SocketsPerIP int
	// ConnsPerIP caps the connections one peer address may hold open at once, sockets
	// and idle keep-alive connections included; one more is answered 429 before
	// anything is read. Trusted proxies are not counted. 0 means no cap.
	ConnsPerIP int
	// IPv6Prefix is the prefix length (32 to 128) by which the per-address limits group
	// IPv6 clients: one subscriber usually holds a whole /64. IPv4 clients count by
	// their whole address.
	IPv6Prefix int
	// ReadHeaderTimeout bounds the time to read a request's headers (slowloris).
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle for this long.
	IdleTimeout time.Duration
	// MetricsOnMain also serves /metrics on the main listener, at the root. Turn it off
	// when the metrics have a listener of their own.
	MetricsOnMain bool
	// BasePath serves everything but the probes under a sub-path such as "/game" (no
	// trailing slash); "" serves at the root.
	BasePath string
	// AdminToken enables the moderation API for requests bearing it; "" turns it off.
	AdminToken string
	// SnapshotInterval is how often the scores are written, reported as
	// ctb_snapshot_interval_seconds for the alert rules; 0 leaves the metric out.
	SnapshotInterval time.Duration
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
	// readyTimeout bounds the storage check behind /readyz.
	readyTimeout = 2 * time.Second
)

// check reports the first setting New cannot work without.
func (c *Config) check() error {
	switch {
	case c.Tick <= 0:
		return errors.New("server: Tick must be positive")
	case c.SendQueue <= 0:
		return errors.New("server: SendQueue must be positive")
	case c.MaxFramesPerSecond <= 0:
		return errors.New("server: MaxFramesPerSecond must be positive")
	case c.ReadHeaderTimeout <= 0 || c.IdleTimeout <= 0 || c.WriteTimeout <= 0:
		return errors.New("server: ReadHeaderTimeout, IdleTimeout and WriteTimeout must be positive")
	case c.IPv6Prefix < 32 || c.IPv6Prefix > 128:
		return errors.New("server: IPv6Prefix must be from 32 to 128")
	case c.Log == nil:
		return errors.New("server: Log is required")
	case len(c.Secret) < 16:
		return errors.New("server: Secret must be at least 16 bytes")
	}
	return nil
}
