package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	neturl "net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/internal/testutil"
	"github.com/gorilla/websocket"
)

// scrape returns the value of one metric line (name plus labels) from /metrics.
func scrape(t *testing.T, ts *testServer, series string) float64 {
	t.Helper()
	resp, err := http.Get(ts.http.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	t.Fatalf("/metrics has no %s", series)
	return 0
}

func TestMetricsMoveWithPlay(t *testing.T) {
	ts := newTestServer(t, func(c *Config, g *game.Config) { c.MetricsOnMain = true; g.ThrottleLimit = 3 })
	for _, name := range []string{"ctb_clicks_total", `ctb_clicks_refused_total{reason="throttled"}`, "ctb_players", "ctb_players_online",
		"ctb_players_online_peak", "ctb_players_returning_total", "ctb_ws_frames_dropped_total", "ctb_ws_connects_total",
		"ctb_ws_disconnects_total", "ctb_snapshot_failures_total", "ctb_snapshot_size_bytes", "ctb_leaderboard_tick_duration_seconds_count",
		"ctb_snapshot_duration_seconds_count", "ctb_snapshot_last_success_timestamp_seconds", "go_goroutines", `ctb_ws_frames_refused_total{reason="invalid"}`} {
		scrape(t, ts, name)
	}
	p := ts.newPlayer(t)
	p.join("metered")
	s := p.dial()
	for range 5 {
		s.send(`{"type":"click"}`)
	}
	s.send(`{"type":"nonsense"}`)
	s.until("error", nil)
	checks := map[string]float64{
		"ctb_clicks_total": 3,
		`ctb_clicks_refused_total{reason="throttled"}`: 2,
		"ctb_players":             1,
		"ctb_players_online":      1,
		"ctb_players_online_peak": 1,
		"ctb_ws_connects_total":   1,
		`ctb_ws_frames_refused_total{reason="unknown_type"}`: 1,
	}
	for series, want := range checks {
		if got := scrape(t, ts, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if scrape(t, ts, "ctb_leaderboard_tick_duration_seconds_count") == 0 {
		t.Error("no leaderboard tick observed")
	}
	ts.ObserveSnapshot(30*time.Millisecond, 1234, nil)
	ts.ObserveSnapshot(time.Millisecond, 0, fmt.Errorf("disk full"))
	if scrape(t, ts, "ctb_snapshot_size_bytes") != 1234 || scrape(t, ts, "ctb_snapshot_failures_total") != 1 ||
		scrape(t, ts, "ctb_snapshot_duration_seconds_count") != 2 || scrape(t, ts, "ctb_snapshot_last_success_timestamp_seconds") < 1e9 {
		t.Error("snapshot metrics did not follow ObserveSnapshot")
	}
}

func TestMetricsOffTheMainListener(t *testing.T) {
	ts := newTestServer(t) // MetricsOnMain false, as with --metrics-addr
	resp, err := http.Get(ts.http.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Fatal("/metrics is public although it has a listener of its own")
	}
	rec := &bytes.Buffer{}
	req, _ := http.NewRequest("GET", "/metrics", nil)
	w := &recorder{header: http.Header{}, body: rec}
	ts.MetricsHandler().ServeHTTP(w, req)
	if !strings.Contains(rec.String(), "ctb_clicks_total") {
		t.Fatal("MetricsHandler does not serve the metrics")
	}
}

type recorder struct {
	header http.Header
	body   *bytes.Buffer
	code   int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(code int)        { r.code = code }

func TestStatsAPI(t *testing.T) {
	ts := newTestServer(t)
	p := ts.newPlayer(t)
	p.join("counted")
	s := p.dial()
	s.send(`{"type":"click"}`)
	s.until("state", func(f map[string]any) bool { return num(f["score"]) == 1 })
	code, body := p.do("GET", "/api/stats", "")
	if code != 200 || num(body["total_clicks"]) != 1 || num(body["players"]) != 1 || num(body["online"]) != 1 ||
		num(body["peak_online"]) != 1 || body["returning_players"] == nil {
		t.Fatalf("stats %d %v", code, body)
	}
}

// servePlain runs Serve on a loopback listener, with testConfig changed by mod, and
// returns its base URL.
func servePlain(t *testing.T, mod func(*Config)) (string, *Server) {
	t.Helper()
	engine, _ := game.New(game.DefaultConfig())
	cfg := testConfig()
	if mod != nil {
		mod(&cfg)
	}
	s := mustNew(t, cfg, engine)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l, 2*time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + l.Addr().String(), s
}

func TestReadiness(t *testing.T) {
	url, s := servePlain(t, nil)
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/readyz while serving: %d", resp.StatusCode)
	}
	s.ready.Store(false) // what Serve does first when shutdown begins
	resp, err = http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while shutting down: %d", resp.StatusCode)
	}
	resp, err = http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatal("/healthz must stay 200 while the process runs")
	}
}

func TestMaxConnsAnswers503(t *testing.T) {
	url, _ := servePlain(t, func(c *Config) { c.MaxConns = 2 })
	addr := strings.TrimPrefix(url, "http://")
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		// Make sure the server accepted it before the next one.
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("connection within the cap: %v %v", resp, err)
		}
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("connection over the cap: %v %v", resp, err)
	}
	c.Close()
	held[0].Close()
	// A freed slot is usable again.
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(url + "/healthz")
		if err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a closed connection did not free its slot")
		}
		time.Sleep(20 * time.Millisecond)
	}
	held[1].Close()
}

