//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/internal/testutil"
	"github.com/gorilla/websocket"
)

// Several real clickthebutton processes on one real redis-server: one game across
// nodes, as docs/scale-out.md sets it up. The nodes are the test binary itself run as
// the program (see TestMain), each with a data folder of its own.

// startNodes starts n nodes on the Redis at url.
func startNodes(t *testing.T, url string, n int, extra ...string) []*child {
	t.Helper()
	nodes := make([]*child, n)
	for i := range nodes {
		nodes[i] = startChild(t, t.TempDir(), append([]string{"--redis", url}, extra...)...)
	}
	for _, c := range nodes {
		c.waitReady(t)
	}
	return nodes
}

// session is GET /api/session on c with the player's cookie.
func (p *crashPlayer) session(t *testing.T, c *child) (code int, body map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+c.addr+"/api/session", nil)
	req.Header.Set("Cookie", p.cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// totalOn is the player's lifetime total as node c reads it from the game.
func (p *crashPlayer) totalOn(t *testing.T, c *child) int64 {
	t.Helper()
	code, body := p.session(t, c)
	if code != http.StatusOK {
		t.Fatalf("%s: GET /api/session on %s: %d %v\n%s", p.handle, c.addr, code, body, c.log)
	}
	return int64(body["total"].(float64))
}

// maxAck is the highest total the player saw acknowledged, and the clicks it sent.
func (p *crashPlayer) maxAck() (acked, sent int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.acks {
		acked = max(acked, a.total)
	}
	return acked, p.sent
}

func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// waitUntil polls cond for up to 20 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// boardHas reports whether node c's GET /api/leaderboard shows handle with best.
func boardHas(t *testing.T, c *child, handle string, best int64) bool {
	t.Helper()
	_, lb := getJSON(t, "http://"+c.addr+"/api/leaderboard")
	top, _ := lb["top"].([]any)
	for _, r := range top {
		row := r.(map[string]any)
		if row["handle"] == handle && int64(row["best"].(float64)) == best {
			return true
		}
	}
	return false
}

// socket is one synchronous WebSocket of a player: click, then read until the ack.
type socket struct {
	t    *testing.T
	conn *websocket.Conn
}

func (p *crashPlayer) dial(t *testing.T, c *child) *socket {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+c.addr+"/ws", http.Header{"Cookie": {p.cookie}})
	if err != nil {
		t.Fatalf("%s: dial %s: %v", p.handle, c.addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &socket{t: t, conn: conn}
}

// frame reads the next frame of type typ.
func (s *socket) frame(typ string) map[string]any {
	s.t.Helper()
	for {
		s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, msg, err := s.conn.ReadMessage()
		if err != nil {
			s.t.Fatalf("read: %v", err)
		}
		var f map[string]any
		json.Unmarshal(msg, &f)
		if f["type"] == typ {
			return f
		}
	}
}

func (s *socket) send() {
	s.t.Helper()
	if err := s.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"click"}`)); err != nil {
		s.t.Fatal(err)
	}
}

// TestNodesShareOneGame: a player who joined on one node plays on another with the
// same cookie, and the third node's board shows it within a tick and a round trip.
func TestNodesShareOneGame(t *testing.T) {
	r := testutil.StartRedis(t)
	nodes := startNodes(t, r.URL(), 3)
	alice := newCrashPlayer(t, nodes[0], "alice")
	bob := newCrashPlayer(t, nodes[2], "bob")
	s := alice.dial(t, nodes[1])
	s.frame("state")
	for i := 1; i <= 7; i++ {
		s.send()
		if st := s.frame("state"); st["total"] != float64(i) {
			t.Fatalf("ack %d: %v", i, st)
		}
	}
	b := bob.dial(t, nodes[2])
	b.frame("state")
	b.send()
	b.frame("state")
	for _, c := range nodes {
		waitUntil(t, "every node's board to show alice=7 and bob=1", func() bool {
			return boardHas(t, c, "alice", 7) && boardHas(t, c, "bob", 1)
		})
		_, st := getJSON(t, "http://"+c.addr+"/api/stats")
		if st["total_clicks"] != float64(8) || st["players"] != float64(2) {
			t.Fatalf("node %s stats %v, want 8 clicks and 2 players", c.addr, st)
		}
	}
	// Both players online: the count is the sum over the nodes.
	waitUntil(t, "every node to count 2 online", func() bool {
		for _, c := range nodes {
			if _, st := getJSON(t, "http://"+c.addr+"/api/stats"); st["online"] != float64(2) {
				return false
			}
		}
		return true
	})
}

// TestThrottleAcrossNodes: 60 clicks inside one second, half through each of two
// nodes, throttle the player, and 50 of them count: one window for every socket.
func TestThrottleAcrossNodes(t *testing.T) {
	r := testutil.StartRedis(t)
	nodes := startNodes(t, r.URL(), 2)
	p := newCrashPlayer(t, nodes[0], "two tabs")
	a, b := p.dial(t, nodes[0]), p.dial(t, nodes[1])
	a.frame("state")
	b.frame("state")
	start := time.Now()
	for i := range 60 {
		[]*socket{a, b}[i%2].send()
	}
	for range 30 {
		a.frame("state")
		b.frame("state")
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Fatalf("60 clicks took %s to send and answer: the premise (one window) does not hold on this machine", d)
	}
	code, body := p.session(t, nodes[1])
	if code != 200 || body["total"] != float64(50) || body["throttled"] != true {
		t.Fatalf("after 60 clicks in a second across two nodes: %d %v, want total 50 and throttled", code, body)
	}
}

// TestKill9OfANode: one node dies by SIGKILL while its players click. Every click it
// acknowledged is in the game as the other nodes see it, and when a node answers at
// that address again its players reconnect and go on with their scores.
func TestKill9OfANode(t *testing.T) {
	r := testutil.StartRedis(t)
	nodes := startNodes(t, r.URL(), 3)
	victim := nodes[0]
	var ps []*crashPlayer
	for i := range 4 {
		ps = append(ps, newCrashPlayer(t, nodes[1], fmt.Sprintf("player %d", i)))
	}
	stop := make(chan struct{})
	for _, p := range ps {
		p.play(t, victim, 40*time.Millisecond, stop)
	}
	time.Sleep(800 * time.Millisecond)
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := victim.exitCode(t, 10*time.Second); code != -1 {
		t.Fatalf("exit code %d, want death by SIGKILL", code)
	}
	close(stop)
	for _, p := range ps {
		p.hangUp(t)
	}
	totals := map[string]int64{}
	for _, p := range ps {
		acked, sent := p.maxAck()
		got := p.totalOn(t, nodes[2])
		if acked == 0 {
			t.Fatalf("%s: no click was acknowledged before the kill", p.handle)
		}
		if got < acked || got > sent {
			t.Fatalf("%s: the game holds %d clicks; %d were acknowledged and %d sent", p.handle, got, acked, sent)
		}
		totals[p.handle] = got
	}
	// A node answers at the dead one's address again: the players reconnect there and
	// go on from what the game holds.
	back := startChildAt(t, victim.addr, t.TempDir(), "--redis", r.URL())
	back.waitReady(t)
	for _, p := range ps {
		s := p.dial(t, back)
		if st := s.frame("state"); int64(st["total"].(float64)) != totals[p.handle] {
			t.Fatalf("%s: reconnected with total %v, want %d", p.handle, st["total"], totals[p.handle])
		}
		s.send()
		if st := s.frame("state"); int64(st["total"].(float64)) != totals[p.handle]+1 {
			t.Fatalf("%s: the first click after the reconnect gave %v", p.handle, st)
		}
	}
}

// TestRedisRestartsWithItsAOF: Redis stops in the middle of a game and comes back with
// its append-only file. Meanwhile the nodes are not ready and tell a clicking player
// why; afterwards they are ready by themselves and every acknowledged click is there.
func TestRedisRestartsWithItsAOF(t *testing.T) {
	r := testutil.StartRedis(t, "--appendonly", "yes", "--appendfsync", "everysec")
	nodes := startNodes(t, r.URL(), 2)
	var ps []*crashPlayer
	for i := range 2 {
		ps = append(ps, newCrashPlayer(t, nodes[i], fmt.Sprintf("patient %d", i)))
	}
	// One more socket of the first player stays open through the outage.
	s := ps[0].dial(t, nodes[0])
	s.frame("state")
	stop := make(chan struct{})
	for i, p := range ps {
		p.play(t, nodes[i], 40*time.Millisecond, stop)
	}
	time.Sleep(500 * time.Millisecond)
	r.Stop(t) // as an operator stops it: the AOF is flushed
	for _, c := range nodes {
		waitUntil(t, "/readyz to answer 503 on "+c.addr, func() bool {
			code, _ := getJSON(t, "http://"+c.addr+"/readyz")
			return code == http.StatusServiceUnavailable
		})
	}
	close(stop)
	for _, p := range ps {
		p.hangUp(t)
	}
	s.send()
	if e := s.frame("error"); e["code"] != "unavailable" || !strings.Contains(e["error"].(string), "paused") {
		t.Fatalf("a click with Redis down got %v, want the paused error", e)
	}

	r.Start(t)
	for _, c := range nodes {
		waitUntil(t, "/readyz to answer 200 again on "+c.addr, func() bool {
			code, _ := getJSON(t, "http://"+c.addr+"/readyz")
			return code == http.StatusOK
		})
	}
	for _, p := range ps {
		acked, sent := p.maxAck()
		if got := p.totalOn(t, nodes[1]); got < acked || got > sent {
			t.Fatalf("%s: after the restart the game holds %d clicks; %d were acknowledged and %d sent", p.handle, got, acked, sent)
		}
	}
	// The socket that stayed open through the outage counts clicks again.
	want := ps[0].totalOn(t, nodes[0]) + 1
	s.send()
	for {
		if st := s.frame("state"); int64(st["total"].(float64)) == want {
			break
		}
	}
}

// TestModerationReachesEveryNode: a moderator on one node renames and removes a player
// whose socket is open on another.
func TestModerationReachesEveryNode(t *testing.T) {
	r := testutil.StartRedis(t)
	const token = "a moderator's token, long enough"
	env := []string{"CTB_ADMIN_TOKEN=" + token}
	var nodes []*child
	for range 2 {
		c := startChildEnv(t, crashAddr(t), t.TempDir(), env, "--redis", r.URL())
		c.waitReady(t)
		nodes = append(nodes, c)
	}
	p := newCrashPlayer(t, nodes[0], "rude name")
	s := p.dial(t, nodes[1])
	s.frame("state")
	admin := func(method, path, body string) map[string]any {
		req, _ := http.NewRequest(method, "http://"+nodes[0].addr+"/api/admin"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, out)
		}
		return out
	}
	list := admin("GET", "/players?q=rude", "")
	id := list["players"].([]any)[0].(map[string]any)["id"].(string)
	admin("POST", "/players/"+id+"/rename", `{"handle":"polite name"}`)
	for {
		if st := s.frame("state"); st["handle"] == "polite name" {
			break
		}
	}
	admin("DELETE", "/players/"+id, "")
	testutil.ReadUntilClose(t, s.conn, 4004, "removed by a moderator")
}

// TestOneNodeWritesTheBackup: with several nodes one writes scores.csv, under a lease;
// when it dies another takes over.
func TestOneNodeWritesTheBackup(t *testing.T) {
	r := testutil.StartRedis(t)
	dirs := []string{t.TempDir(), t.TempDir()}
	var nodes []*child
	for _, d := range dirs {
		c := startChild(t, d, "--redis", r.URL(), "--snapshot-interval", "200ms")
		c.waitReady(t)
		nodes = append(nodes, c)
	}
	p := newCrashPlayer(t, nodes[0], "backed up")
	s := p.dial(t, nodes[1])
	s.frame("state")
	s.send()
	s.frame("state")
	has := func(d string) bool { _, err := os.Stat(filepath.Join(d, game.SnapshotFile)); return err == nil }
	waitUntil(t, "a node to write scores.csv", func() bool { return has(dirs[0]) || has(dirs[1]) })
	time.Sleep(time.Second) // several intervals: the other node must not write meanwhile
	if has(dirs[0]) == has(dirs[1]) {
		t.Fatalf("scores.csv in node folders: %v, %v; want exactly one writer", has(dirs[0]), has(dirs[1]))
	}
	writer, other := 0, 1
	if has(dirs[1]) {
		writer, other = 1, 0
	}
	totals, n := totalsByHandle(t, filepath.Join(dirs[writer], game.SnapshotFile))
	if n != 1 || totals["backed up"] != 1 {
		t.Fatalf("the backup holds %d players, %v", n, totals)
	}
	nodes[writer].cmd.Process.Signal(syscall.SIGKILL)
	nodes[writer].exitCode(t, 10*time.Second)
	if writer == 1 {
		s = p.dial(t, nodes[0])
		s.frame("state")
	}
	s.send()
	s.frame("state")
	waitUntil(t, "the other node to take the snapshots over", func() bool {
		if !has(dirs[other]) {
			return false
		}
		totals, _ := totalsByHandle(t, filepath.Join(dirs[other], game.SnapshotFile))
		return totals["backed up"] == 2
	})
}

// TestMoveAGameOntoRedisAndBack: a single server's folder is imported into Redis, the
// game goes on there, and is exported into a folder a single server runs on again.
// The player's cookie works all the way and no click is lost.
func TestMoveAGameOntoRedisAndBack(t *testing.T) {
	single := t.TempDir()
	c := startChild(t, single)
	c.waitReady(t)
	p := newCrashPlayer(t, c, "mover")
	s := p.dial(t, c)
	s.frame("state")
	for range 5 {
		s.send()
		s.frame("state")
	}
	s.conn.Close()
	c.cmd.Process.Signal(syscall.SIGTERM)
	if code := c.exitCode(t, 20*time.Second); code != 0 {
		t.Fatalf("exit %d; log:\n%s", code, c.log)
	}

	r := testutil.StartRedis(t)
	var out bytes.Buffer
	if code := run(context.Background(), []string{"import", "--redis", r.URL(), filepath.Join(single, game.SnapshotFile)}, noEnv, &out, &out); code != 0 {
		t.Fatalf("import: exit %d:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "imported 1 players") || !strings.Contains(out.String(), "keep their identities") {
		t.Fatalf("import said:\n%s", out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"import", "--redis", r.URL(), filepath.Join(single, game.SnapshotFile)}, noEnv, &out, &out); code != 1 || !strings.Contains(out.String(), "--force") {
		t.Fatalf("a second import into the same game: exit %d:\n%s", code, out.String())
	}
	node := startChild(t, t.TempDir(), "--redis", r.URL())
	node.waitReady(t)
	if got := p.totalOn(t, node); got != 5 {
		t.Fatalf("on Redis the player has %d clicks, want 5", got)
	}
	s = p.dial(t, node)
	s.frame("state")
	for range 2 {
		s.send()
		s.frame("state")
	}
	s.conn.Close()

	back := t.TempDir()
	out.Reset()
	if code := run(context.Background(), []string{"export", "--redis", r.URL(), "--data", back}, noEnv, &out, &out); code != 0 {
		t.Fatalf("export: exit %d:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "exported 1 players (7 clicks)") {
		t.Fatalf("export said:\n%s", out.String())
	}
	again := startChild(t, back)
	again.waitReady(t)
	if got := p.totalOn(t, again); got != 7 {
		t.Fatalf("back on a single server the player has %d clicks, want 7", got)
	}
}
