// Command clickthebutton runs Click the Button: a real-time global click game served as
// one binary with its web page inside. Without --redis one process is the whole game,
// its scores in memory and in scores.csv; with --redis any number of processes share
// one game kept in Redis. `clickthebutton import` and `export` move a game between the
// two.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/clickthebutton/clickthebutton/internal/app"
)

// version and commit are stamped by the release build (-ldflags "-X main.version=...").
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is the whole program: flags and environment into one configuration, then the
// command. It returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	inv, err := app.Parse(args, getenv, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "clickthebutton:", err)
		return 2
	}
	log := inv.Config.Logger(stderr)
	switch inv.Command {
	case app.Help:
		return 0
	case app.Version:
		fmt.Fprintf(stdout, "clickthebutton %s (commit %s)\n", version, commit)
		return 0
	case app.Healthcheck:
		if err := app.Probe(inv.Config); err != nil {
			fmt.Fprintln(stderr, "clickthebutton: not ready:", err)
			return 1
		}
		return 0
	case app.Import, app.Export:
		move := app.ImportFile
		if inv.Command == app.Export {
			move = app.ExportFile
		}
		if err := move(ctx, inv, log, stdout); err != nil {
			fmt.Fprintln(stderr, "clickthebutton:", err)
			return 1
		}
		return 0
	}
	if err := app.Run(ctx, inv.Config, app.Build{Version: version, Commit: commit, Page: pageFS()}, log); err != nil {
		log.Error("clickthebutton stopped", "err", err)
		return 1
	}
	return 0
}