func TestSlowHeadersAreCut(t *testing.T) {
	url, _ := servePlain(t, func(c *Config) { c.ReadHeaderTimeout = 200 * time.Millisecond })
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n") // and never the blank line
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	io.ReadAll(c) // returns when the server closes the connection
	if waited := time.Since(start); waited >= 5*time.Second {
		t.Fatal("the server kept a connection that never finished its headers")
	}
}

func TestNewPlayersPerAddress(t *testing.T) {
	post := func(ts *testServer, xff string) int {
		req, _ := http.NewRequest("POST", ts.http.URL+"/api/session", strings.NewReader(`{"handle":"many"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
		return resp.StatusCode
	}
	t.Run("untrusted X-Forwarded-For is ignored", func(t *testing.T) {
		ts := newTestServer(t, func(c *Config, _ *game.Config) { c.NewPlayersPerMinute = 2 })
		got := []int{post(ts, "1.1.1.1"), post(ts, "2.2.2.2"), post(ts, "3.3.3.3")}
		if got[0] != 200 || got[1] != 200 || got[2] != 429 {
			t.Fatalf("statuses %v, want 200 200 429", got)
		}
		// A bad handle costs nothing from the quota.
		ts2 := newTestServer(t, func(c *Config, _ *game.Config) { c.NewPlayersPerMinute = 1 })
		ts2.newPlayer(t).do("POST", "/api/session", `{"handle":"<bad>"}`)
		if post(ts2, "") != 200 {
			t.Fatal("a refused handle used up the quota")
		}
	})
	t.Run("trusted proxy's X-Forwarded-For is believed", func(t *testing.T) {
		ts := newTestServer(t, func(c *Config, _ *game.Config) {
			c.NewPlayersPerMinute = 1
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		})
		got := []int{post(ts, "1.1.1.1"), post(ts, "2.2.2.2"), post(ts, "1.1.1.1"), post(ts, "203.0.113.9, 2.2.2.2")}
		if got[0] != 200 || got[1] != 200 || got[2] != 429 || got[3] != 429 {
			t.Fatalf("statuses %v, want 200 200 429 429", got)
		}
	})
}

func TestSocketsPerAddress(t *testing.T) {
	ts := newTestServer(t, func(c *Config, _ *game.Config) { c.SocketsPerIP = 2 })
	p := ts.newPlayer(t)
	p.join("tabby")
	a, b := p.dial(), p.dial()
	_, resp, err := p.dialWith(p.cookieHeader(), nil)
	if statusOf(resp) != 429 {
		t.Fatalf("third socket: status %d, err %v", statusOf(resp), err)
	}
	a.conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, _, err := p.dialWith(p.cookieHeader(), nil)
		if err == nil {
			s.conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a closed socket did not free its slot")
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.conn.Close()
}

func TestCookieSecureOverHTTPS(t *testing.T) {
	cookieOf := func(url string, client *http.Client, hdr map[string]string) string {
		req, _ := http.NewRequest("POST", url+"/api/session", strings.NewReader(`{"handle":"sec"}`))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Set-Cookie")
	}
	proxied := newTestServer(t, func(c *Config, _ *game.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	direct := newTestServer(t)
	tlsTS := newTestServer(t)
	https := newTLSURL(t, tlsTS)
	insecure := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	cases := []struct {
		name   string
		cookie string
		secure bool
	}{
		{"plain HTTP", cookieOf(direct.http.URL, http.DefaultClient, nil), false},
		{"forged X-Forwarded-Proto", cookieOf(direct.http.URL, http.DefaultClient, map[string]string{"X-Forwarded-Proto": "https"}), false},
		{"trusted proxy says https", cookieOf(proxied.http.URL, http.DefaultClient, map[string]string{"X-Forwarded-Proto": "https"}), true},
		{"TLS", cookieOf(https, insecure, nil), true},
	}
	for _, c := range cases {
		if got := strings.Contains(c.cookie, "; Secure"); got != c.secure {
			t.Errorf("%s: Set-Cookie %q, Secure %v, want %v", c.name, c.cookie, got, c.secure)
		}
	}
}

// newTLSURL serves ts's handler over TLS too and returns that URL.
func newTLSURL(t *testing.T, ts *testServer) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: ts.Handler()}
	certSrv, _, _ := testutil.Cert(t)
	tl := tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{certSrv}})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); srv.Serve(tl) }()
	t.Cleanup(func() { srv.Close(); wg.Wait() })
	return "https://" + l.Addr().String()
}

func TestBasePath(t *testing.T) {
	ts := newTestServer(t, func(c *Config, _ *game.Config) { c.BasePath = "/game" })
	p := ts.newPlayer(t)
	code, body := p.do("POST", "/game/api/session", `{"handle":"nested"}`)
	if code != 200 {
		t.Fatalf("POST /game/api/session: %d %v", code, body)
	}
	if code, _ := p.do("GET", "/game/api/session", ""); code != 200 {
		t.Fatalf("GET /game/api/session: %d (is the cookie's Path right?)", code)
	}
	if code, _ := p.do("GET", "/api/session", ""); code != 404 {
		t.Fatalf("GET /api/session outside the base path: %d, want 404", code)
	}
	if code, _ := p.do("GET", "/healthz", ""); code != 200 {
		t.Fatalf("/healthz must stay at the root: %d", code)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(ts.http.URL + "/game")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/game/" {
		t.Fatalf("/game: %d to %q, want a redirect to /game/", resp.StatusCode, resp.Header.Get("Location"))
	}
	u := "ws" + strings.TrimPrefix(ts.http.URL, "http") + "/game/ws"
	h := http.Header{}
	gameURL, _ := neturl.Parse(ts.http.URL + "/game/ws")
	for _, c := range p.client.Jar.Cookies(gameURL) {
		h.Add("Cookie", c.String())
	}
	conn, _, err := websocket.DefaultDialer.Dial(u, h)
	if err != nil {
		t.Fatalf("socket under the base path: %v", err)
	}
	defer conn.Close()
	s := &socket{t: t, conn: conn}
	s.send(`{"type":"click"}`)
	s.until("state", func(f map[string]any) bool { return num(f["score"]) == 1 })
}

func TestAccessLog(t *testing.T) {
	var buf testutil.SyncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	ts := newTestServer(t, func(c *Config, _ *game.Config) { c.Log = log })
	p := ts.newPlayer(t)
	p.join("logged")
	s := p.dial()
	s.next()
	s.conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := buf.String()
		if strings.Contains(out, "msg=\"websocket session\"") {
			if !strings.Contains(out, "msg=request method=POST path=/api/session status=200") || !strings.Contains(out, "ip=127.0.0.1") {
				t.Fatalf("access log lacks the request line:\n%s", out)
			}
			if !strings.Contains(out, "duration=") {
				t.Fatalf("access log lacks durations:\n%s", out)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no websocket session line:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
