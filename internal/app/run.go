package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/game/redisgame"
	"github.com/clickthebutton/clickthebutton/server"
)

// Build names the binary that runs.
type Build struct {
	Version, Commit string
	// Page is the built web page, or nil when the binary was built without it.
	Page fs.FS
}

// opened is a backend ready to serve, with what running it needs.
type opened struct {
	backend game.Backend
	source  game.Source
	lease   game.Lease // nil: this process alone writes the snapshot
	secret  []byte
	close   func() error
}

// Run serves the game until ctx is done, then shuts down in order: stop accepting,
// close every socket, write the final snapshot. Every click acknowledged before ctx
// ended is in that snapshot (memory) or in Redis.
func Run(ctx context.Context, c Config, b Build, log *slog.Logger) error {
	warnLimits(c, log)
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	tightenDataDir(c.Data, log)
	// Two writers of one scores file would lose each other's clicks.
	unlock, err := game.LockDir(c.Data)
	if err != nil {
		return err
	}
	defer unlock()
	path := filepath.Join(c.Data, game.SnapshotFile)
	for _, name := range []string{game.SnapshotFile, game.ModerationFile} {
		if err := game.RemoveStaleTemps(filepath.Join(c.Data, name)); err != nil {
			return err
		}
	}
	var g opened
	if c.Redis == "" {
		g, err = openMemory(c, path, log)
	} else {
		g, err = openRedis(ctx, c, log)
	}
	if err != nil {
		return err
	}
	defer g.close()

	tlsConfig, err := loadTLS(c)
	if err != nil {
		return err
	}
	srv, err := server.New(server.Config{
		TLS:                 tlsConfig,
		Secret:              g.secret,
		AllowedOrigins:      c.AllowedOrigins,
		TrustedProxies:      c.TrustedProxies,
		MaxConns:            c.MaxConns,
		NewPlayersPerMinute: c.NewPlayersPerMinute,
		SocketsPerIP:        c.SocketsPerIP,
		ConnsPerIP:          c.ConnsPerIP,
		IPv6Prefix:          c.IPv6Prefix,
		Tick:                c.Tick,
		Page:                b.Page,
		Version:             b.Version,
		Log:                 log,
		BasePath:            c.BasePath,
		AdminToken:          c.AdminToken,
		MetricsOnMain:       c.MetricsAddr == "",
		SendQueue:           c.SendQueue,
		MaxFramesPerSecond:  c.MaxFramesPerSecond,
		WriteTimeout:        c.WriteTimeout,
		ReadHeaderTimeout:   c.ReadHeaderTimeout,
		IdleTimeout:         c.IdleTimeout,
		SnapshotInterval:    c.SnapshotInterval,
	}, g.backend)
	if err != nil {
		return err
	}

	snap := &game.Snapshotter{Path: path, Interval: c.SnapshotInterval, Source: g.source, Lease: g.lease, Log: log, Observe: srv.ObserveSnapshot}
	if g.lease == nil {
		// What was just loaded is on disk already.
		if err := snap.Prime(ctx); err != nil {
			return err
		}
	}

	l, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	stopSide, err := sideListeners(c, srv, log)
	if err != nil {
		l.Close()
		return err
	}
	defer stopSide()
	log.Info("serving Click the Button", "addr", l.Addr().String(), "tls", tlsConfig != nil, "backend", backendName(c),
		"base_path", c.BasePath+"/", "version", b.Version, "commit", b.Commit, "page_built", b.Page != nil)

	snapCtx, stopSnap := context.WithCancel(context.Background())
	snapDone := make(chan struct{})
	go func() { defer close(snapDone); snap.Run(snapCtx) }()
	forgetDone := make(chan struct{})
	go func() { defer close(forgetDone); forgetLoop(snapCtx, c, g, log) }()

	serveErr := srv.Serve(ctx, l, c.ShutdownGrace)
	stopSnap()
	<-snapDone
	<-forgetDone
	final, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wrote, err := snap.Flush(final)
	if g.lease != nil {
		// The next node takes over the snapshots at once, not when the lease expires.
		if rerr := g.lease.Release(final); rerr != nil {
			log.Warn("could not release the snapshot lease; another node takes over when it expires", "err", rerr)
		}
	}
	if err != nil {
		return fmt.Errorf("final snapshot: %w", err)
	}
	log.Info("stopped", "final_snapshot_written", wrote)
	return serveErr
}

// forgetLoop forgets the players who never clicked within c.ForgetUnplayed, every
// twenty-fourth of that (at most hourly), until ctx ends. With Redis only the node
// that writes the snapshots sweeps, since a sweep reads every player.
func forgetLoop(ctx context.Context, c Config, g opened, log *slog.Logger) {
	if c.ForgetUnplayed == 0 {
		return
	}
	t := time.NewTicker(min(max(c.ForgetUnplayed/24, time.Minute), time.Hour))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if g.lease != nil {
			if held, err := g.lease.Hold(ctx); err != nil || !held {
				continue
			}
		}
		n, err := g.backend.ForgetUnplayed(ctx, time.Now().Add(-c.ForgetUnplayed))
		switch {
		case err != nil:
			log.Warn("forgetting players who never played failed; retried later", "err", err)
		case n > 0:
			log.Info("forgot players who never played", "players", n, "after", c.ForgetUnplayed)
		}
	}
}

