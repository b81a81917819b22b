package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/internal/testutil"
	"github.com/google/uuid"
	"github.com/gorilla/websocket"
)

const testAdminToken = "test-admin-token-0123456789abcdef"

func withAdmin(c *Config, _ *game.Config) { c.AdminToken = testAdminToken }

const bearer = "Bearer " + testAdminToken

// adminDo sends a request with auth as its Authorization header ("" sends none) and
// decodes the JSON object it answers with.
func (ts *testServer) adminDo(t *testing.T, method, path, auth, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.http.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: body %q is not a JSON object: %v", method, path, raw, err)
	}
	return resp.StatusCode, resp.Header, out
}

// admin is adminDo with the right token, failing unless the status is want.
func (ts *testServer) admin(t *testing.T, method, path, body string, want int) map[string]any {
	t.Helper()
	code, _, out := ts.adminDo(t, method, path, bearer, body)
	if code != want {
		t.Fatalf("%s %s: %d %v, want %d", method, path, code, out, want)
	}
	return out
}

// joined is a player created over HTTP, with its cookie, id and tag.
type joined struct {
	*player
	id  uuid.UUID
	tag string
	p   game.Player
}

func (ts *testServer) joinPlayer(t *testing.T, handle string, clicks int) joined {
	t.Helper()
	pl := ts.newPlayer(t)
	body := pl.join(handle)
	id := uuid.UUID(mustID(t, ts, pl))
	j := joined{player: pl, id: id, tag: body["tag"].(string), p: ts.get(t, id)}
	for range clicks {
		if !ts.click(t, j.p) {
			t.Fatal("click refused")
		}
	}
	return j
}

// watch dials a socket for p and reads until its board has want rows.
func watch(t *testing.T, p *player, want int) *socket {
	t.Helper()
	s := p.dial()
	for {
		f := s.next()
		if f["type"] == "board" && len(f["rows"].([]any)) == want || f["type"] == "board_delta" && num(f["size"]) == int64(want) {
			return s
		}
	}
}

func rowsOf(f map[string]any) []map[string]any {
	var out []map[string]any
	for _, r := range f["rows"].([]any) {
		out = append(out, r.(map[string]any))
	}
	return out
}

func dropped(f map[string]any, tag string) bool {
	for _, d := range f["drop"].([]any) {
		if d == tag {
			return true
		}
	}
	return false
}

func snapshotOf(t *testing.T, ts *testServer) string {
	t.Helper()
	var buf bytes.Buffer
	if err := game.WriteSnapshot(context.Background(), &buf, ts.engine); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestAdminOffWithoutToken(t *testing.T) {
	ts := newTestServer(t) // no AdminToken
	victim := ts.joinPlayer(t, "victim", 3)
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/admin/players"},
		{"GET", "/api/admin/players/" + victim.id.String()},
		{"POST", "/api/admin/players/" + victim.id.String() + "/reset"},
		{"DELETE", "/api/admin/players/" + victim.id.String()},
	} {
		for _, auth := range []string{"", bearer, "Bearer "} {
			code, _, body := ts.adminDo(t, c.method, c.path, auth, "")
			if code != http.StatusNotFound || body["error"] == "" {
				t.Fatalf("%s %s (auth %q) without a configured token: %d %v, want 404", c.method, c.path, auth, code, body)
			}
		}
	}
	if ts.get(t, victim.id) != victim.p || ts.info(t, victim.p).Best != 3 {
		t.Fatal("a request to the disabled admin API changed the player")
	}
}

func TestAdminAuth(t *testing.T) {
	ts := newTestServer(t, withAdmin)
	cases := []struct {
		name, auth string
		want       int
	}{
		{"no header", "", 401},
		{"wrong token", "Bearer not-the-token", 401},
		{"token prefix", "Bearer " + testAdminToken[:10], 401},
		{"token with suffix", bearer + "x", 401},
		{"scheme only", "Bearer", 401},
		{"empty token", "Bearer   ", 401},
		{"basic scheme", "Basic " + testAdminToken, 401},
		{"token without scheme", testAdminToken, 401},
		{"right token", bearer, 200},
		{"scheme in lower case", "bearer " + testAdminToken, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, h, body := ts.adminDo(t, "GET", "/api/admin/players", c.auth, "")
			if code != c.want {
				t.Fatalf("status %d %v, want %d", code, body, c.want)
			}
			if h.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", h.Get("Cache-Control"))
			}
			if c.want == 401 {
				if !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") || body["error"] == "" {
					t.Fatalf("401 without a Bearer challenge or error: %v %v", h, body)
				}
			}
		})
	}
	// Unknown admin paths do not tell an outsider what exists.
	if code, _, _ := ts.adminDo(t, "GET", "/api/admin/secrets", "", ""); code != 401 {
		t.Fatalf("unknown admin path without token: %d, want 401", code)
	}
	ts.admin(t, "GET", "/api/admin/secrets", "", 404)
}

