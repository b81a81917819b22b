// Package app turns a configuration into a running Click the Button: it picks the
// backend (memory with scores.csv, or Redis), wires it to the server, runs the
// snapshots and the side listeners, and shuts everything down in order. main.go only
// reads flags and the environment into a Config.
package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
)

// Config is everything a self-hoster can set. Defaults holds every default value;
// nothing else in the program has one of its own.
type Config struct {
	// Addr is the address the game listens on.
	Addr string
	// Data is the folder for scores.csv, secret.key and the lock; created with mode 0700,
	// and set to it at start when other users may read or write it.
	Data string
	// Redis, when set, keeps the game in the Redis (or Redis Cluster) at this URL,
	// shared by every process pointed at it; scores.csv is then the backup. Empty
	// keeps the game in this process's memory.
	Redis string
	// BasePath serves the page, the API and the socket under a sub-path such as
	// "/game" (cleaned: one leading slash, none trailing); "" serves at the root.
	BasePath string
	// SnapshotInterval is how often scores.csv is written when something changed.
	SnapshotInterval time.Duration
	// RedisSnapshotInterval replaces SnapshotInterval with Redis when that is not set:
	// there a snapshot reads every player from Redis (about 7 s and a million reads
	// for a million players), a backup rather than the game's memory.
	RedisSnapshotInterval time.Duration
	// Rules are the game's rules: throttle, idle reset, board size.
	Rules game.Config
	// Tick is how often the leaderboard is published to every player.
	Tick time.Duration
	// AllowedOrigins are extra origins whose pages may open the WebSocket.
	AllowedOrigins []string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// X-Forwarded-Proto are believed.
	TrustedProxies []netip.Prefix
	// MaxConns caps the connections open at once, sockets included (0: no cap).
	MaxConns int
	// NewPlayersPerMinute caps the players one address may create per minute (0: no cap).
	NewPlayersPerMinute int
	// SocketsPerIP caps the WebSockets one address may hold open (0: no cap).
	SocketsPerIP int
	// ConnsPerIP caps the connections one peer address may hold open at once, sockets
	// included; trusted proxies are not counted (0: no cap).
	ConnsPerIP int
	// IPv6Prefix groups IPv6 clients by this prefix length (32 to 128) for every
	// per-address limit; IPv4 clients count by their whole address.
	IPv6Prefix int
	// TLSCert and TLSKey are PEM files: serve HTTPS directly. Both or neither.
	TLSCert, TLSKey string
	// MetricsAddr serves /metrics only on this address; empty serves it on Addr.
	MetricsAddr string
	// PprofAddr serves Go's profiler on this address; empty turns it off.
	PprofAddr string
	// LogFormat is "text" or "json".
	LogFormat string
	// LogLevel is "debug", "info", "warn" or "error".
	LogLevel string
	// Secret signs the session cookies (CTB_SECRET, at least 16 characters). Empty
	// means a generated key: in <Data>/secret.key, or in Redis with Redis.
	Secret string
	// AdminToken turns on the moderation API for requests bearing it (CTB_ADMIN_TOKEN).
	AdminToken string

	// Tuning that is not a flag: the values that work for the game as designed.

	// SendQueue is how many frames a socket may have waiting before frames are
	// dropped and it gets the full board at the next tick.
	SendQueue int
	// MaxFramesPerSecond is the frames per second past which a socket is closed.
	MaxFramesPerSecond int
	// WriteTimeout closes a socket whose write takes longer.
	WriteTimeout time.Duration
	// ReadHeaderTimeout bounds the reading of a request's headers.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle for this long.
	IdleTimeout time.Duration
	// ShutdownGrace is how long a stop waits for sockets and requests to finish.
	ShutdownGrace time.Duration
	// RedisTimeout bounds every call to Redis.
	RedisTimeout time.Duration
	// ForgetUnplayed is how long a player who never counted a click is kept; 0 keeps
	// everyone. Players who clicked are never dropped.
	ForgetUnplayed time.Duration
}

