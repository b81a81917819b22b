package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestParseURLs(t *testing.T) {
	bases, ws, err := parseURLs("http://127.0.0.1:1/, http://localhost:2/game/,http://127.0.0.3:3")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"http://127.0.0.1:1", "http://localhost:2/game", "http://127.0.0.3:3"}; !slices.Equal(bases, want) {
		t.Errorf("bases %q, want %q", bases, want)
	}
	if want := []string{"ws://127.0.0.1:1/ws", "ws://localhost:2/game/ws", "ws://127.0.0.3:3/ws"}; !slices.Equal(ws, want) {
		t.Errorf("ws %q, want %q", ws, want)
	}
	for _, bad := range []string{"", ",", "http://10.0.0.1:80", "http://127.0.0.1:1,http://example.com:80", "https://127.0.0.1:1", "127.0.0.1:1"} {
		if _, _, err := parseURLs(bad); err == nil {
			t.Errorf("parseURLs(%q): no error", bad)
		}
	}
}

func TestParsePIDsAndWatch(t *testing.T) {
	if p, err := parsePIDs("12, 34,0,"); err != nil || !slices.Equal(p, []int{12, 34}) {
		t.Errorf("parsePIDs: %v %v", p, err)
	}
	if p, err := parsePIDs(""); err != nil || p != nil {
		t.Errorf("parsePIDs empty: %v %v", p, err)
	}
	if _, err := parsePIDs("12,x"); err == nil {
		t.Error("parsePIDs(12,x): no error")
	}
	w, err := parseWatch("redis=5,redis2=6")
	if err != nil || len(w) != 2 || w[0] != (procRef{"redis", 5}) || w[1] != (procRef{"redis2", 6}) {
		t.Errorf("parseWatch: %v %v", w, err)
	}
	for _, bad := range []string{"redis", "=5", "redis=0", "redis=x"} {
		if _, err := parseWatch(bad); err == nil {
			t.Errorf("parseWatch(%q): no error", bad)
		}
	}
	var c config
	c.URL = "http://127.0.0.1:1,http://127.0.0.1:2"
	c.Clients, c.Duration = 1, time.Second
	if err := c.check("127.0.0.1", "", "1,2,3", ""); err == nil {
		t.Error("three pids for two URLs: no error")
	}
}

// fakeGame is the part of the game the load generator sees: players who click, and a
// board of their bests that every server of the game publishes each tick as a full
// board frame. Several fakeServers on one fakeGame are the nodes of one game.
type fakeGame struct {
	prefix string // of its players' tags: two games never share one
	mu     sync.Mutex
	next   int
	bests  map[string]int64 // tag -> best
}

func newFakeGame(prefix string) *fakeGame {
	return &fakeGame{prefix: prefix, bests: map[string]int64{}}
}

func (g *fakeGame) rows() []row {
	g.mu.Lock()
	defer g.mu.Unlock()
	var rs []row
	for tag, b := range g.bests {
		if b > 0 {
			rs = append(rs, row{Tag: tag, Handle: tag, Best: b})
		}
	}
	slices.SortFunc(rs, func(a, b row) int {
		if a.Best != b.Best {
			return int(b.Best - a.Best)
		}
		return strings.Compare(a.Tag, b.Tag)
	})
	if len(rs) > 100 {
		rs = rs[:100]
	}
	for i := range rs {
		rs[i].Rank = i + 1
	}
	return rs
}

// fakeServer serves a fakeGame on a loopback port and counts the sockets it holds.
type fakeServer struct {
	g       *fakeGame
	srv     *httptest.Server
	mu      sync.Mutex
	sockets int
	clicks  int
}

func newFakeServer(t *testing.T, g *fakeGame) *fakeServer {
	f := &fakeServer{g: g}
	up := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/session", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.next++
		tag := fmt.Sprintf("%s%08d", g.prefix, g.next)
		g.bests[tag] = 0
		g.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "ctb_session", Value: tag})
		w.Write([]byte(`{}`))
	})
	mux.HandleFunc("GET /api/leaderboard", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string][]row{"top": g.rows()})
	})
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie("ctb_session")
		if err != nil {
			http.Error(w, "no cookie", http.StatusUnauthorized)
			return
		}
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		f.mu.Lock()
		f.sockets++
		f.mu.Unlock()
		tag := ck.Value
		var wmu sync.Mutex
		send := func(v any) error {
			b, _ := json.Marshal(v)
			wmu.Lock()
			defer wmu.Unlock()
			return conn.WriteMessage(websocket.TextMessage, b)
		}
		// Structs, not maps: the load generator tells frames apart by their first
		// field, "type", as the server writes them.
		type stateFrame struct {
			Type  string `json:"type"`
			Tag   string `json:"tag"`
			Best  int64  `json:"best"`
			Total int64  `json:"total"`
		}
		type boardFrame struct {
			Type string `json:"type"`
			Seq  uint64 `json:"seq"`
			Size int    `json:"size"`
			Rows []row  `json:"rows"`
		}
		var total int64
		state := func() error { return send(stateFrame{"state", tag, total, total}) }
		if state() != nil {
			return
		}
		done := make(chan struct{})
		defer close(done)
		go func() {
			t := time.NewTicker(50 * time.Millisecond)
			defer t.Stop()
			for seq := uint64(1); ; seq++ {
				rs := g.rows()
				if send(boardFrame{"board", seq, len(rs), rs}) != nil {
					return
				}
				select {
				case <-done:
					return
				case <-t.C:
				}
			}
		}()
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
			total++
			g.mu.Lock()
			g.bests[tag] = total
			g.mu.Unlock()
			f.mu.Lock()
			f.clicks++
			f.mu.Unlock()
			if state() != nil {
				return
			}
		}
	})
	f.srv = httptest.NewServer(mux) // on 127.0.0.1
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) held() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sockets
}