// TestAdminActionsNeedToken: no action has any effect without the right token.
func TestAdminActionsNeedToken(t *testing.T) {
	ts := newTestServer(t, withAdmin)
	v := ts.joinPlayer(t, "victim", 4)
	path := "/api/admin/players/" + v.id.String()
	for _, c := range []struct{ method, path, body string }{
		{"POST", path + "/rename", `{"handle":"hacked"}`},
		{"POST", path + "/reset", ""},
		{"DELETE", path, ""},
		{"GET", path, ""},
	} {
		for _, auth := range []string{"", "Bearer wrong"} {
			if code, _, _ := ts.adminDo(t, c.method, c.path, auth, c.body); code != 401 {
				t.Fatalf("%s %s with auth %q: %d, want 401", c.method, c.path, auth, code)
			}
		}
	}
	info := ts.info(t, v.p)
	if ts.get(t, v.id) != v.p || info.Handle != "victim" || info.Best != 4 {
		t.Fatalf("unauthorised requests changed the player: %+v", info)
	}
}

func TestAdminGetPlayer(t *testing.T) {
	ts := newTestServer(t, withAdmin)
	a := ts.joinPlayer(t, "Ada", 3)
	fresh := ts.joinPlayer(t, "fresh", 0)
	sock := a.dial()
	sock.next()

	got := ts.admin(t, "GET", "/api/admin/players/"+a.id.String(), "", 200)
	if got["id"] != a.id.String() || got["handle"] != "Ada" || got["tag"] != a.tag ||
		num(got["score"]) != 3 || num(got["best"]) != 3 || num(got["total"]) != 3 || got["online"] != true {
		t.Fatalf("player %v", got)
	}
	if lc, _ := got["last_click"].(string); lc == "" {
		t.Fatalf("last_click %v, want a time", got["last_click"])
	} else if _, err := time.Parse(time.RFC3339, lc); err != nil {
		t.Fatalf("last_click %q: %v", lc, err)
	}
	got = ts.admin(t, "GET", "/api/admin/players/"+fresh.id.String(), "", 200)
	if v, ok := got["last_click"]; !ok || v != nil || got["online"] != false {
		t.Fatalf("fresh player %v, want last_click null and offline", got)
	}

	for _, c := range []struct {
		name, path string
		want       int
	}{
		{"malformed id", "/api/admin/players/not-a-uuid", 400},
		{"tag is not an id", "/api/admin/players/" + a.tag, 400},
		{"unknown id", "/api/admin/players/" + uuid.NewString(), 404},
		{"reset unknown", "/api/admin/players/" + uuid.NewString() + "/reset", 404},
		{"delete malformed", "/api/admin/players/xyz", 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			method := "GET"
			switch {
			case strings.HasSuffix(c.path, "/reset"):
				method = "POST"
			case strings.HasSuffix(c.path, "xyz"):
				method = "DELETE"
			}
			if body := ts.admin(t, method, c.path, "", c.want); body["error"] == "" {
				t.Fatalf("no error message: %v", body)
			}
		})
	}
}

func TestAdminListAndSearch(t *testing.T) {
	ts := newTestServer(t, withAdmin)
	// Bests 7 down to 1, so the order is known.
	handles := []string{"Alice", "malice", "Bob", "bobby", "Carol", "ALICE the 2nd", "dave"}
	var ps []joined
	for i, h := range handles {
		ps = append(ps, ts.joinPlayer(t, h, len(handles)-i))
	}
	list := func(query string) (int, []map[string]any) {
		t.Helper()
		out := ts.admin(t, "GET", "/api/admin/players"+query, "", 200)
		var players []map[string]any
		for _, p := range out["players"].([]any) {
			players = append(players, p.(map[string]any))
		}
		return int(num(out["total"])), players
	}
	handlesOf := func(players []map[string]any) string {
		var hs []string
		for _, p := range players {
			hs = append(hs, p["handle"].(string))
		}
		return strings.Join(hs, ",")
	}

	cases := []struct {
		name, query string
		total       int
		handles     string
	}{
		{"all", "", 7, "Alice,malice,Bob,bobby,Carol,ALICE the 2nd,dave"},
		{"first page", "?limit=3", 7, "Alice,malice,Bob"},
		{"second page", "?limit=3&offset=3", 7, "bobby,Carol,ALICE the 2nd"},
		{"last page", "?limit=3&offset=6", 7, "dave"},
		{"past the end", "?offset=50", 7, ""},
		{"substring any case", "?q=ALIC", 3, "Alice,malice,ALICE the 2nd"},
		{"substring with space", "?q=" + "e%20the", 1, "ALICE the 2nd"},
		{"search and page", "?q=bob&limit=1&offset=1", 2, "bobby"},
		{"tag", "?q=" + ps[4].tag, 1, "Carol"},
		{"id", "?q=" + ps[2].id.String(), 1, "Bob"},
		{"unknown id", "?q=" + uuid.NewString(), 0, ""},
		{"no match", "?q=zelda", 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			total, players := list(c.query)
			if total != c.total || handlesOf(players) != c.handles {
				t.Fatalf("got %d %q, want %d %q", total, handlesOf(players), c.total, c.handles)
			}
		})
	}
	_, players := list("?q=" + ps[0].id.String())
	if p := players[0]; p["id"] != ps[0].id.String() || p["tag"] != ps[0].tag || num(p["best"]) != 7 {
		t.Fatalf("listed player %v", p)
	}

	for _, q := range []string{"?limit=0", "?limit=501", "?limit=x", "?offset=-1", "?offset=1.5"} {
		if body := ts.admin(t, "GET", "/api/admin/players"+q, "", 400); body["error"] == "" {
			t.Fatalf("%s: no error message", q)
		}
	}
	ts.admin(t, "GET", "/api/admin/players?limit=500", "", 200)
}