// tightenDataDir makes the data folder private (0700) when other users may read or
// write it: MkdirAll leaves the mode of a folder that exists alone, and the folder
// holds the cookie key, every player's id and the lock. A folder that cannot be
// changed (another owner, a read-only mount) is served from all the same, with a
// warning. Windows has no such mode bits to tighten.
func tightenDataDir(dir string, log *slog.Logger) {
	if runtime.GOOS == "windows" {
		return
	}
	fi, err := os.Stat(dir)
	if err != nil {
		log.Warn("could not check the data folder's mode", "path", dir, "err", err)
		return
	}
	mode := fi.Mode().Perm()
	if mode&0o077 == 0 {
		return
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		log.Warn("the data folder is open to other users and could not be made private; chmod 700 it", "path", dir,
			"mode", fmt.Sprintf("%#o", mode), "err", err)
		return
	}
	log.Info("the data folder was open to other users: its mode is now 0700", "path", dir, "was", fmt.Sprintf("%#o", mode))
}

// warnLimits logs the limits that work but defeat each other. It does not refuse them:
// a setting that served before an upgrade keeps serving.
func warnLimits(c Config, log *slog.Logger) {
	if c.ConnsPerIP > 0 && c.SocketsPerIP > 0 && c.ConnsPerIP <= c.SocketsPerIP {
		// Raising --sockets-per-ip alone is the usual cause.
		log.Warn("--conns-per-ip is not above --sockets-per-ip: an address that holds its sockets has no connection left to load the page; raise --conns-per-ip",
			"conns_per_ip", c.ConnsPerIP, "sockets_per_ip", c.SocketsPerIP)
	}
}

func backendName(c Config) string {
	if c.Redis == "" {
		return "memory"
	}
	return "redis " + redactURL(c.Redis)
}

// openMemory is the single-process game: its scores in memory, kept in scores.csv.
func openMemory(c Config, path string, log *slog.Logger) (opened, error) {
	secret, err := server.LoadSecret(c.Secret, c.Data)
	if err != nil {
		return opened{}, err
	}
	start := time.Now()
	e, n, err := game.OpenMemory(c.Rules, path)
	if err != nil {
		return opened{}, err
	}
	log.Info("scores loaded", "path", path, "players", n, "took", time.Since(start).Round(time.Millisecond))
	return opened{backend: e, source: e, secret: secret, close: func() error { return nil }}, nil
}

// openRedis is one node of a game in Redis. The cookie key is CTB_SECRET, or the one
// every node shares through Redis; scores.csv is a backup that one node at a time
// writes, under a lease that outlives a missed snapshot or two.
func openRedis(ctx context.Context, c Config, log *slog.Logger) (opened, error) {
	b, err := redisgame.Open(ctx, redisgame.Options{URL: c.Redis, Rules: c.Rules, Log: log, OpTimeout: c.RedisTimeout})
	if err != nil {
		return opened{}, err
	}
	secret := []byte(c.Secret)
	if c.Secret == "" {
		if secret, err = b.Secret(ctx, nil); err != nil {
			b.Close()
			return opened{}, err
		}
	}
	st := b.Stats()
	log.Info("joined the game in redis", "redis", redactURL(c.Redis), "node", b.Node(), "players", st.Players, "clicks", st.TotalClicks)
	ttl := max(3*c.SnapshotInterval, 3*time.Second)
	return opened{backend: b, source: b, lease: b.Lease(ttl), secret: secret, close: b.Close}, nil
}

func loadTLS(c Config) (*tls.Config, error) {
	if c.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// sideListeners serves the metrics and the profiler on their own addresses, when
// asked; the returned func stops them.
func sideListeners(c Config, srv *server.Server, log *slog.Logger) (stop func(), err error) {
	var servers []*http.Server
	stop = func() {
		for _, s := range servers {
			s.Close()
		}
	}
	for _, side := range []struct {
		name, addr string
		handler    http.Handler
	}{
		{"metrics", c.MetricsAddr, metricsMux(srv.MetricsHandler())},
		{"profiler", c.PprofAddr, pprofMux()},
	} {
		if side.addr == "" {
			continue
		}
		l, err := net.Listen("tcp", side.addr)
		if err != nil {
			stop()
			return nil, fmt.Errorf("listen for %s: %w", side.name, err)
		}
		s := &http.Server{Handler: side.handler, ReadHeaderTimeout: c.ReadHeaderTimeout}
		servers = append(servers, s)
		go func() {
			if err := s.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error(side.name+" listener failed", "err", err)
			}
		}()
		log.Info("serving "+side.name, "addr", l.Addr().String())
	}
	return stop, nil
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
