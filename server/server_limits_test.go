package server

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/clickthebutton/clickthebutton/game"
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