func TestAdminRename(t *testing.T) {
	ts := newTestServer(t, withAdmin)
	rude := ts.joinPlayer(t, "rude", 5)
	other := ts.joinPlayer(t, "other", 2)
	path := "/api/admin/players/" + rude.id.String() + "/rename"
	ws := watch(t, other.player, 2)
	own := rude.dial()
	own.next()

	for _, c := range []struct{ name, body, errHas string }{
		{"bad handle", `{"handle":"<b>rude</b>"}`, "only contain"},
		{"empty handle", `{"handle":"  "}`, "empty"},
		{"no handle", `{}`, "required"},
		{"not json", `rude`, "JSON object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := ts.admin(t, "POST", path, c.body, 400)
			if !strings.Contains(body["error"].(string), c.errHas) {
				t.Fatalf("error %q lacks %q", body["error"], c.errHas)
			}
		})
	}
	ts.admin(t, "POST", "/api/admin/players/"+uuid.NewString()+"/rename", `{"handle":"x"}`, 404)

	got := ts.admin(t, "POST", path, `{"handle":"  Player   One "}`, 200)
	if got["handle"] != "Player One" || num(got["best"]) != 5 {
		t.Fatalf("rename answered %v", got)
	}
	// Every board sees the new handle at the next tick, the scores kept.
	ws.until("board_delta", func(f map[string]any) bool {
		for _, r := range rowsOf(f) {
			if r["tag"] == rude.tag && r["handle"] == "Player One" && num(r["best"]) == 5 && num(r["rank"]) == 1 {
				return true
			}
		}
		return false
	})
	// The player's own page learns its new handle.
	own.until("state", func(f map[string]any) bool { return f["handle"] == "Player One" })
	if snap := snapshotOf(t, ts); !strings.Contains(snap, rude.id.String()+",Player One,5,5,5,") {
		t.Fatalf("snapshot lacks the new handle:\n%s", snap)
	}
	if code, body := rude.do("GET", "/api/session", ""); code != 200 || body["handle"] != "Player One" {
		t.Fatalf("session after rename %d %v", code, body)
	}
}

func TestAdminReset(t *testing.T) {
	ts := newTestServer(t, withAdmin)
	cheat := ts.joinPlayer(t, "cheat", 9)
	other := ts.joinPlayer(t, "other", 2)
	ws := watch(t, other.player, 2)
	own := cheat.dial()
	own.next()
	clicks := ts.engine.Stats().TotalClicks

	got := ts.admin(t, "POST", "/api/admin/players/"+cheat.id.String()+"/reset", "", 200)
	if num(got["score"]) != 0 || num(got["best"]) != 0 || num(got["total"]) != 9 || got["handle"] != "cheat" {
		t.Fatalf("reset answered %v", got)
	}
	// Every board drops the player at the next tick; the other player moves up.
	f := ws.until("board_delta", func(f map[string]any) bool { return dropped(f, cheat.tag) })
	if num(f["size"]) != 1 {
		t.Fatalf("delta after reset %v, want a board of one row", f)
	}
	own.until("state", func(f map[string]any) bool { return num(f["best"]) == 0 && num(f["score"]) == 0 })
	if snap := snapshotOf(t, ts); !strings.Contains(snap, cheat.id.String()+",cheat,0,0,9,") {
		t.Fatalf("snapshot lacks the reset:\n%s", snap)
	}
	if ts.engine.Stats().TotalClicks != clicks {
		t.Fatal("reset changed the total clicks; the lifetime total is kept")
	}
	// The public leaderboard agrees.
	if _, body := other.do("GET", "/api/leaderboard", ""); len(body["top"].([]any)) != 1 {
		t.Fatalf("leaderboard after reset %v", body)
	}
	// The player plays on from zero.
	own.send(`{"type":"click"}`)
	own.until("state", func(f map[string]any) bool { return num(f["score"]) == 1 && num(f["total"]) == 10 })
}

