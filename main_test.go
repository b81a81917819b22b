package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/internal/testutil"
	"github.com/gorilla/websocket"
)

func TestHelpAndVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, noEnv, &out, &errOut); code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, flagName := range []string{"--addr", "--data", "--snapshot-interval", "--idle-reset", "--throttle-limit", "--throttle-penalty",
		"--allowed-origins", "CTB_ALLOWED_ORIGINS", "CTB_SECRET", "CTB_ADMIN_TOKEN", "--base-path", "--trusted-proxies", "--max-conns",
		"--new-players-per-minute", "--sockets-per-ip", "--conns-per-ip", "--ipv6-prefix", "--tls-cert", "--tls-key", "--metrics-addr", "--pprof-addr", "--log-format", "--log-level", "--healthcheck",
		"--redis", "CTB_REDIS_URL", "import", "export"} {
		if !strings.Contains(errOut.String(), flagName) {
			t.Errorf("--help does not mention %s", flagName)
		}
	}
	out.Reset()
	if code := run(context.Background(), []string{"--version"}, noEnv, &out, &errOut); code != 0 || !strings.Contains(out.String(), version) {
		t.Fatalf("--version: exit %d, %q", code, out.String())
	}
}

func noEnv(string) string { return "" }

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startRun runs the program in the background and waits until it answers.
func startRun(t *testing.T, dir string, extra ...string) (addr string, stop func() int) {
	t.Helper()
	return startRunEnv(t, dir, noEnv, extra...)
}

