package server

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// ipRate allows each client a number of events per window, in fixed windows that
// start with the client's first event. Clients are keyed by limitKey.
type ipRate struct {
	limit  int // 0 means unlimited
	window time.Duration

	mu      sync.Mutex
	entries map[netip.Addr]rateEntry
}

type rateEntry struct {
	start time.Time
	n     int
}

func newIPRate(limit int, window time.Duration) *ipRate {
	return &ipRate{limit: limit, window: window, entries: make(map[netip.Addr]rateEntry)}
}

// allow counts one event from ip and reports whether it is within the limit, and if
// not, how long until it would be.
func (r *ipRate) allow(ip netip.Addr, now time.Time) (bool, time.Duration) {
	if r.limit <= 0 {
		return true, 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.entries) > 10000 {
		// Forget finished windows, so that many addresses cannot grow the map for good.
		for k, e := range r.entries {
			if now.Sub(e.start) >= r.window {
				delete(r.entries, k)
			}
		}
	}
	e := r.entries[ip]
	if now.Sub(e.start) >= r.window {
		e = rateEntry{start: now}
	}
	if e.n >= r.limit {
		return false, e.start.Add(r.window).Sub(now)
	}
	e.n++
	r.entries[ip] = e
	return true, 0
}

// ipCount caps concurrent things (sockets, connections) per client, keyed by limitKey.
type ipCount struct {
	limit int // 0 means unlimited

	mu   sync.Mutex
	open map[netip.Addr]int
}

func newIPCount(limit int) *ipCount {
	return &ipCount{limit: limit, open: make(map[netip.Addr]int)}
}

func (c *ipCount) acquire(ip netip.Addr) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.limit > 0 && c.open[ip] >= c.limit {
		return false
	}
	c.open[ip]++
	return true
}

func (c *ipCount) release(ip netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[ip] <= 1 {
		delete(c.open, ip)
		return
	}
	c.open[ip]--
}

// tooMany answers 429 with a Retry-After header.
func tooMany(c echo.Context, retry time.Duration, msg string) error {
	secs := int(retry.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	return echo.NewHTTPError(429, fmt.Sprintf("%s; try again in %d s", msg, secs))
}

// clientAddr is the request's client address, as decided by the IP extractor (which
// believes X-Forwarded-For only from trusted proxies).
func clientAddr(c echo.Context) netip.Addr {
	a, err := netip.ParseAddr(c.RealIP())
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// limitKey is what every per-address limit counts a client under. An IPv4 address
// (IPv4-mapped IPv6 included) counts as itself. An IPv6 address counts by its first
// v6Bits bits: a subscriber is routinely handed a whole /64, and could otherwise rotate
// through 2^64 addresses to get a fresh quota for each. The zone is dropped, and the
// zero Addr (an address that could not be read) stays itself.
func limitKey(a netip.Addr, v6Bits int) netip.Addr {
	a = a.Unmap().WithZone("")
	if !a.Is6() || v6Bits >= 128 {
		return a
	}
	p, err := a.Prefix(v6Bits)
	if err != nil {
		return a
	}
	return p.Addr()
}

// limitKeyOf is the key of the request's client, under Config.IPv6Prefix.
func (s *Server) limitKeyOf(c echo.Context) netip.Addr {
	return limitKey(clientAddr(c), s.cfg.IPv6Prefix)
}

// ipExtractor believes X-Forwarded-For only when the peer is one of the trusted proxies;
// Echo's defaults would also trust every private and loopback address.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		opts = append(opts, echo.TrustIPRange(prefixToIPNet(p)))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	p = p.Masked()
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// isTrustedPeer reports whether the direct peer of r is a trusted proxy.
func (s *Server) isTrustedPeer(remoteAddr string) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	return s.isTrustedAddr(ap.Addr().Unmap())
}

// isTrustedAddr reports whether a (unmapped) is the address of a trusted proxy.
func (s *Server) isTrustedAddr(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// isHTTPS reports whether the page was reached over HTTPS: directly, or through a
// trusted proxy that says so.
func (s *Server) isHTTPS(c echo.Context) bool {
	r := c.Request()
	if r.TLS != nil {
		return true
	}
	return r.Header.Get("X-Forwarded-Proto") == "https" && s.isTrustedPeer(r.RemoteAddr)
}

// limitListener caps the connections open at once. One over the cap is answered with a
// plain 503 and closed before anything is read from it (under TLS, only closed: there
// is no way to answer before the handshake).
type limitListener struct {
	net.Listener
	max     int64
	plain   bool
	open    atomic.Int64
	refused func()
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			if l.refused != nil {
				l.refused()
			}
			refuse(c, l.plain, busyResponse)
			continue
		}
		return &countedConn{Conn: c, release: func() { l.open.Add(-1) }}, nil
	}
}