// runAgainst drives servers with clients players, as one process would.
func runAgainst(t *testing.T, clients int, servers ...*fakeServer) result {
	t.Helper()
	var urls []string
	for _, s := range servers {
		urls = append(urls, s.srv.URL)
	}
	cfg := config{URL: strings.Join(urls, ","), Clients: clients, Rate: 200, Warmup: 100 * time.Millisecond,
		Duration: 700 * time.Millisecond, Drain: 300 * time.Millisecond, ConnectRate: 0, Procs: 1,
		Probes: 1, ProbeRate: 10, VerifyEvery: 5, Resync: true}
	if err := cfg.check("127.0.0.1", "", "", ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return runWorker(ctx, cfg, func(ready func() time.Time) time.Time { return ready() })
}

// TestNodesShareAndConverge runs one process against three nodes of one game: each
// node gets a third of the players and of the clicks, and every verifying client's
// board is every node's.
func TestNodesShareAndConverge(t *testing.T) {
	g := newFakeGame("a")
	servers := []*fakeServer{newFakeServer(t, g), newFakeServer(t, g), newFakeServer(t, g)}
	r := runAgainst(t, 61, servers...)
	if r.Connected != 61 || len(r.Nodes) != 3 {
		t.Fatalf("connected %d, nodes %d", r.Connected, len(r.Nodes))
	}
	for j, n := range r.Nodes {
		// 61 = 3*20+1: the probe is client 0, on the first node.
		if want := 20 + map[bool]int{true: 1}[j == 0]; n.Clients != want || n.Connected != want || servers[j].held() != want {
			t.Errorf("node %d: %d clients, %d connected, server saw %d sockets; want %d", j, n.Clients, n.Connected, servers[j].held(), want)
		}
		if n.ClicksAcked == 0 || n.URL != servers[j].srv.URL {
			t.Errorf("node %d: %+v", j, n)
		}
		if n.VerifyChecked != r.VerifyChecked || n.VerifyDiverged != 0 {
			t.Errorf("node %d: verify %d/%d, want %d/0", j, n.VerifyChecked, n.VerifyDiverged, r.VerifyChecked)
		}
	}
	// Players other than the probe click in round-robin: the nodes' shares of their
	// clicks differ by the probe's alone.
	other := []uint64{r.Nodes[0].ClicksSent - r.ProbeClicks, r.Nodes[1].ClicksSent, r.Nodes[2].ClicksSent}
	if lo, hi := slices.Min(other), slices.Max(other); hi-lo > hi/5+2 {
		t.Errorf("clicks per node %v: uneven", other)
	}
	// Every third client of each node verifies (-verify-every 5 over 20 per node).
	if r.VerifyChecked != 12 || r.Diverged != 0 {
		t.Errorf("verify %d checked, %d diverged; want 12, 0", r.VerifyChecked, r.Diverged)
	}
	var total uint64
	for _, n := range r.Nodes {
		total += n.ClicksSent
	}
	if total != r.ClicksSent {
		t.Errorf("nodes' clicks add up to %d, total %d", total, r.ClicksSent)
	}
}

// TestNodesOfTwoGamesDiverge points one run at two servers that are not one game: the
// verifying clients of each see their own server's board, which the other's is not.
func TestNodesOfTwoGamesDiverge(t *testing.T) {
	a, b := newFakeServer(t, newFakeGame("a")), newFakeServer(t, newFakeGame("b"))
	r := runAgainst(t, 40, a, b)
	if r.VerifyChecked != 8 || r.Diverged != 8 {
		t.Errorf("verify %d checked, %d diverged; want 8, 8", r.VerifyChecked, r.Diverged)
	}
	for j, n := range r.Nodes {
		if n.VerifyChecked != 8 || n.VerifyDiverged != 4 {
			t.Errorf("node %d: verify %d checked, %d diverged; want 8, 4", j, n.VerifyChecked, n.VerifyDiverged)
		}
	}
}

// TestSingleURLHasNoNodes keeps a single-URL result as it was: no per-node part.
func TestSingleURLHasNoNodes(t *testing.T) {
	s := newFakeServer(t, newFakeGame("a"))
	r := runAgainst(t, 10, s)
	if r.Nodes != nil || r.VerifyChecked != 2 || r.Diverged != 0 || r.ClicksAcked == 0 {
		t.Errorf("single URL: nodes %v, verify %d/%d, acked %d", r.Nodes, r.VerifyChecked, r.Diverged, r.ClicksAcked)
	}
	b, _ := json.Marshal(r)
	for _, k := range []string{`"nodes"`, `"servers"`, `"watched"`} {
		if strings.Contains(string(b), k) {
			t.Errorf("single-URL JSON has %s", k)
		}
	}
}
