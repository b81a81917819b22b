// Command clickthebutton runs Click the Button: a real-time global click game served as
// one binary with its web page inside.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/server"
)

// version and commit are stamped by the release build (-ldflags "-X main.version=...").
var (
	version = "dev"
	commit  = "unknown"
)

// options are the command line, after flags and CTB_* environment variables.
type options struct {
	addr                string
	data                string
	basePath            string
	snapshotInterval    time.Duration
	idleReset           time.Duration
	throttleLimit       int
	throttleWindow      time.Duration
	throttlePenalty     time.Duration
	tick                time.Duration
	allowedOrigins      string
	trustedProxies      string
	maxConns            int
	newPlayersPerMinute int
	socketsPerIP        int
	tlsCert             string
	tlsKey              string
	metricsAddr         string
	pprofAddr           string
	logFormat           string
	logLevel            string
	healthcheck         bool
	showVersion         bool
}

// commandOnly flags act on this run only and have no environment variable.
var commandOnly = map[string]bool{"version": true, "healthcheck": true}

// parseOptions reads flags, then fills every flag not given on the command line from
// its environment variable CTB_<NAME> (dashes become underscores). Defaults live here
// and only here.
func parseOptions(args []string, getenv func(string) string, out io.Writer) (options, error) {
	def := game.DefaultConfig()
	var o options
	fs := flag.NewFlagSet("clickthebutton", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.addr, "addr", ":8080", "address to listen on")
	fs.StringVar(&o.data, "data", "data", "folder for scores.csv and secret.key")
	fs.StringVar(&o.basePath, "base-path", "", "serve the page, API and WebSocket under this sub-path, e.g. /game (probes stay at the root)")
	fs.DurationVar(&o.snapshotInterval, "snapshot-interval", 5*time.Second, "how often scores are written to disk when they changed")
	fs.DurationVar(&o.idleReset, "idle-reset", def.IdleReset, "time without a counted click after which a score goes back to 0")
	fs.IntVar(&o.throttleLimit, "throttle-limit", def.ThrottleLimit, "click attempts allowed per throttle window before a player is throttled")
	fs.DurationVar(&o.throttleWindow, "throttle-window", def.ThrottleWindow, "window the throttle limit is counted over")
	fs.DurationVar(&o.throttlePenalty, "throttle-penalty", def.ThrottlePenalty, "while throttled, one click per this period counts; the throttle lifts after one such period under the limit")
	fs.DurationVar(&o.tick, "tick", 100*time.Millisecond, "how often the leaderboard is published to every player")
	fs.StringVar(&o.allowedOrigins, "allowed-origins", "", "comma-separated extra origins allowed to open the WebSocket, e.g. https://example.com")
	fs.StringVar(&o.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs or addresses of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed")
	fs.IntVar(&o.maxConns, "max-conns", 10000, "connections open at once, sockets included; more are answered 503 (0: no cap)")
	fs.IntVar(&o.newPlayersPerMinute, "new-players-per-minute", 30, "players one client address may create per minute; more get 429 (0: no cap)")
	fs.IntVar(&o.socketsPerIP, "sockets-per-ip", 50, "WebSockets one client address may hold open; more get 429 (0: no cap)")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate file: serve HTTPS directly (with --tls-key)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM private key file for --tls-cert")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve /metrics on this address only (e.g. 127.0.0.1:9090); empty serves it at /metrics on --addr")
	fs.StringVar(&o.pprofAddr, "pprof-addr", "", "serve Go's profiler (net/http/pprof) on this address, for diagnosing load; keep it on loopback, e.g. 127.0.0.1:6060")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.BoolVar(&o.healthcheck, "healthcheck", false, "probe /readyz of the server running with these flags and exit 0 when ready, 1 otherwise (for containers without curl)")
	fs.BoolVar(&o.showVersion, "version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: clickthebutton [flags]\n\nRuns Click the Button. Every flag can also be set with the environment variable\nshown in brackets; a flag on the command line wins. Secrets are environment only:\nCTB_SECRET signs cookies (without it a key is kept in <data>/secret.key) and\nCTB_ADMIN_TOKEN turns on the moderation API.\n\nFlags:\n")
		fs.VisitAll(func(f *flag.Flag) {
			if commandOnly[f.Name] {
				fmt.Fprintf(out, "  --%s\n    \t%s\n", f.Name, f.Usage)
				return
			}
			fmt.Fprintf(out, "  --%s (%s, default %q)\n    \t%s\n", f.Name, envName(f.Name), f.DefValue, f.Usage)
		})
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if commandOnly[f.Name] || set[f.Name] || err != nil {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, e)
			}
		}
	})
	if err != nil {
		return o, err
	}
	return o, o.check()
}

// check reports the first option that cannot work, in the flag's own words.
func (o *options) check() error {
	switch {
	case o.snapshotInterval < 100*time.Millisecond:
		return fmt.Errorf("--snapshot-interval must be at least 100ms, got %s", o.snapshotInterval)
	case o.tick < 10*time.Millisecond || o.tick > 10*time.Second:
		return fmt.Errorf("--tick must be between 10ms and 10s, got %s", o.tick)
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return errors.New("--tls-cert and --tls-key go together")
	case o.logFormat != "text" && o.logFormat != "json":
		return fmt.Errorf("--log-format must be text or json, got %q", o.logFormat)
	case o.maxConns < 0 || o.newPlayersPerMinute < 0 || o.socketsPerIP < 0:
		return errors.New("--max-conns, --new-players-per-minute and --sockets-per-ip must not be negative")
	}
	if _, err := parseLevel(o.logLevel); err != nil {
		return err
	}
	if _, err := parseProxies(o.trustedProxies); err != nil {
		return err
	}
	bp, err := cleanBasePath(o.basePath)
	o.basePath = bp
	return err
}

