package redisgame

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/internal/testutil"
	"github.com/google/uuid"
)

// What only a shared game does: nodes that see each other's changes, an online count
// summed over live nodes, a storage that goes away and comes back, one cookie key,
// one snapshot writer, and moving a game in and out of Redis.

var bg = context.Background()

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// realNodes opens n nodes on r with the real clock (Redis TIME) and a fast heartbeat.
func realNodes(t *testing.T, r *testutil.Redis, n int) []*Backend {
	t.Helper()
	var nodes []*Backend
	for range n {
		b, err := Open(bg, Options{URL: r.URL(), Rules: game.DefaultConfig(), Log: slog.New(slog.DiscardHandler), Heartbeat: 100 * time.Millisecond, RankSync: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		nodes = append(nodes, b)
	}
	return nodes
}

func TestStateReachesTheOtherNodesSockets(t *testing.T) {
	r := testutil.StartRedis(t)
	nodes := realNodes(t, r, 2)
	a, b := nodes[0], nodes[1]
	p, err := a.Join(bg, "tabs")
	if err != nil {
		t.Fatal(err)
	}
	q, err := b.Get(bg, p.ID())
	if err != nil {
		t.Fatal(err)
	}
	// A socket of the player on each node.
	for _, x := range []struct {
		b *Backend
		p game.Player
	}{{a, p}, {b, q}} {
		if _, err := x.b.Attach(bg, x.p); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if _, err := a.Click(bg, p); err != nil {
			t.Fatal(err)
		}
	}
	a.Tick(bg) // publishes the players who changed and have sockets elsewhere
	waitFor(t, "node b's copy to show the clicks made through node a", func() bool { return b.State(q).Total == 3 })

	// A rename by a moderator on node b reaches node a's copy too.
	if _, err := b.Rename(bg, q, "renamed"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node a's copy to show the rename", func() bool { return a.State(p).Handle == "renamed" && p.Handle() == "renamed" })
}

func TestRemovalClosesSocketsOnEveryNode(t *testing.T) {
	r := testutil.StartRedis(t)
	nodes := realNodes(t, r, 2)
	a, b := nodes[0], nodes[1]
	var mu sync.Mutex
	var events []game.Event
	b.Watch(func(ev game.Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, ev)
	})
	p, _ := a.Join(bg, "victim")
	q, _ := b.Get(bg, p.ID())
	b.Attach(bg, q)
	if _, err := a.Remove(bg, p.ID()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node b to hear of the removal", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(events, game.Event{Kind: game.PlayerRemoved, ID: p.ID()})
	})
	if !q.Removed() {
		t.Fatal("node b's handle does not say the player was removed")
	}
	if _, err := b.Click(bg, q); !errors.Is(err, game.ErrNoPlayer) {
		t.Fatalf("a click on node b after the removal: %v, want ErrNoPlayer", err)
	}
}

func TestOnlineIsTheSumOverLiveNodes(t *testing.T) {
	r := testutil.StartRedis(t)
	nodes := realNodes(t, r, 3)
	for i, b := range nodes {
		for j := range i + 1 { // 1, 2 and 3 players online
			p, _ := b.Join(bg, fmt.Sprintf("n%dp%d", i, j))
			b.Attach(bg, p)
		}
	}
	for i, b := range nodes {
		waitFor(t, fmt.Sprintf("node %d to count 6 online", i), func() bool { return b.Stats().Online == 6 })
	}
	// A node that dies without a word (its heartbeat stops, nothing leaves) drops out
	// of the count within three heartbeats.
	dead := nodes[2]
	dead.stop()
	dead.done.Wait()
	waitFor(t, "the dead node's 3 players to leave the count", func() bool { return nodes[0].Stats().Online == 3 })
	if st := nodes[0].Stats(); st.PeakOnline != 6 {
		t.Fatalf("peak %d, want 6", st.PeakOnline)
	}
	// A node that stops cleanly leaves at once.
	nodes[1].Close()
	waitFor(t, "the stopped node's players to leave the count", func() bool {
		nodes[0].beat(bg)
		return nodes[0].Stats().Online == 1
	})
}

func TestUnreachableRedisAndBack(t *testing.T) {
	r := testutil.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	b := realNodes(t, r, 1)[0]
	p, _ := b.Join(bg, "patient")
	for range 5 {
		if _, err := b.Click(bg, p); err != nil {
			t.Fatal(err)
		}
	}
	r.Stop(t)
	// Every call says the storage is unreachable; nothing panics, nothing is counted.
	if _, err := b.Click(bg, p); !errors.Is(err, game.ErrUnavailable) {
		t.Fatalf("click with Redis down: %v, want ErrUnavailable", err)
	}
	if err := b.Ping(bg); !errors.Is(err, game.ErrUnavailable) || !strings.Contains(err.Error(), r.Addr()) {
		t.Fatalf("Ping with Redis down: %v, want ErrUnavailable naming %s", err, r.Addr())
	}
	if _, _, err := b.Tick(bg); !errors.Is(err, game.ErrUnavailable) {
		t.Fatalf("Tick with Redis down: %v", err)
	}
	if st := b.State(p); st.Total != 5 {
		t.Fatalf("the node's copy changed while Redis was down: %+v", st)
	}
	// Back with its AOF (and an empty script cache): the node goes on by itself.
	r.Start(t)
	waitFor(t, "Ping to succeed again", func() bool { return b.Ping(bg) == nil })
	res, err := b.Click(bg, p)
	if err != nil || !res.Counted || res.Total != 6 {
		t.Fatalf("first click after Redis came back: %+v, %v; want the 6th", res, err)
	}
}

func TestOpenErrorsNameTheAddress(t *testing.T) {
	free := testutil.StartRedis(t)
	addr := free.Addr()
	free.Kill(t) // nothing listens there now
	for _, tc := range []struct{ url, want string }{
		{"redis://" + addr, addr},
		{"redis://user:hunter2@" + addr + "/0", addr},
		{"redis://" + addr + "/notanumber", "redis URL"},
		{"mysql://" + addr, "redis URL"},
	} {
		_, err := Open(bg, Options{URL: tc.url, Rules: game.DefaultConfig(), OpTimeout: 500 * time.Millisecond})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want an error naming %q", tc.url, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q): the error shows the password: %v", tc.url, err)
		}
	}
}