// Defaults returns the configuration of a plain `clickthebutton`: every default of
// every setting, in this one place.
func Defaults() Config {
	return Config{
		Addr:                  ":8080",
		Data:                  "data",
		SnapshotInterval:      5 * time.Second,
		RedisSnapshotInterval: time.Minute,
		Rules:                 game.DefaultConfig(),
		Tick:                  100 * time.Millisecond,
		MaxConns:              10000,
		NewPlayersPerMinute:   30,
		SocketsPerIP:          50,
		ConnsPerIP:            100, // 1% of MaxConns, yet over SocketsPerIP with room for the pages' requests
		IPv6Prefix:            64,  // one subscriber is handed a /64 (RFC 6177) and picks addresses in it at will
		LogFormat:             "text",
		LogLevel:              "info",
		// A tick queues at most a delta and a state frame, and a click one ack: 16
		// frames are over a second of a fast clicker's traffic.
		SendQueue:          16,
		MaxFramesPerSecond: 200,
		WriteTimeout:       10 * time.Second,
		ReadHeaderTimeout:  10 * time.Second,
		// The page makes a handful of requests as it loads, within a second or two, then
		// holds one WebSocket (not an idle HTTP connection). A keep-alive connection idle
		// longer serves no further request of that page; it only holds one of
		// --max-conns and of its address's --conns-per-ip.
		IdleTimeout:    30 * time.Second,
		ShutdownGrace:  5 * time.Second,
		RedisTimeout:   2 * time.Second,
		ForgetUnplayed: 24 * time.Hour,
	}
}

// Validate reports the first setting that cannot work, in the flag's own words, and
// cleans the base path.
func (c *Config) Validate() error {
	switch {
	case c.SnapshotInterval < 100*time.Millisecond:
		return fmt.Errorf("--snapshot-interval must be at least 100ms, got %s", c.SnapshotInterval)
	case c.Tick < 10*time.Millisecond || c.Tick > 10*time.Second:
		return fmt.Errorf("--tick must be between 10ms and 10s, got %s", c.Tick)
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("--tls-cert and --tls-key go together")
	case c.LogFormat != "text" && c.LogFormat != "json":
		return fmt.Errorf("--log-format must be text or json, got %q", c.LogFormat)
	case c.MaxConns < 0 || c.NewPlayersPerMinute < 0 || c.SocketsPerIP < 0 || c.ConnsPerIP < 0:
		return errors.New("--max-conns, --new-players-per-minute, --sockets-per-ip and --conns-per-ip must not be negative")
	case c.IPv6Prefix < 32 || c.IPv6Prefix > 128:
		return fmt.Errorf("--ipv6-prefix must be from 32 to 128, got %d", c.IPv6Prefix)
	case c.Secret != "" && len(c.Secret) < 16:
		return errors.New("CTB_SECRET must be at least 16 characters")
	case c.ForgetUnplayed != 0 && c.ForgetUnplayed < time.Minute:
		return fmt.Errorf("--forget-unplayed must be 0 or at least 1m, got %s", c.ForgetUnplayed)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if err := checkRedisURL(c.Redis); err != nil {
		return err
	}
	if err := c.Rules.Validate(); err != nil {
		return err
	}
	bp, err := cleanBasePath(c.BasePath)
	c.BasePath = bp
	return err
}

// checkRedisURL refuses what cannot be a Redis URL before anything connects.
func checkRedisURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return fmt.Errorf("--redis must be a URL like redis://[user:password@]host:port/db or rediss://... for TLS, got %q", redactURL(s))
	}
	return nil
}

// redactURL hides a password in a URL for messages.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(unparseable URL)"
}

// Logger returns the logger the configuration asks for, writing to w.
func (c *Config) Logger(w interface{ Write([]byte) (int, error) }) *slog.Logger {
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level must be debug, info, warn or error, got %q", s)
	}
	return l, nil
}

// cleanBasePath turns "game", "/game/" or "/game" into "/game", and "/" into "".
func cleanBasePath(p string) (string, error) {
	p = strings.Trim(strings.TrimSpace(p), "/")
	if p == "" {
		return "", nil
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "?#%\\ ") {
			return "", fmt.Errorf("--base-path %q is not a plain path like /game", p)
		}
	}
	return "/" + p, nil
}
