package app

import (
	"bytes"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
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

// TestTightenDataDir: a data folder other users may read or write becomes 0700, with a
// line that says so; a private one is left as it is, without a word.
func TestTightenDataDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix mode bits on Windows")
	}
	cases := []struct {
		mode, want fs.FileMode
		logs       string
	}{
		{0o755, 0o700, "level=INFO msg=\"the data folder was open to other users: its mode is now 0700\""},
		{0o750, 0o700, "was=0750"},
		{0o777, 0o700, "was=0777"},
		{0o701, 0o700, "was=0701"},
		{0o700, 0o700, ""},
		{0o500, 0o500, ""},
	}
	for _, c := range cases {
		t.Run(c.mode.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, c.mode); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			tightenDataDir(dir, slog.New(slog.NewTextHandler(&buf, nil)))
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != c.want {
				t.Errorf("mode %#o, want %#o", got, c.want)
			}
			out := buf.String()
			if c.logs == "" && out != "" || c.logs != "" && (!strings.Contains(out, c.logs) || !strings.Contains(out, "path="+dir)) {
				t.Errorf("logged %q, want a line with %q", out, c.logs)
			}
		})
	}
	t.Run("a folder that cannot be checked", func(t *testing.T) {
		var buf bytes.Buffer
		tightenDataDir(filepath.Join(t.TempDir(), "missing"), slog.New(slog.NewTextHandler(&buf, nil)))
		if !strings.Contains(buf.String(), "level=WARN") {
			t.Errorf("logged %q, want a warning", buf.String())
		}
	})
}