func TestOneCookieKeyForAllNodes(t *testing.T) {
	r := testutil.StartRedis(t)
	nodes := realNodes(t, r, 3)
	var keys [][]byte
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, b := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := b.Secret(bg, nil)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			keys = append(keys, k)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(keys) != 3 || len(keys[0]) < 16 || string(keys[0]) != string(keys[1]) || string(keys[1]) != string(keys[2]) {
		t.Fatalf("the nodes hold different keys: %x", keys)
	}
	// A key offered later loses to the one stored.
	if k, _ := nodes[0].Secret(bg, []byte("another key, quite long")); string(k) != string(keys[0]) {
		t.Fatal("a later key replaced the first")
	}
}

func TestOneSnapshotWriterAtATime(t *testing.T) {
	r := testutil.StartRedis(t)
	nodes := realNodes(t, r, 2)
	la, lb := nodes[0].Lease(300*time.Millisecond), nodes[1].Lease(300*time.Millisecond)
	if ok, err := la.Hold(bg); !ok || err != nil {
		t.Fatalf("first Hold = %v, %v", ok, err)
	}
	if ok, _ := lb.Hold(bg); ok {
		t.Fatal("two nodes hold the lease")
	}
	if ok, _ := la.Hold(bg); !ok {
		t.Fatal("the holder lost the lease on renewal")
	}
	// The holder dies: the lease expires and the other node takes it.
	waitFor(t, "the other node to take an expired lease", func() bool { ok, _ := lb.Hold(bg); return ok })
	if ok, _ := la.Hold(bg); ok {
		t.Fatal("the old holder took the lease back while it is held")
	}
	// Released, it is free at once.
	if err := lb.Release(bg); err != nil {
		t.Fatal(err)
	}
	if ok, _ := la.Hold(bg); !ok {
		t.Fatal("a released lease is not free")
	}
}