// ipConnListener caps the connections one client may hold open at once, counted by
// the peer's address under limitKey: no request has been read yet, so X-Forwarded-For
// cannot count. Peers that are trusted proxies are not counted at all, since a proxy
// carries the connections of many clients; behind one, the per-address caps on
// requests and sockets still tell its clients apart. One connection over the cap is
// answered with a plain 429 and closed before anything is read from it (under TLS,
// only closed).
type ipConnListener struct {
	net.Listener
	conns    *ipCount
	key      func(netip.AddrPort) (netip.Addr, bool) // false: not counted
	plain    bool
	response []byte
	refused  func()
}

func (l *ipConnListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		peer, err := netip.ParseAddrPort(c.RemoteAddr().String())
		if err != nil {
			return c, nil // not an IP connection: nothing to count it under
		}
		key, counted := l.key(peer)
		if !counted {
			return c, nil
		}
		if !l.conns.acquire(key) {
			if l.refused != nil {
				l.refused()
			}
			refuse(c, l.plain, l.response)
			continue
		}
		return &countedConn{Conn: c, release: func() { l.conns.release(key) }}, nil
	}
}

// connKey is the key a connection from peer counts under for Config.ConnsPerIP, or
// false when it is not counted (a trusted proxy).
func (s *Server) connKey(peer netip.AddrPort) (netip.Addr, bool) {
	a := peer.Addr().Unmap()
	if s.isTrustedAddr(a) {
		return netip.Addr{}, false
	}
	return limitKey(a, s.cfg.IPv6Prefix), true
}

// plainResponse is a whole HTTP/1.1 answer with a JSON error, written straight to a
// connection refused before anything is read from it.
func plainResponse(code, retryAfterSeconds int, msg string) []byte {
	body := mustJSON(errorJSON{Error: msg})
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nRetry-After: %d\r\n"+
		"Connection: close\r\nContent-Length: %d\r\n\r\n%s", code, http.StatusText(code), retryAfterSeconds, len(body), body)
}

var busyResponse = plainResponse(http.StatusServiceUnavailable, 5, "server is full, try again in a while")

// refuse answers a refused connection with response when it is plain TCP, and closes
// it. Under TLS there is no way to answer before the handshake, so it is only closed.
func refuse(c net.Conn, plain bool, response []byte) {
	if !plain {
		c.Close()
		return
	}
	go func() {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		c.Write(response)
		c.Close()
	}()
}

// countedConn gives its slot back, once, when it is closed.
type countedConn struct {
	net.Conn
	release func()
	once    sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// lingerListener hands out connections that close gently (lingerConn).
type lingerListener struct{ net.Listener }

func (l lingerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &lingerConn{Conn: c}, nil
}

// lingerConn closes gently: it stops writing (a FIN after what was sent), then reads
// and discards what the client still sends, for at most a second, and only then
// closes. Closing a connection with unread data resets it, and the reset can destroy
// what was just sent before the client read it: a WebSocket close frame, and with it
// the reason the page shows. net/http does the same for the HTTP replies it closes;
// this covers the connections it hands over (WebSockets) too.
type lingerConn struct {
	net.Conn
	once sync.Once
}

// lingerTime bounds how long a closed connection drains.
const lingerTime = time.Second

func (c *lingerConn) Close() error {
	c.once.Do(func() {
		hc, ok := c.Conn.(interface{ CloseWrite() error })
		if !ok || hc.CloseWrite() != nil {
			c.Conn.Close()
			return
		}
		go func() {
			c.Conn.SetReadDeadline(time.Now().Add(lingerTime))
			io.Copy(io.Discard, c.Conn)
			c.Conn.Close()
		}()
	})
	return nil
}