func TestAdminRemove(t *testing.T) {
	ts := newTestServer(t, withAdmin)
	spam := ts.joinPlayer(t, "spam", 6)
	other := ts.joinPlayer(t, "other", 2)
	ws := watch(t, other.player, 2)
	own := spam.dial()
	own.next()
	stats := ts.engine.Stats()

	got := ts.admin(t, "DELETE", "/api/admin/players/"+spam.id.String(), "", 200)
	removed, _ := got["removed"].(map[string]any)
	if removed["id"] != spam.id.String() || num(removed["best"]) != 6 || num(got["sockets"]) != 1 {
		t.Fatalf("remove answered %v", got)
	}
	ts.admin(t, "GET", "/api/admin/players/"+spam.id.String(), "", 404)
	ts.admin(t, "DELETE", "/api/admin/players/"+spam.id.String(), "", 404)

	// Every board drops the player at the next tick, with the counters updated.
	f := ws.until("board_delta", func(f map[string]any) bool { return dropped(f, spam.tag) })
	if num(f["players"]) != stats.Players-1 || num(f["total_clicks"]) != stats.TotalClicks-6 {
		t.Fatalf("delta after remove %v, before %+v", f, stats)
	}
	// The player's socket is closed with the code that tells the page not to reconnect.
	testutil.ReadUntilClose(t, own.conn, closeRemoved, adminCloseReason)
	if snap := snapshotOf(t, ts); strings.Contains(snap, spam.id.String()) {
		t.Fatalf("snapshot still has the removed player:\n%s", snap)
	}
	deadline := time.Now().Add(5 * time.Second)
	for ts.engine.Stats().Online != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("online %d after the removed player's socket closed, want 1", ts.engine.Stats().Online)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Removing is not a ban: the cookie brings back a fresh player with no score.
	code, body := spam.do("GET", "/api/session", "")
	if code != 200 || body["handle"] != "spam" || num(body["best"]) != 0 || num(body["total"]) != 0 || body["tag"] != spam.tag {
		t.Fatalf("session after remove %d %v", code, body)
	}
}

func TestAdminAuditLog(t *testing.T) {
	var logs testutil.SyncBuffer
	ts := newTestServer(t, withAdmin, func(c *Config, _ *game.Config) {
		c.Log = slog.New(slog.NewTextHandler(&logs, nil))
	})
	p := ts.joinPlayer(t, "before", 2)
	path := "/api/admin/players/" + p.id.String()
	ts.admin(t, "POST", path+"/rename", `{"handle":"after"}`, 200)
	ts.admin(t, "POST", path+"/reset", "", 200)
	ts.admin(t, "DELETE", path, "", 200)
	out := logs.String()
	for _, want := range []string{
		fmt.Sprintf("action=rename id=%s tag=%s", p.id, p.tag),
		"old_handle=before new_handle=after",
		"action=reset id=" + p.id.String(),
		"old_best=2",
		"action=remove id=" + p.id.String(),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("audit log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, testAdminToken) {
		t.Fatal("the admin token was logged")
	}
}

func TestAdminShortTokenWarns(t *testing.T) {
	var logs testutil.SyncBuffer
	newTestServer(t, func(c *Config, _ *game.Config) {
		c.AdminToken = "short"
		c.Log = slog.New(slog.NewTextHandler(&logs, nil))
	})
	if !strings.Contains(logs.String(), "admin token is short") {
		t.Fatalf("no warning for a short token: %s", logs.String())
	}
}

// orphanGame hands out a player that was removed already, as a Restore racing a
// removal does.
type orphanGame struct {
	*game.Engine
	orphan game.Player
}

func (g orphanGame) Restore(ctx context.Context, id uuid.UUID, handle string) (game.Player, error) {
	if id == g.orphan.ID() {
		return g.orphan, nil
	}
	return g.Engine.Restore(ctx, id, handle)
}

// TestAdminRemoveRacingConnect: a socket that opens for a player removed meanwhile is
// closed at once, not left holding a player whose clicks no longer count.
func TestAdminRemoveRacingConnect(t *testing.T) {
	ts := newTestServer(t, withAdmin)
	p := ts.joinPlayer(t, "late", 1)
	if _, err := ts.engine.Remove(context.Background(), p.id); err != nil {
		t.Fatal(err)
	}
	s := mustNew(t, ts.cfg, orphanGame{Engine: ts.engine, orphan: p.p})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.ws.Close()
		srv.CloseClientConnections()
		srv.Close()
	})
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", p.cookieHeader())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	testutil.ReadUntilClose(t, conn, closeRemoved, adminCloseReason)
}