// genScores writes a scores file of n players, as a single server would have.
func genScores(n int) (string, map[uuid.UUID]game.Record) {
	var sb strings.Builder
	sb.WriteString("id,handle,score,best,total,last_click,best_at\n")
	recs := map[uuid.UUID]game.Record{}
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range n {
		r := game.Record{ID: uuid.New(), Handle: fmt.Sprintf("player %d", i), Total: int64(i%97 + i%5)}
		r.Best = min(int64(i%97), r.Total)
		if r.Best > 0 {
			r.BestAt = base.Add(time.Duration(i) * time.Microsecond)
			r.LastClick = r.BestAt.Add(time.Second)
		}
		recs[r.ID] = r
		fmt.Fprintf(&sb, "%s,%s,%d,%d,%d,%s,%s\n", r.ID, r.Handle, r.Score, r.Best, r.Total, rfc(r.LastClick), rfc(r.BestAt))
	}
	return sb.String(), recs
}

func rfc(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

func opener(s string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(s)), nil }
}

func TestImportExportRoundTrip(t *testing.T) {
	r := testutil.StartRedis(t)
	b := realNodes(t, r, 1)[0]
	data, want := genScores(5000)
	res, err := b.Import(bg, opener(data), "scores.csv", false)
	if err != nil || res.Imported != 5000 || res.Players != 5000 {
		t.Fatalf("Import = %+v, %v", res, err)
	}
	var sum int64
	for _, r := range want {
		sum += r.Total
	}
	if res.Clicks != sum {
		t.Fatalf("clicks after import %d, want %d", res.Clicks, sum)
	}
	// The game in Redis is the file: every record, and the board of the best.
	got := map[uuid.UUID]game.Record{}
	if err := b.Records(bg, func(r game.Record) error { got[r.ID] = r; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d records in Redis, want %d", len(got), len(want))
	}
	for id, w := range want {
		g := got[id]
		if g.Handle != w.Handle || g.Best != w.Best || g.Total != w.Total || !g.BestAt.Equal(w.BestAt) || !g.LastClick.Equal(w.LastClick) {
			t.Fatalf("record %s: %+v, want %+v", id, g, w)
		}
	}
	b.Tick(bg)
	rows := b.Board().Rows
	if len(rows) != 100 || rows[0].Best != 96 {
		t.Fatalf("board after import: %d rows, first %+v", len(rows), rows[0])
	}
	// A second import into the game is refused, and writes nothing.
	if _, err := b.Import(bg, opener(data), "scores.csv", false); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("import into a non-empty game: %v, want a refusal that names --force", err)
	}
	// With force, the ids already there are kept as they are: running it again is safe.
	res, err = b.Import(bg, opener(data), "scores.csv", true)
	if err != nil || res.Imported != 0 || len(res.Skipped) != 5000 || res.Players != 5000 {
		t.Fatalf("forced re-import = %d imported, %d skipped, %d players, %v", res.Imported, len(res.Skipped), res.Players, err)
	}
}

func TestImportRefusesAMalformedFileWholly(t *testing.T) {
	r := testutil.StartRedis(t)
	b := realNodes(t, r, 1)[0]
	data, _ := genScores(2000)
	lines := strings.Split(data, "\n")
	lines[1500] = strings.Replace(lines[1500], ",player", ",\x01player", 1)
	_, err := b.Import(bg, opener(strings.Join(lines, "\n")), "bad.csv", false)
	if err == nil || !strings.Contains(err.Error(), "bad.csv: line 1501") {
		t.Fatalf("import of a malformed file: %v, want the file and line", err)
	}
	dup := data + strings.SplitN(data, "\n", 3)[1] + "\n"
	if _, err := b.Import(bg, opener(dup), "dup.csv", false); err == nil || !strings.Contains(err.Error(), "duplicate id") {
		t.Fatalf("import with a duplicate id: %v", err)
	}
	if st, _ := b.totals(bg); st.Players != 0 {
		t.Fatalf("a refused import wrote %d players", st.Players)
	}
}
