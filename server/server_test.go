package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/internal/testutil"
	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves goroutines behind. The HTTP clients' own
// keep-alive loops are not counted: they belong to the tests, not to the server, and
// wind down on their own schedule after the test servers close.
func TestMain(m *testing.M) {
	code := m.Run()
	http.DefaultClient.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(
			goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// testServer is a Server over a real engine behind httptest, with its hub running. The
// engine's clock follows the real one, and tests may move it forward.
type testServer struct {
	*Server
	engine *game.Engine
	clock  *testutil.Clock
	http   *httptest.Server
}

func newTestServer(t *testing.T, mutate ...func(*Config, *game.Config)) *testServer {
	t.Helper()
	return newTestServerOn(t, nil, mutate...)
}

// newTestServerOn is newTestServer with the listener wrapped by wrap, when not nil.
func newTestServerOn(t *testing.T, wrap func(net.Listener) net.Listener, mutate ...func(*Config, *game.Config)) *testServer {
	t.Helper()
	clock := testutil.RealClock()
	gcfg := game.DefaultConfig()
	gcfg.Now = clock.Now
	cfg := testConfig()
	for _, m := range mutate {
		m(&cfg, &gcfg)
	}
	engine, err := game.New(gcfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := startTestServer(t, mustNew(t, cfg, engine), wrap)
	ts.engine, ts.clock = engine, clock
	return ts
}

// startTestServer serves s on a loopback listener (wrapped by wrap, when not nil) with
// its hub running, all stopped when the test ends.
func startTestServer(t *testing.T, s *Server, wrap func(net.Listener) net.Listener) *testServer {
	t.Helper()
	ts := &testServer{Server: s, http: httptest.NewUnstartedServer(s.Handler())}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.hub.run(ctx) }()
	if wrap != nil {
		ts.http.Listener = wrap(ts.http.Listener)
	}
	// As Serve does, so that closes behave as in production.
	ts.http.Listener = lingerListener{ts.http.Listener}
	ts.http.Start()
	t.Cleanup(func() {
		s.ws.Close()
		ts.http.CloseClientConnections()
		ts.http.Close()
		cancel()
		<-done
	})
	return ts
}

// testConfig is a complete server configuration for tests, with a fast tick.
func testConfig() Config {
	return Config{
		Secret: []byte("test secret, sixteen+ bytes"), Tick: 20 * time.Millisecond, Log: slog.New(slog.DiscardHandler),
		SendQueue: 16, MaxFramesPerSecond: 200, IPv6Prefix: 64,
		WriteTimeout: 10 * time.Second, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
	}
}

func mustNew(t *testing.T, cfg Config, g game.Backend) *Server {
	t.Helper()
	s, err := New(cfg, g)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// get returns the engine's player with id.
func (ts *testServer) get(t *testing.T, id uuid.UUID) game.Player {
	t.Helper()
	p, err := ts.engine.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// click applies one click of p a second after the last one, so it is never
// throttled, and reports whether it counted.
func (ts *testServer) click(t *testing.T, p game.Player) bool {
	t.Helper()
	ts.clock.Advance(time.Second)
	res, err := ts.engine.Click(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return res.Counted
}

// info returns what a moderator sees of p.
func (ts *testServer) info(t *testing.T, p game.Player) game.PlayerInfo {
	t.Helper()
	info, err := ts.engine.Info(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// player is an HTTP client with its own cookie jar.
type player struct {
	t      *testing.T
	ts     *testServer
	client *http.Client
}

func (ts *testServer) newPlayer(t *testing.T) *player {
	jar, _ := cookiejar.New(nil)
	return &player{t: t, ts: ts, client: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

func (p *player) do(method, path, body string) (int, map[string]any) {
	p.t.Helper()
	req, _ := http.NewRequest(method, p.ts.http.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		p.t.Fatalf("%s %s: body %q is not a JSON object: %v", method, path, raw, err)
	}
	return resp.StatusCode, out
}

func (p *player) join(handle string) map[string]any {
	p.t.Helper()
	code, body := p.do("POST", "/api/session", fmt.Sprintf(`{"handle":%q}`, handle))
	if code != 200 {
		p.t.Fatalf("join %q: %d %v", handle, code, body)
	}
	return body
}

func (p *player) cookieHeader() http.Header {
	u, _ := url.Parse(p.ts.http.URL)
	h := http.Header{}
	for _, c := range p.client.Jar.Cookies(u) {
		h.Add("Cookie", c.String())
	}
	return h
}

// socket is a WebSocket client that decodes frames.
type socket struct {
	t    *testing.T
	conn *websocket.Conn
}

func (p *player) dial() *socket {
	p.t.Helper()
	s, resp, err := p.dialWith(p.cookieHeader(), nil)
	if err != nil {
		p.t.Fatalf("dial: %v (status %v)", err, statusOf(resp))
	}
	return s
}

func statusOf(r *http.Response) int {
	if r == nil {
		return 0
	}
	return r.StatusCode
}

func (p *player) dialWith(h http.Header, d *websocket.Dialer) (*socket, *http.Response, error) {
	if d == nil {
		d = websocket.DefaultDialer
	}
	u := "ws" + strings.TrimPrefix(p.ts.http.URL, "http") + "/ws"
	conn, resp, err := d.Dial(u, h)
	if err != nil {
		return nil, resp, err
	}
	p.t.Cleanup(func() { conn.Close() })
	return &socket{t: p.t, conn: conn}, resp, nil
}

func (s *socket) send(frame string) {
	s.t.Helper()
	if err := s.conn.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		s.t.Fatal(err)
	}
}

// next returns the next frame, failing the test after a timeout.
func (s *socket) next() map[string]any {
	s.t.Helper()
	s.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, msg, err := s.conn.ReadMessage()
	if err != nil {
		s.t.Fatalf("read frame: %v", err)
	}
	if typ != websocket.TextMessage {
		s.t.Fatalf("frame type %d, want text", typ)
	}
	var f map[string]any
	if err := json.Unmarshal(msg, &f); err != nil {
		s.t.Fatalf("frame %q is not JSON: %v", msg, err)
	}
	return f
}

// until reads frames until one of type typ satisfies ok.
func (s *socket) until(typ string, ok func(map[string]any) bool) map[string]any {
	s.t.Helper()
	for {
		f := s.next()
		if f["type"] == typ && (ok == nil || ok(f)) {
			return f
		}
	}
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

func TestSessionLifecycle(t *testing.T) {
	ts := newTestServer(t)
	p := ts.newPlayer(t)

	if code, body := p.do("GET", "/api/session", ""); code != 401 || body["error"] == "" {
		t.Fatalf("GET without cookie: %d %v, want 401 with error", code, body)
	}
	body := p.join("  Ada   Lovelace ")
	if body["handle"] != "Ada Lovelace" || num(body["score"]) != 0 || body["tag"] == "" {
		t.Fatalf("join answered %v", body)
	}
	rules, _ := body["rules"].(map[string]any)
	if num(rules["throttle_limit"]) != 50 || num(rules["idle_reset_ms"]) != 300000 || num(rules["throttle_penalty_ms"]) != 60000 || num(rules["throttle_window_ms"]) != 1000 {
		t.Fatalf("rules %v", body["rules"])
	}

	u, _ := url.Parse(ts.http.URL)
	cookies := p.client.Jar.Cookies(u)
	if len(cookies) != 1 || cookies[0].Name != cookieName {
		t.Fatalf("cookies %v", cookies)
	}

	pl := ts.get(t, mustID(t, ts, p))
	for range 3 {
		ts.click(t, pl)
	}
	code, body := p.do("GET", "/api/session", "")
	if code != 200 || body["handle"] != "Ada Lovelace" || num(body["score"]) != 3 || num(body["best"]) != 3 {
		t.Fatalf("GET with cookie: %d %v", code, body)
	}

	body = p.join("Countess")
	if body["handle"] != "Countess" || num(body["score"]) != 3 {
		t.Fatalf("rename lost the score: %v", body)
	}
	if got := ts.engine.Stats().Players; got != 1 {
		t.Fatalf("rename created a player: %d players", got)
	}
}

func mustID(t *testing.T, ts *testServer, p *player) (id [16]byte) {
	t.Helper()
	req := &http.Request{Header: p.cookieHeader()}
	uid, _, err := ts.id.fromRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	return uid
}

func TestSetCookieAttributes(t *testing.T) {
	ts := newTestServer(t)
	resp, err := http.Post(ts.http.URL+"/api/session", "application/json", strings.NewReader(`{"handle":"bob"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc := resp.Header.Get("Set-Cookie")
	for _, want := range []string{cookieName + "=", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %q", sc, want)
		}
	}
	if strings.Contains(sc, "Secure") {
		t.Errorf("Set-Cookie %q is Secure over plain HTTP", sc)
	}
}

func TestBadCookiesAreNoIdentity(t *testing.T) {
	ts := newTestServer(t)
	p := ts.newPlayer(t)
	p.join("victim")
	good := p.cookieHeader().Get("Cookie")
	value := strings.TrimPrefix(good, cookieName+"=")
	payload, sig, _ := strings.Cut(value, ".")

	other := newIdentity([]byte("another secret of enough length"))
	forged := other.encode(mustID(t, ts, p), "victim")

	flip := []byte(payload)
	flip[3] ^= 1
	cases := map[string]string{
		"tampered payload":    string(flip) + "." + sig,
		"signed by other key": forged,
		"no signature":        payload,
		"empty":               "",
		"garbage":             "%%%.###",
		"huge":                strings.Repeat("a", 5000) + "." + sig,
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", ts.http.URL+"/api/session", nil)
			req.Header.Set("Cookie", cookieName+"="+v)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 401 {
				t.Fatalf("status %d, want 401", resp.StatusCode)
			}
		})
	}
}

func TestPostSessionRefusesBadInput(t *testing.T) {
	ts := newTestServer(t)
	cases := []struct {
		name, body string
		code       int
		errHas     string
	}{
		{"bad json", `{"handle":`, 400, "JSON object"},
		{"not an object", `"alice"`, 400, "JSON object"},
		{"missing handle", `{}`, 400, "required"},
		{"empty handle", `{"handle":"   "}`, 400, "empty"},
		{"markup", `{"handle":"<script>"}`, 400, "only contain"},
		{"too long", `{"handle":"` + strings.Repeat("x", 25) + `"}`, 400, "at most 24"},
		{"two objects", `{"handle":"a"}{"handle":"b"}`, 400, "single"},
		{"oversized body", `{"handle":"` + strings.Repeat("x", 5000) + `"}`, 413, "at most"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := ts.newPlayer(t).do("POST", "/api/session", c.body)
			msg, _ := body["error"].(string)
			if code != c.code || !strings.Contains(msg, c.errHas) {
				t.Fatalf("got %d %q, want %d containing %q", code, msg, c.code, c.errHas)
			}
		})
	}
	if n := ts.engine.Stats().Players; n != 0 {
		t.Fatalf("bad requests created %d players", n)
	}
}

func TestLeaderboardAndHealth(t *testing.T) {
	ts := newTestServer(t)
	a, b := ts.newPlayer(t), ts.newPlayer(t)
	a.join("same")
	b.join("same")
	pa, pb := ts.get(t, mustID(t, ts, a)), ts.get(t, mustID(t, ts, b))
	for range 5 {
		ts.engine.Click(context.Background(), pa)
	}
	ts.engine.Click(context.Background(), pb)
	ts.engine.Tick(context.Background())

	code, body := a.do("GET", "/api/leaderboard", "")
	top, _ := body["top"].([]any)
	if code != 200 || len(top) != 2 || num(body["total_clicks"]) != 6 || num(body["players"]) != 2 {
		t.Fatalf("leaderboard %d %v", code, body)
	}
	first, second := top[0].(map[string]any), top[1].(map[string]any)
	if num(first["best"]) != 5 || num(second["best"]) != 1 || first["handle"] != "same" {
		t.Fatalf("order %v", top)
	}
	if first["tag"] == second["tag"] {
		t.Fatal("two players with the same handle share a tag")
	}
	if strings.Contains(fmt.Sprint(body), pa.ID().String()) {
		t.Fatal("leaderboard reveals a player id")
	}
	if code, body := a.do("GET", "/healthz", ""); code != 200 || body["status"] != "ok" {
		t.Fatalf("healthz %d %v", code, body)
	}
	if code, body := a.do("GET", "/api/nothing", ""); code != 404 || body["error"] == "" {
		t.Fatalf("unknown api path %d %v", code, body)
	}
}

func TestSecurityHeaders(t *testing.T) {
	ts := newTestServer(t)
	resp, err := http.Get(ts.http.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("page without a build: status %d, want 503 notice", resp.StatusCode)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("CSP %q", csp)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("page headers %v", resp.Header)
	}
	// What is not a document gets the short policy that allows nothing.
	for _, path := range []string{"/api/stats", "/api/leaderboard", "/api/session", "/healthz"} {
		resp, err := http.Get(ts.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if csp := resp.Header.Get("Content-Security-Policy"); csp != resourcePolicy || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: CSP %q, nosniff %q", path, csp, resp.Header.Get("X-Content-Type-Options"))
		}
	}
}

// TestStrictTransportSecurity: HSTS only when the server serves TLS itself.
func TestStrictTransportSecurity(t *testing.T) {
	cert, _, _ := testutil.Cert(t)
	insecure := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	tlsURL, _ := servePlain(t, func(c *Config) { c.TLS = &tls.Config{Certificates: []tls.Certificate{cert}} })
	plainURL, _ := servePlain(t, nil)
	cases := []struct {
		name   string
		url    string
		client *http.Client
		want   string
	}{
		{"served over TLS", "https" + strings.TrimPrefix(tlsURL, "http"), insecure, "max-age=63072000"},
		{"plain HTTP", plainURL, http.DefaultClient, ""},
		{"TLS ended in front of the server", newTLSURL(t, newTestServer(t)), insecure, ""},
	}
	for _, c := range cases {
		for _, path := range []string{"/healthz", "/no-such-page", "/api/nothing"} {
			resp, err := c.client.Get(c.url + path)
			if err != nil {
				t.Fatalf("%s %s: %v", c.name, path, err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Strict-Transport-Security"); got != c.want {
				t.Errorf("%s %s: Strict-Transport-Security %q, want %q", c.name, path, got, c.want)
			}
		}
	}
}

func TestWebSocketNeedsCookieAndOrigin(t *testing.T) {
	ts := newTestServer(t, func(c *Config, _ *game.Config) { c.AllowedOrigins = []string{"http://localhost:5173"} })
	p := ts.newPlayer(t)
	p.join("alice")
	host := strings.TrimPrefix(ts.http.URL, "http://")

	cases := []struct {
		name   string
		cookie bool
		origin string
		want   int
	}{
		{"no cookie", false, "http://" + host, 401},
		{"foreign origin", true, "http://evil.example", 403},
		{"look-alike origin", true, "http://" + host + ".evil.example", 403},
		{"malformed origin", true, "null", 403},
		{"same origin", true, "http://" + host, 101},
		{"configured origin", true, "http://localhost:5173", 101},
		{"no origin (not a browser)", true, "", 101},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.cookie {
				h = p.cookieHeader()
			}
			if c.origin != "" {
				h.Set("Origin", c.origin)
			}
			s, resp, err := p.dialWith(h, nil)
			if got := statusOf(resp); got != c.want {
				t.Fatalf("status %d (err %v), want %d", got, err, c.want)
			}
			if s != nil {
				s.conn.Close()
			}
		})
	}
}

func TestClickFlow(t *testing.T) {
	ts := newTestServer(t)
	alice, bob := ts.newPlayer(t), ts.newPlayer(t)
	alice.join("alice")
	bob.join("bob")
	as, bs := alice.dial(), bob.dial()

	if f := as.next(); f["type"] != "state" || f["handle"] != "alice" {
		t.Fatalf("first frame %v, want alice's state", f)
	}
	if f := as.next(); f["type"] != "board" {
		t.Fatalf("second frame %v, want the full board", f)
	}
	for i := 1; i <= 3; i++ {
		as.send(`{"type":"click"}`)
		f := as.until("state", nil)
		if num(f["score"]) != int64(i) || num(f["best"]) != int64(i) || f["throttled"] != false {
			t.Fatalf("ack %d: %v", i, f)
		}
	}
	// Bob sees alice's row arrive through deltas.
	bs.until("board_delta", func(f map[string]any) bool {
		for _, r := range f["rows"].([]any) {
			row := r.(map[string]any)
			if row["handle"] == "alice" && num(row["best"]) == 3 && num(row["rank"]) == 1 {
				return true
			}
		}
		return false
	})
	// A second tab of alice learns about the clicks of the first.
	as2 := alice.dial()
	if f := as2.next(); f["type"] != "state" || num(f["score"]) != 3 {
		t.Fatalf("second tab state %v", f)
	}
	as.send(`{"type":"click"}`)
	as2.until("state", func(f map[string]any) bool { return num(f["score"]) == 4 })
}

func TestBadFramesAreRefusedHarmlessly(t *testing.T) {
	ts := newTestServer(t)
	p := ts.newPlayer(t)
	p.join("fuzzy")
	s := p.dial()
	s.next()
	s.next()

	cases := []struct {
		name   string
		typ    int
		frame  []byte
		errHas string
	}{
		{"unknown type", websocket.TextMessage, []byte(`{"type":"jump"}`), "unknown frame type"},
		{"bad json", websocket.TextMessage, []byte(`{"type":`), "JSON object"},
		{"array", websocket.TextMessage, []byte(`[1,2]`), "JSON object"},
		{"no type", websocket.TextMessage, []byte(`{}`), "no \"type\""},
		{"invalid utf-8", websocket.TextMessage, []byte("{\"type\":\"\xff\"}"), "UTF-8"},
		{"binary", websocket.BinaryMessage, []byte{1, 2, 3}, "binary"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := s.conn.WriteMessage(c.typ, c.frame); err != nil {
				t.Fatal(err)
			}
			f := s.until("error", nil)
			if !strings.Contains(f["error"].(string), c.errHas) {
				t.Fatalf("error %q lacks %q", f["error"], c.errHas)
			}
		})
	}
	// The socket still works and nothing was counted.
	s.send(`{"type":"click"}`)
	if f := s.until("state", nil); num(f["score"]) != 1 {
		t.Fatalf("after bad frames, click gave %v", f)
	}
}

func TestOversizedFrameClosesSocket(t *testing.T) {
	ts := newTestServer(t)
	p := ts.newPlayer(t)
	p.join("big")
	s := p.dial()
	s.send(`{"type":"click","pad":"` + strings.Repeat("x", maxFrameBytes) + `"}`)
	testutil.ReadUntilClose(t, s.conn, websocket.CloseMessageTooBig, "")
	// Others are unaffected.
	q := ts.newPlayer(t)
	q.join("other")
	o := q.dial()
	o.send(`{"type":"click"}`)
	o.until("state", func(f map[string]any) bool { return num(f["score"]) == 1 })
}

func TestFloodClosesSocket(t *testing.T) {
	const limit = 20
	ts := newTestServer(t, func(c *Config, _ *game.Config) { c.MaxFramesPerSecond = limit })
	p := ts.newPlayer(t)
	p.join("flood")
	s := p.dial()
	// A burst far over the limit, all of it sent before the client reads: the close
	// frame must still reach it, not be lost to a reset over the frames the server
	// had no need to read.
	for range 30 * limit {
		s.send(`{"type":"click"}`)
	}
	testutil.ReadUntilClose(t, s.conn, closeFlood, "too many frames")
	if total := ts.engine.Stats().TotalClicks; total > limit {
		t.Fatalf("%d clicks counted from a socket closed after %d frames", total, limit)
	}
	deadline := time.Now().Add(5 * time.Second)
	for ts.engine.Stats().Online != 0 {
		if time.Now().After(deadline) {
			t.Fatal("flooding player still online after the close")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestThrottleOverSocket(t *testing.T) {
	ts := newTestServer(t, func(_ *Config, g *game.Config) { g.ThrottleLimit = 5 })
	p := ts.newPlayer(t)
	p.join("bot")
	s := p.dial()
	for range 10 {
		s.send(`{"type":"click"}`)
	}
	f := s.until("state", func(f map[string]any) bool { return f["throttled"] == true })
	if num(f["score"]) != 5 || num(f["retry_after_ms"]) <= 0 || num(f["retry_after_ms"]) > 60000 {
		t.Fatalf("throttled state %v", f)
	}
}

func TestResyncSendsFullBoard(t *testing.T) {
	ts := newTestServer(t)
	p := ts.newPlayer(t)
	p.join("carol")
	s := p.dial()
	s.send(`{"type":"click"}`)
	s.until("board_delta", nil)
	s.send(`{"type":"resync"}`)
	f := s.until("board", nil)
	rows := f["rows"].([]any)
	if len(rows) != 1 || rows[0].(map[string]any)["handle"] != "carol" || num(f["seq"]) < 1 {
		t.Fatalf("resync board %v", f)
	}
}

// TestSlowClientConvergesAndDoesNotStallOthers fills a non-reading client's queue and
// the socket buffers under it, checks that a reading client keeps getting every delta,
// and that the slow one, once it reads, is brought back to the true board.
func TestSlowClientConvergesAndDoesNotStallOthers(t *testing.T) {
	// Tiny kernel buffers, so the slow socket backs up after a few frames.
	small := func(l net.Listener) net.Listener { return &smallBufListener{Listener: l} }
	ts := newTestServerOn(t, small, func(c *Config, _ *game.Config) { c.SendQueue = 2 })
	smallDialer := &websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(2048)
		}
		return c, err
	}}
	slowP, fastP := ts.newPlayer(t), ts.newPlayer(t)
	slowP.join("slow")
	fastP.join("fast")
	slow, _, err := slowP.dialWith(slowP.cookieHeader(), smallDialer)
	if err != nil {
		t.Fatal(err)
	}
	fast := fastP.dial()

	// Many players climb with long handles over many ticks: big deltas.
	var players []game.Player
	for i := range 100 {
		pl, err := ts.engine.Join(context.Background(), fmt.Sprintf("climber number %03d xxxxx", i))
		if err != nil {
			t.Fatal(err)
		}
		players = append(players, pl)
	}
	var fastSeq int64
	lastSeq := func(f map[string]any) bool {
		fastSeq = num(f["seq"])
		return true
	}
	fast.until("board", lastSeq)
	for round := range 40 {
		for i, pl := range players {
			for range (i*7+round)%5 + 1 {
				ts.engine.Click(context.Background(), pl)
			}
		}
		ts.clock.Advance(2 * time.Second) // stay under the throttle
		// The fast client sees each delta in order within a few ticks.
		f := fast.until("board_delta", nil)
		if got := num(f["seq"]); got != fastSeq+1 {
			t.Fatalf("fast client got seq %d after %d", got, fastSeq)
		}
		fastSeq = num(f["seq"])
	}

	// Now the slow client reads. It must reach a full board equal to the true one.
	want := ts.engine.Board()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		f := slow.next()
		if f["type"] != "board" || uint64(num(f["seq"])) != want.Seq {
			continue
		}
		rows := f["rows"].([]any)
		if len(rows) != len(want.Rows) {
			t.Fatalf("slow client's board has %d rows, want %d", len(rows), len(want.Rows))
		}
		for i, r := range rows {
			row := r.(map[string]any)
			if row["handle"] != want.Rows[i].Handle || num(row["best"]) != want.Rows[i].Best {
				t.Fatalf("row %d: %v, want %+v", i, row, want.Rows[i])
			}
		}
		return
	}
	t.Fatal("slow client never received the true board")
}

type smallBufListener struct{ net.Listener }

func (l *smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(2048)
	}
	return c, err
}

func TestConcurrentClickersOverSockets(t *testing.T) {
	ts := newTestServer(t, func(_ *Config, g *game.Config) { g.ThrottleLimit = 1 << 20 })
	const players, clicks = 8, 200
	var wg sync.WaitGroup
	for i := range players {
		p := ts.newPlayer(t)
		p.join(fmt.Sprintf("p%d", i))
		s := p.dial()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range clicks {
				if err := s.conn.WriteMessage(websocket.TextMessage, clickFrame); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(time.Millisecond) // stay under the flood limit
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			for {
				_, msg, err := s.conn.ReadMessage()
				if err != nil {
					t.Error(err)
					return
				}
				if bytes.Contains(msg, []byte(`"type":"state"`)) && bytes.Contains(msg, []byte(fmt.Sprintf(`"total":%d,`, clicks))) {
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := ts.engine.Stats().TotalClicks; got != players*clicks {
		t.Fatalf("total clicks %d, want %d", got, players*clicks)
	}
}

func TestServeShutsDownCleanly(t *testing.T) {
	engine, _ := game.New(game.DefaultConfig())
	s := mustNew(t, testConfig(), engine)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, l, 5*time.Second) }()

	ts := &testServer{Server: s, engine: engine, http: &httptest.Server{URL: "http://" + l.Addr().String()}}
	p := ts.newPlayer(t)
	p.join("last")
	sock := p.dial()
	sock.next()
	sock.send(`{"type":"click"}`)
	sock.until("state", func(f map[string]any) bool { return num(f["score"]) == 1 })

	cancel()
	testutil.ReadUntilClose(t, sock.conn, websocket.CloseGoingAway, "")
	if err := <-served; err != nil {
		t.Fatalf("Serve returned %v", err)
	}
	if engine.Stats().Online != 0 {
		t.Fatal("players still online after shutdown")
	}
}

// TestGetSessionOptional: the page asks with ?optional=1 on every visit, so that "no
// player yet" is a 204 a browser does not log as an error; without it the answer stays
// 401, and a valid cookie is answered the same either way.
func TestGetSessionOptional(t *testing.T) {
	ts := newTestServer(t)
	joined := ts.newPlayer(t)
	joined.join("Optional")
	cases := []struct {
		name   string
		path   string
		cookie http.Header
		want   int
	}{
		{"no cookie, optional", "/api/session?optional=1", nil, 204},
		{"tampered cookie, optional", "/api/session?optional=1", http.Header{"Cookie": {cookieName + "=bad.cookie"}}, 204},
		{"no cookie, not optional", "/api/session", nil, 401},
		{"valid cookie, optional", "/api/session?optional=1", joined.cookieHeader(), 200},
		{"valid cookie, not optional", "/api/session", joined.cookieHeader(), 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", ts.http.URL+c.path, nil)
			for k, v := range c.cookie {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.want {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, c.want)
			}
			switch c.want {
			case 204:
				if len(body) != 0 {
					t.Fatalf("204 with a body: %q", body)
				}
			case 200:
				var s map[string]any
				if err := json.Unmarshal(body, &s); err != nil || s["handle"] != "Optional" {
					t.Fatalf("session %q (%v)", body, err)
				}
			}
		})
	}
}
