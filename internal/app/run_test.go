package app

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestWarnLimits(t *testing.T) {
	cases := []struct {
		name                     string
		connsPerIP, socketsPerIP int
		warns                    bool
	}{
		{"defaults", Defaults().ConnsPerIP, Defaults().SocketsPerIP, false},
		{"sockets raised alone", 100, 200, true},
		{"equal", 50, 50, true},
		{"no connection cap", 0, 200, false},
		{"no socket cap", 10, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			cfg := Defaults()
			cfg.ConnsPerIP, cfg.SocketsPerIP = c.connsPerIP, c.socketsPerIP
			warnLimits(cfg, slog.New(slog.NewTextHandler(&buf, nil)))
			if got := strings.Contains(buf.String(), "level=WARN") && strings.Contains(buf.String(), "--conns-per-ip"); got != c.warns {
				t.Fatalf("warned %v, want %v: %q", got, c.warns, buf.String())
			}
		})
	}
}
