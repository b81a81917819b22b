// Command clickthebutton runs Click the Button: a real-time global click game served as
// one binary with its web page inside.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/server"
)

// version is stamped by the release build (-ldflags "-X main.version=...").
var version = "dev"

// options are the command line, after flags and CTB_* environment variables.
type options struct {
	addr             string
	data             string
	snapshotInterval time.Duration
	idleReset        time.Duration
	throttleLimit    int
	throttleWindow   time.Duration
	throttlePenalty  time.Duration
	tick             time.Duration
	allowedOrigins   string
	showVersion      bool
}

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
	fs.DurationVar(&o.snapshotInterval, "snapshot-interval", 5*time.Second, "how often scores are written to disk when they changed")
	fs.DurationVar(&o.idleReset, "idle-reset", def.IdleReset, "time without a counted click after which a score goes back to 0")
	fs.IntVar(&o.throttleLimit, "throttle-limit", def.ThrottleLimit, "click attempts allowed per throttle window before a player is throttled")
	fs.DurationVar(&o.throttleWindow, "throttle-window", def.ThrottleWindow, "window the throttle limit is counted over")
	fs.DurationVar(&o.throttlePenalty, "throttle-penalty", def.ThrottlePenalty, "while throttled, one click per this period counts; the throttle lifts after one such period under the limit")
	fs.DurationVar(&o.tick, "tick", 100*time.Millisecond, "how often the leaderboard is published to every player")
	fs.StringVar(&o.allowedOrigins, "allowed-origins", "", "comma-separated extra origins allowed to open the WebSocket, e.g. https://example.com")
	fs.BoolVar(&o.showVersion, "version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: clickthebutton [flags]\n\nRuns Click the Button. Every flag can also be set with the environment variable\nshown in brackets; a flag on the command line wins. CTB_SECRET (env only) sets the\ncookie signing key; without it a key is kept in <data>/secret.key.\n\nFlags:\n")
		fs.VisitAll(func(f *flag.Flag) {
			if f.Name == "version" {
				fmt.Fprintf(out, "  --version\n    \t%s\n", f.Usage)
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
		if f.Name == "version" {
			return
		}
		if v := getenv(envName(f.Name)); v != "" && !set[f.Name] && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, e)
			}
		}
	})
	if err == nil && o.snapshotInterval < 100*time.Millisecond {
		err = fmt.Errorf("snapshot interval must be at least 100ms, got %s", o.snapshotInterval)
	}
	if err == nil && (o.tick < 10*time.Millisecond || o.tick > 10*time.Second) {
		err = fmt.Errorf("tick must be between 10ms and 10s, got %s", o.tick)
	}
	return o, err
}

func envName(flagName string) string {
	return "CTB_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
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
		fmt.Fprintln(stdout, "clickthebutton", version)
		return 0
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if err := serve(ctx, o, getenv, log); err != nil {
		log.Error("clickthebutton stopped", "err", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, o options, getenv func(string) string, log *slog.Logger) error {
	if err := os.MkdirAll(o.data, 0o700); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	secret, err := server.LoadSecret(getenv("CTB_SECRET"), o.data)
	if err != nil {
		return err
	}
	engine, err := game.New(o.gameConfig(), game.NewMemory())
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

	snap := &game.Snapshotter{Path: path, Interval: o.snapshotInterval, Engine: engine, Log: log}
	snap.Prime()

	var origins []string
	for _, s := range strings.Split(o.allowedOrigins, ",") {
		if s = strings.TrimSpace(s); s != "" {
			origins = append(origins, s)
		}
	}
	srv := server.New(server.Config{
		Secret:         secret,
		AllowedOrigins: origins,
		Tick:           o.tick,
		Page:           pageFS(),
		Version:        version,
		Log:            log,
	}, engine)

	l, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("serving Click the Button", "addr", l.Addr().String(), "version", version, "page_built", pageFS() != nil)

	snapCtx, stopSnap := context.WithCancel(context.Background())
	snapDone := make(chan struct{})
	go func() { defer close(snapDone); snap.Run(snapCtx) }()

	serveErr := srv.Serve(ctx, l, 5*time.Second)
	stopSnap()
	<-snapDone
	wrote, err := snap.Flush()
	if err != nil {
		return fmt.Errorf("final snapshot: %w", err)
	}
	log.Info("stopped", "final_snapshot_written", wrote)
	return serveErr
}