// startRunEnv is startRun with an environment.
func startRunEnv(t *testing.T, dir string, getenv func(string) string, extra ...string) (addr string, stop func() int) {
	t.Helper()
	addr = freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	logs := &testutil.SyncBuffer{}
	args := append([]string{"--addr", addr, "--data", dir, "--snapshot-interval", "1h"}, extra...)
	go func() {
		code <- run(ctx, args, getenv, logs, logs)
	}()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	scheme := "http://"
	if slices.Contains(extra, "--tls-cert") {
		scheme = "https://"
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(scheme + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case c := <-code:
			t.Fatalf("program exited %d before serving: %s", c, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("program did not start: %s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr, func() int { cancel(); return <-code }
}

// TestShutdownKeepsAcknowledgedClicks: clicks acknowledged before the signal are in the
// file after it, even with a snapshot interval far longer than the test, and a restart
// brings them back.
func TestShutdownKeepsAcknowledgedClicks(t *testing.T) {
	dir := t.TempDir()
	addr, stop := startRun(t, dir)

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err := client.Post("http://"+addr+"/api/session", "application/json", strings.NewReader(`{"handle":"Zoë the 2nd"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("join: %d", resp.StatusCode)
	}
	h := http.Header{}
	for _, c := range resp.Cookies() {
		h.Add("Cookie", c.Name+"="+c.Value)
	}
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", h)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const clicks = 7
	var last map[string]any
	for range clicks {
		conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"click"}`))
	}
	for last == nil || last["score"] != float64(clicks) {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var f map[string]any
		json.Unmarshal(msg, &f)
		if f["type"] == "state" {
			last = f
		}
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d after shutdown, want 0", code)
	}
	data, err := os.ReadFile(filepath.Join(dir, "scores.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `,Zoë the 2nd,7,7,7,`) {
		t.Fatalf("scores.csv lacks the acknowledged clicks:\n%s", data)
	}

	addr, stop = startRun(t, dir)
	defer stop()
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/session", nil)
	req.Header = h
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	json.NewDecoder(resp.Body).Decode(&s)
	resp.Body.Close()
	if s["score"] != float64(clicks) || s["handle"] != "Zoë the 2nd" {
		t.Fatalf("after restart the session is %v", s)
	}
}

func TestMalformedScoresStopTheStart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "scores.csv")
	bad := "id,handle,score,best,total,last_click\n" +
		"7d444840-9dc0-11d1-b245-5ffdce74fad2,ok,1,1,1,2026-01-02T03:04:05Z\n" +
		"not-a-uuid,bad,1,1,1,\n"
	os.WriteFile(path, []byte(bad), 0o600)
	var logs bytes.Buffer
	code := run(context.Background(), []string{"--addr", freeAddr(t), "--data", dir}, noEnv, &logs, &logs)
	if code == 0 {
		t.Fatal("started on a malformed scores file")
	}
	if !strings.Contains(logs.String(), path) || !strings.Contains(logs.String(), "line 3") {
		t.Fatalf("message does not name the file and line: %s", logs.String())
	}
	if got, _ := os.ReadFile(path); string(got) != bad {
		t.Fatal("the malformed file was changed")
	}
}

func TestHealthcheckMode(t *testing.T) {
	addr, stop := startRun(t, t.TempDir())
	var out bytes.Buffer
	if code := run(context.Background(), []string{"--healthcheck", "--addr", addr}, noEnv, &out, &out); code != 0 {
		t.Fatalf("--healthcheck against a ready server: exit %d: %s", code, out.String())
	}
	// --addr as a self-hoster writes it: all interfaces, probed on loopback.
	_, port, _ := net.SplitHostPort(addr)
	if code := run(context.Background(), []string{"--healthcheck", "--addr", ":" + port}, noEnv, &out, &out); code != 0 {
		t.Fatalf("--healthcheck --addr :%s: exit %d: %s", port, code, out.String())
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if code := run(context.Background(), []string{"--healthcheck", "--addr", addr}, noEnv, &out, &out); code != 1 {
		t.Fatalf("--healthcheck against a stopped server: exit %d, want 1", code)
	}
}

func TestMetricsOnTheirOwnListener(t *testing.T) {
	maddr := freeAddr(t)
	addr, stop := startRun(t, t.TempDir(), "--metrics-addr", maddr)
	defer stop()
	resp, err := http.Get("http://" + maddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "ctb_players_online") {
		t.Fatalf("metrics listener: %d", resp.StatusCode)
	}
	resp, err = http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Fatal("metrics are also public on the main listener")
	}
}

func TestProfilerOnItsOwnListener(t *testing.T) {
	paddr := freeAddr(t)
	addr, stop := startRun(t, t.TempDir(), "--pprof-addr", paddr)
	defer stop()
	resp, err := http.Get("http://" + paddr + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("profiler: %d", resp.StatusCode)
	}
	resp, err = http.Get("http://" + addr + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Fatal("the profiler is public on the game's listener")
	}
}

func TestServesTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := testutil.CertFiles(t, dir)
	addr, stop := startRun(t, filepath.Join(dir, "data"), "--tls-cert", certFile, "--tls-key", keyFile)
	defer stop()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Post("https://"+addr+"/api/session", "application/json", strings.NewReader(`{"handle":"tls"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Set-Cookie"), "Secure") {
		t.Fatalf("over TLS: %d, cookie %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"--healthcheck", "--addr", addr, "--tls-cert", certFile, "--tls-key", keyFile}, noEnv, &out, &out); code != 0 {
		t.Fatalf("--healthcheck over TLS: exit %d: %s", code, out.String())
	}
}

func TestSecondProcessOnTheSameDataIsRefused(t *testing.T) {
	dir := t.TempDir()
	_, stop := startRun(t, dir)
	defer stop()
	var logs bytes.Buffer
	code := run(context.Background(), []string{"--addr", freeAddr(t), "--data", dir}, noEnv, &logs, &logs)
	if code == 0 || !strings.Contains(logs.String(), "another clickthebutton process is using the data folder") {
		t.Fatalf("second server on the same data: exit %d: %s", code, logs.String())
	}
}

// TestChangingTheSecretLogsEveryoneOut: cookies signed with an old CTB_SECRET are "no
// cookie" after a change, the server starts fine, and the old player's scores stay.
func TestChangingTheSecretLogsEveryoneOut(t *testing.T) {
	dir := t.TempDir()
	env := func(secret string) func(string) string {
		return func(k string) string {
			if k == "CTB_SECRET" {
				return secret
			}
			return ""
		}
	}
	addr, stop := startRunEnv(t, dir, env("first secret, long enough"))
	resp, err := http.Post("http://"+addr+"/api/session", "application/json", strings.NewReader(`{"handle":"rotated"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookie := resp.Header.Get("Set-Cookie")
	cookie, _, _ = strings.Cut(cookie, ";")
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}

	addr, stop = startRunEnv(t, dir, env("second secret, also long"))
	defer stop()
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/session", nil)
	req.Header.Set("Cookie", cookie)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("old cookie after a key change: %d, want 401", resp.StatusCode)
	}
	resp, err = http.Get("http://" + addr + "/api/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st["players"] != float64(1) {
		t.Fatalf("the player's record is gone after a key change: %v", st)
	}
}

// TestUnreachableRedisStopsTheStart: a Redis that does not answer, or a URL that is
// not one, stops the start with a message naming it.
func TestUnreachableRedisStopsTheStart(t *testing.T) {
	for _, tc := range []struct {
		url      string
		code     int
		contains []string
	}{
		{"redis://127.0.0.1:1", 1, []string{"127.0.0.1:1", "unreachable"}},
		{"redis://user:hunter2@127.0.0.1:1/0", 1, []string{"127.0.0.1:1", "unreachable"}},
		{"127.0.0.1:6379", 2, []string{"--redis must be a URL"}},
	} {
		var logs bytes.Buffer
		code := run(context.Background(), []string{"--addr", freeAddr(t), "--data", t.TempDir(), "--redis", tc.url}, noEnv, &logs, &logs)
		if code != tc.code {
			t.Errorf("--redis %s: exit %d, want %d; log:\n%s", tc.url, code, tc.code, logs.String())
		}
		for _, s := range tc.contains {
			if !strings.Contains(logs.String(), s) {
				t.Errorf("--redis %s: the log does not say %q:\n%s", tc.url, s, logs.String())
			}
		}
		if strings.Contains(logs.String(), "hunter2") {
			t.Errorf("--redis %s: the log shows the password:\n%s", tc.url, logs.String())
		}
	}
}
