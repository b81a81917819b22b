package server

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/internal/testutil"
)

func TestLimitKey(t *testing.T) {
	cases := []struct {
		addr string
		bits int
		want string
	}{
		{"192.0.2.7", 64, "192.0.2.7"},
		{"192.0.2.7", 32, "192.0.2.7"}, // the prefix is for IPv6 only
		{"::ffff:192.0.2.7", 64, "192.0.2.7"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64, "2001:db8:1:2::"},
		{"2001:db8:1:2::1", 64, "2001:db8:1:2::"},
		{"2001:db8:1:3::1", 64, "2001:db8:1:3::"},
		{"2001:db8:1:3::1", 48, "2001:db8:1::"},
		{"2001:db8:1:3::1", 128, "2001:db8:1:3::1"},
		{"2001:db8:1:3:ffff::1", 56, "2001:db8:1::"},
		{"fe80::1%eth0", 64, "fe80::"},
		{"fe80::1%eth0", 128, "fe80::1"},
	}
	for _, c := range cases {
		got := limitKey(netip.MustParseAddr(c.addr), c.bits)
		if got != netip.MustParseAddr(c.want) {
			t.Errorf("limitKey(%s, %d) = %s, want %s", c.addr, c.bits, got, c.want)
		}
	}
	if got := limitKey(netip.Addr{}, 64); got.IsValid() {
		t.Errorf("limitKey of the zero Addr = %s, want the zero Addr", got)
	}
}

