package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/internal/testutil"
)

// TestBanHolds: a banned player's sockets close saying why, its cookie is refused at
// every door with the reason, asking for a new player with it is refused too, it leaves
// the board, and an unban brings it back with its scores.
func TestBanHolds(t *testing.T) {
	ts := newTestServer(t, withAdmin)
	cheat := ts.joinPlayer(t, "cheat", 5)
	ts.joinPlayer(t, "honest", 2)
	s := cheat.dial()
	s.until("state", nil)

	code, _, body := ts.adminDo(t, "POST", "/api/admin/players/"+cheat.id.String()+"/ban", bearer, `{"reason":"autoclicker"}`)
	if code != 200 || body["banned"].(map[string]any)["reason"] != "autoclicker" {
		t.Fatalf("ban: %d %v", code, body)
	}
	testutil.ReadUntilClose(t, s.conn, closeBanned, "banned: autoclicker")

	for _, req := range []struct{ method, path, body string }{
		{"GET", "/api/session", ""},
		{"POST", "/api/session", `{"handle":"new me"}`},
	} {
		code, body := cheat.do(req.method, req.path, req.body)
		if code != http.StatusForbidden || body["code"] != codeBanned || body["reason"] != "autoclicker" ||
			body["error"] != "This player was banned by the moderators: autoclicker" {
			t.Fatalf("%s %s with a banned cookie: %d %v", req.method, req.path, code, body)
		}
	}
	if _, resp, err := cheat.dialWith(cheat.cookieHeader(), nil); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a banned cookie's socket: %v %v, want 403", resp, err)
	}
	if n := ts.engine.Stats().Players; n != 2 {
		t.Fatalf("%d players: the banned cookie got a new player", n)
	}
	ts.engine.Tick(context.Background())
	if rows := ts.engine.Board().Rows; len(rows) != 1 || rows[0].Handle != "honest" {
		t.Fatalf("board with a banned player: %+v", rows)
	}
	code, _, body = ts.adminDo(t, "GET", "/api/admin/bans", bearer, "")
	bans, _ := body["bans"].([]any)
	if code != 200 || len(bans) != 1 || bans[0].(map[string]any)["handle"] != "cheat" || bans[0].(map[string]any)["tag"] != cheat.tag {
		t.Fatalf("bans: %d %v", code, body)
	}

	if code, _, body := ts.adminDo(t, "DELETE", "/api/admin/players/"+cheat.id.String()+"/ban", bearer, ""); code != 200 {
		t.Fatalf("unban: %d %v", code, body)
	}
	if code, body := cheat.do("GET", "/api/session", ""); code != 200 || num(body["best"]) != 5 {
		t.Fatalf("after the unban: %d %v", code, body)
	}
	if code, _, _ := ts.adminDo(t, "DELETE", "/api/admin/players/"+cheat.id.String()+"/ban", bearer, ""); code != http.StatusNotFound {
		t.Fatalf("unban without a ban: %d, want 404", code)
	}
}

func TestBanRequests(t *testing.T) {
	ts := newTestServer(t, withAdmin)
	p := ts.joinPlayer(t, "p", 1)
	path := "/api/admin/players/" + p.id.String() + "/ban"
	for _, tc := range []struct {
		body string
		code int
	}{
		{``, 400},
		{`{}`, 400},
		{`{"reason":""}`, 400},
		{`{"reason":"` + strings.Repeat("x", 201) + `"}`, 400},
		{`{"reason":"bad\u0007bell"}`, 400},
	} {
		if code, _, body := ts.adminDo(t, "POST", path, bearer, tc.body); code != tc.code || body["error"] == "" {
			t.Errorf("ban with %q: %d %v, want %d", tc.body, code, body, tc.code)
		}
	}
	if code, _, _ := ts.adminDo(t, "POST", "/api/admin/players/0b0e6a47-3c2a-4f6e-9c3e-2a7c1d9b8e11/ban", bearer, `{"reason":"x"}`); code != 404 {
		t.Errorf("ban of an unknown player: %d, want 404", code)
	}
	if code, body := p.do("GET", "/api/session", ""); code != 200 {
		t.Fatalf("refused bans changed the player: %d %v", code, body)
	}
}

// TestModeratorsHandleIsLocked: a handle a moderator gave cannot be renamed by the
// player until a moderator unlocks it.
func TestModeratorsHandleIsLocked(t *testing.T) {
	ts := newTestServer(t, withAdmin)
	p := ts.joinPlayer(t, "rude", 1)
	code, _, body := ts.adminDo(t, "POST", "/api/admin/players/"+p.id.String()+"/rename", bearer, `{"handle":"player 1"}`)
	if code != 200 || body["handle_locked"] != true {
		t.Fatalf("admin rename: %d %v", code, body)
	}
	code, resp := p.do("POST", "/api/session", `{"handle":"rude again"}`)
	if code != http.StatusForbidden || resp["code"] != codeHandleLocked {
		t.Fatalf("renaming a locked handle: %d %v", code, resp)
	}
	if code, resp := p.do("GET", "/api/session", ""); code != 200 || resp["handle"] != "player 1" {
		t.Fatalf("the handle after a refused rename: %d %v", code, resp)
	}
	if code, _, body := ts.adminDo(t, "POST", "/api/admin/players/"+p.id.String()+"/unlock", bearer, ""); code != 200 || body["handle_locked"] != false {
		t.Fatalf("unlock: %d %v", code, body)
	}
	if code, resp := p.do("POST", "/api/session", `{"handle":"nicer"}`); code != 200 || resp["handle"] != "nicer" {
		t.Fatalf("rename after the unlock: %d %v", code, resp)
	}
}

// TestSuspectsAndClear: a player clicking like a machine is listed with the evidence,
// and a moderator clears it.
func TestSuspectsAndClear(t *testing.T) {
	ts := newTestServer(t, withAdmin)
	bot := ts.joinPlayer(t, "bot", 0)
	ts.joinPlayer(t, "person", 3)
	for range 60 {
		ts.clock.Advance(25 * time.Millisecond) // 40 a second, like a timer
		if _, err := ts.engine.Click(context.Background(), bot.p); err != nil {
			t.Fatal(err)
		}
	}
	code, _, body := ts.adminDo(t, "GET", "/api/admin/suspects", bearer, "")
	players, _ := body["players"].([]any)
	if code != 200 || num(body["total"]) != 1 || len(players) != 1 {
		t.Fatalf("suspects: %d %v", code, body)
	}
	sus := players[0].(map[string]any)["suspect"].(map[string]any)
	if players[0].(map[string]any)["tag"] != bot.tag || sus["rule"] != "regular_intervals" || sus["rate"].(float64) < 39 || sus["interval_cv"].(float64) > 0.01 {
		t.Fatalf("the evidence: %v", players[0])
	}
	if code, _, body := ts.adminDo(t, "POST", "/api/admin/players/"+bot.id.String()+"/clear", bearer, ""); code != 200 || body["suspect"] != nil {
		t.Fatalf("clear: %d %v", code, body)
	}
	if _, _, body := ts.adminDo(t, "GET", "/api/admin/suspects", bearer, ""); num(body["total"]) != 0 {
		t.Fatalf("suspects after the clear: %v", body)
	}
}