func envName(flagName string) string {
	return "CTB_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level must be debug, info, warn or error, got %q", s)
	}
	return l, nil
}

// parseProxies reads comma-separated CIDRs; a bare address means that address alone.
func parseProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range splitList(s) {
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies: %q is not a CIDR or an address", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
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

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (o options) gameConfig() game.Config {
	c := game.DefaultConfig()
	c.ThrottleLimit = o.throttleLimit
	c.ThrottleWindow = o.throttleWindow
	c.ThrottlePenalty = o.throttlePenalty
	c.IdleReset = o.idleReset
	return c
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is the whole program; it returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "clickthebutton:", err)
		return 2
	}
	if o.showVersion {
		fmt.Fprintf(stdout, "clickthebutton %s (commit %s)\n", version, commit)
		return 0
	}
	if o.healthcheck {
		if err := probe(o); err != nil {
			fmt.Fprintln(stderr, "clickthebutton: not ready:", err)
			return 1
		}
		return 0
	}
	level, _ := parseLevel(o.logLevel)
	hopts := &slog.HandlerOptions{Level: level}
	var log *slog.Logger
	if o.logFormat == "json" {
		log = slog.New(slog.NewJSONHandler(stderr, hopts))
	} else {
		log = slog.New(slog.NewTextHandler(stderr, hopts))
	}
	if err := serve(ctx, o, getenv, log); err != nil {
		log.Error("clickthebutton stopped", "err", err)
		return 1
	}
	return 0
}

// probe asks the server that runs with o whether it is ready.
func probe(o options) error {
	host, port, err := net.SplitHostPort(o.addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", o.addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	scheme := "http"
	client := &http.Client{Timeout: 5 * time.Second}
	if o.tlsCert != "" {
		// The probe checks this very server, on this machine, whatever its name.
		scheme = "https"
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	}
	resp, err := client.Get(scheme + "://" + net.JoinHostPort(host, port) + "/readyz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz answered %s", resp.Status)
	}
	return nil
}

func serve(ctx context.Context, o options, getenv func(string) string, log *slog.Logger) error {
	if err := os.MkdirAll(o.data, 0o700); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	// Two writers of one scores file would lose each other's clicks.
	unlock, err := game.LockDir(o.data)
	if err != nil {
		return err
	}
	defer unlock()
	secret, err := server.LoadSecret(getenv("CTB_SECRET"), o.data)
	if err != nil {
		return err
	}
	engine, err := game.New(o.gameConfig())
	if err != nil {
		return err
	}
	path := filepath.Join(o.data, game.SnapshotFile)
	if err := game.RemoveStaleTemps(path); err != nil {
		return err
	}
	start := time.Now()
	n, err := game.LoadSnapshot(path, engine)
	if err != nil {
		return fmt.Errorf("load scores (the file was left untouched): %w", err)
	}
	log.Info("scores loaded", "path", path, "players", n, "took", time.Since(start).Round(time.Millisecond))

	var tlsConfig *tls.Config
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return fmt.Errorf("load TLS certificate: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	proxies, _ := parseProxies(o.trustedProxies)
	srv := server.New(server.Config{
		TLS:                 tlsConfig,
		Secret:              secret,
		AllowedOrigins:      splitList(o.allowedOrigins),
		TrustedProxies:      proxies,
		MaxConns:            o.maxConns,
		NewPlayersPerMinute: o.newPlayersPerMinute,
		SocketsPerIP:        o.socketsPerIP,
		Tick:                o.tick,
		Page:                pageFS(),
		Version:             version,
		Log:                 log,
		BasePath:            o.basePath,
		AdminToken:          getenv("CTB_ADMIN_TOKEN"),
		MetricsOnMain:       o.metricsAddr == "",
	}, engine)

	snap := &game.Snapshotter{Path: path, Interval: o.snapshotInterval, Source: engine, Log: log, Observe: srv.ObserveSnapshot}
	snap.Prime(context.Background())

	l, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	for _, side := range []struct {
		name, addr string
		handler    http.Handler
	}{
		{"metrics", o.metricsAddr, metricsMux(srv.MetricsHandler())},
		{"profiler", o.pprofAddr, pprofMux()},
	} {
		if side.addr == "" {
			continue
		}
		sl, err := net.Listen("tcp", side.addr)
		if err != nil {
			l.Close()
			return fmt.Errorf("listen for %s: %w", side.name, err)
		}
		ssrv := &http.Server{Handler: side.handler, ReadHeaderTimeout: 10 * time.Second}
		go ssrv.Serve(sl)
		defer ssrv.Close()
		log.Info("serving "+side.name, "addr", sl.Addr().String())
	}
	log.Info("serving Click the Button", "addr", l.Addr().String(), "tls", o.tlsCert != "",
		"base_path", o.basePath+"/", "version", version, "commit", commit, "page_built", pageFS() != nil)

	snapCtx, stopSnap := context.WithCancel(context.Background())
	snapDone := make(chan struct{})
	go func() { defer close(snapDone); snap.Run(snapCtx) }()

	serveErr := srv.Serve(ctx, l, 5*time.Second)
	stopSnap()
	<-snapDone
	wrote, err := snap.Flush(context.Background())
	if err != nil {
		return fmt.Errorf("final snapshot: %w", err)
	}
	log.Info("stopped", "final_snapshot_written", wrote)
	return serveErr
}

// pprofMux serves the profiler's handlers on a mux of their own, never on the game's.
func pprofMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

func metricsMux(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	return mux
}