// TestPerAddressLimitsGroupIPv6: two addresses of one /64 share the new-player and
// the socket quota, two /64s do not, and Config.IPv6Prefix moves the line. The
// addresses come from a trusted proxy's X-Forwarded-For, the only way to show a
// loopback test server several IPv6 clients.
func TestPerAddressLimitsGroupIPv6(t *testing.T) {
	cases := []struct {
		name   string
		prefix int
		a, b   string
		shared bool
	}{
		{"one /64", 64, "2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true},
		{"two /64s", 64, "2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"two /64s in one /48", 48, "2001:db8:1:2::1", "2001:db8:1:3::1", true},
		{"every address alone", 128, "2001:db8:1:2::1", "2001:db8:1:2::2", false},
		{"IPv4 by the whole address", 32, "192.0.2.1", "192.0.2.2", false},
		{"IPv4-mapped is IPv4", 64, "::ffff:192.0.2.1", "192.0.2.1", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := newTestServer(t, func(cfg *Config, _ *game.Config) {
				cfg.IPv6Prefix = c.prefix
				cfg.NewPlayersPerMinute, cfg.SocketsPerIP = 1, 1
				cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
			})
			want := http.StatusOK
			if c.shared {
				want = http.StatusTooManyRequests
			}

			// New players per minute.
			pa, pb := ts.newPlayer(t), ts.newPlayer(t)
			if code := pa.postFrom(c.a, "alpha"); code != http.StatusOK {
				t.Fatalf("first player from %s: %d", c.a, code)
			}
			if code := pb.postFrom(c.b, "beta"); code != want {
				t.Fatalf("new player from %s after one from %s: %d, want %d", c.b, c.a, code, want)
			}

			// Open sockets: pa holds one from a; a socket from b shares its quota or not.
			h := pa.cookieHeader()
			h.Set("X-Forwarded-For", c.a)
			held, resp, err := pa.dialWith(h, nil)
			if err != nil {
				t.Fatalf("first socket from %s: %v (status %d)", c.a, err, statusOf(resp))
			}
			defer held.conn.Close()
			h.Set("X-Forwarded-For", c.b)
			s, resp, err := pa.dialWith(h, nil)
			if got := statusOf(resp); (c.shared && got != http.StatusTooManyRequests) || (!c.shared && err != nil) {
				t.Fatalf("socket from %s while %s holds one: status %d, err %v; shared %v", c.b, c.a, got, err, c.shared)
			}
			if s != nil {
				s.conn.Close()
			}
		})
	}
}

// postFrom creates (or renames) p's player as if sent by a trusted proxy for addr, and
// returns the status.
func (p *player) postFrom(addr, handle string) int {
	p.t.Helper()
	req, _ := http.NewRequest("POST", p.ts.http.URL+"/api/session", strings.NewReader(`{"handle":"`+handle+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", addr)
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// dialFrom opens a TCP connection to addr from the local address from ("" for any).
// It skips the test when the system cannot bind that address (127.0.0.2 is loopback
// on Linux, not on every system).
func dialFrom(t *testing.T, addr, from string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		if from != "" {
			t.Skipf("cannot dial from %s here: %v", from, err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// healthz sends GET /healthz on c and reads the answer: once it has one, the server
// accepted c and counts it.
func healthz(c net.Conn) (*http.Response, error) {
	if _, err := fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err == nil {
		resp.Body.Close()
	}
	return resp, err
}

// limited reads ctb_http_limited_total{limit=...} from s without a connection of its own.
func limited(t *testing.T, s *Server, limit string) float64 {
	t.Helper()
	rec := &recorder{header: http.Header{}, body: &bytes.Buffer{}}
	s.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	series := `ctb_http_limited_total{limit="` + limit + `"} `
	for line := range strings.Lines(rec.body.String()) {
		if v, ok := strings.CutPrefix(line, series); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return f
		}
	}
	return 0
}

// TestConnsPerIPAnswers429: over real TCP, one address gets ConnsPerIP connections and
// the next one is answered 429 with Retry-After before it sent anything; another
// address is not affected; a closed connection frees its slot.
func TestConnsPerIPAnswers429(t *testing.T) {
	url, s := servePlain(t, func(c *Config) { c.ConnsPerIP = 2 })
	addr := strings.TrimPrefix(url, "http://")
	for range 2 {
		if resp, err := healthz(dialFrom(t, addr, "")); err != nil || resp.StatusCode != 200 {
			t.Fatalf("connection within the cap: %v %v", resp, err)
		}
	}
	over := dialFrom(t, addr, "")
	resp, err := http.ReadResponse(bufio.NewReader(over), nil) // nothing written: the answer comes unasked
	if err != nil {
		t.Fatalf("connection over the cap: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var out map[string]string
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" ||
		resp.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &out) != nil || !strings.Contains(out["error"], "at most 2 connections") {
		t.Fatalf("connection over the cap: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	if got := limited(t, s, "conns_per_ip"); got != 1 {
		t.Fatalf(`ctb_http_limited_total{limit="conns_per_ip"} = %v, want 1`, got)
	}

	// Another address has a cap of its own.
	if resp, err := healthz(dialFrom(t, addr, "127.0.0.2")); err != nil || resp.StatusCode != 200 {
		t.Fatalf("a connection from another address: %v %v", resp, err)
	}
}

func TestConnsPerIPSlotIsFreedOnClose(t *testing.T) {
	url, _ := servePlain(t, func(c *Config) { c.ConnsPerIP = 1 })
	addr := strings.TrimPrefix(url, "http://")
	held := dialFrom(t, addr, "")
	if resp, err := healthz(held); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first connection: %v %v", resp, err)
	}
	if resp, err := http.ReadResponse(bufio.NewReader(dialFrom(t, addr, "")), nil); err != nil || resp.StatusCode != 429 {
		t.Fatalf("second connection: %v %v", resp, err)
	}
	held.Close()
	// The server notices the close when its read ends; until then the slot is taken.
	for i := 0; ; i++ {
		resp, err := healthz(dialFrom(t, addr, ""))
		if err == nil && resp.StatusCode == 200 {
			break
		}
		if i == 250 {
			t.Fatalf("a closed connection did not free its slot: %v %v", resp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConnsPerIPSparesTrustedProxies: a proxy's connections carry many clients and are
// not counted.
func TestConnsPerIPSparesTrustedProxies(t *testing.T) {
	url, _ := servePlain(t, func(c *Config) {
		c.ConnsPerIP = 1
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	addr := strings.TrimPrefix(url, "http://")
	for i := range 3 {
		if resp, err := healthz(dialFrom(t, addr, "")); err != nil || resp.StatusCode != 200 {
			t.Fatalf("proxy connection %d: %v %v", i+1, resp, err)
		}
	}
}

// TestConnsPerIPUnderTLS: a connection over the cap cannot be answered before the
// handshake, so it is closed.
func TestConnsPerIPUnderTLS(t *testing.T) {
	cert, _, _ := testutil.Cert(t)
	url, s := servePlain(t, func(c *Config) {
		c.ConnsPerIP = 1
		c.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	})
	addr := strings.TrimPrefix(url, "http://")
	cfg := &tls.Config{InsecureSkipVerify: true}
	held := tls.Client(dialFrom(t, addr, ""), cfg)
	if resp, err := healthz(held); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first connection: %v %v", resp, err)
	}
	over := tls.Client(dialFrom(t, addr, ""), cfg)
	if err := over.Handshake(); err == nil {
		t.Fatal("the handshake over the cap succeeded")
	}
	if got := limited(t, s, "conns_per_ip"); got != 1 {
		t.Fatalf(`ctb_http_limited_total{limit="conns_per_ip"} = %v, want 1`, got)
	}
}

func TestConnKey(t *testing.T) {
	s := mustNew(t, func() Config {
		c := testConfig()
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
		return c
	}(), mustEngine(t))
	cases := []struct {
		peer    string
		key     string
		counted bool
	}{
		{"192.0.2.7:1234", "192.0.2.7", true},
		{"[::ffff:192.0.2.7]:1234", "192.0.2.7", true},
		{"[2001:db8:1:2::7]:1234", "2001:db8:1:2::", true},
		{"[2001:db8:1:2:ffff::1]:99", "2001:db8:1:2::", true},
		{"10.1.2.3:80", "", false},
		{"[::ffff:10.1.2.3]:80", "", false},
		{"[2001:db8:ffff:1::1]:80", "", false},
	}
	for _, c := range cases {
		key, counted := s.connKey(netip.MustParseAddrPort(c.peer))
		if counted != c.counted || (counted && key != netip.MustParseAddr(c.key)) {
			t.Errorf("connKey(%s) = %s, %v; want %s, %v", c.peer, key, counted, c.key, c.counted)
		}
	}
}

func mustEngine(t *testing.T) *game.Engine {
	t.Helper()
	e, err := game.New(game.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return e
}
