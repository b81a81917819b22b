//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/internal/testutil"
	"github.com/gorilla/websocket"
)

// TestPublicReadsOnBothBackends: the real program, in memory and on a real
// redis-server, answers /api/leaderboard and /api/stats from the per-tick cache: an
// ETag, a 304 for it while nothing changed, the new counts under a new ETag once a
// click was published, and a gzipped board to a client that accepts it.
func TestPublicReadsOnBothBackends(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra func(t *testing.T) []string
	}{
		{"memory", func(*testing.T) []string { return nil }},
		{"redis", func(t *testing.T) []string { return []string{"--redis", testutil.StartRedis(t).URL()} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, stop := startRun(t, t.TempDir(), append(tc.extra(t), "--tick", "50ms")...)
			defer stop()
			base := "http://" + addr
			conn := joinAndDial(t, base, "poller")
			click := func(want int64) {
				t.Helper()
				if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"click"}`)); err != nil {
					t.Fatal(err)
				}
				for {
					conn.SetReadDeadline(time.Now().Add(10 * time.Second))
					_, msg, err := conn.ReadMessage()
					if err != nil {
						t.Fatalf("waiting for the ack of click %d: %v", want, err)
					}
					var f struct {
						Type  string
						Total int64
					}
					json.Unmarshal(msg, &f)
					if f.Type == "state" && f.Total == want {
						return
					}
				}
			}
			click(1)

			for _, path := range []string{"/api/leaderboard", "/api/stats"} {
				expectNotModified(t, base+path, waitForClicks(t, base+path, "", 1))
			}
			old := getRaw(t, base+"/api/leaderboard", "", "").Header.Get("ETag")
			click(2)
			for _, path := range []string{"/api/leaderboard", "/api/stats"} {
				next := waitForClicks(t, base+path, "", 2)
				if next.Header.Get("ETag") == old {
					t.Fatalf("%s: the ETag did not change with the board", path)
				}
			}
			// After a change, the old ETag gets the whole new answer.
			if r := getRaw(t, base+"/api/leaderboard", "", old); r.StatusCode != http.StatusOK {
				t.Fatalf("old ETag after a change: %d, want 200", r.StatusCode)
			}
			// The wire form for a client that accepts gzip.
			z := getRaw(t, base+"/api/leaderboard", "gzip", "")
			if z.Header.Get("Vary") != "Accept-Encoding" {
				t.Fatalf("no Vary: Accept-Encoding on the board: %v", z.Header)
			}
		})
	}
}

// expectNotModified asks url again with the ETag of r: a 304 with no body, unless the
// answer really changed meanwhile (the board catches up with the counters at the next
// tick), in which case it tries again with the new answer. The same body under a new
// ETag, or a 200 for an unchanged answer, fails.
func expectNotModified(t *testing.T, url string, r rawResp) {
	t.Helper()
	for range 50 {
		nm := getRaw(t, url, "", r.Header.Get("ETag"))
		switch {
		case nm.StatusCode == http.StatusNotModified && len(nm.body) == 0:
			return
		case nm.StatusCode != http.StatusOK || bytes.Equal(nm.body, r.body):
			t.Fatalf("%s: If-None-Match %s on an unchanged answer: %d %q, want an empty 304", url, r.Header.Get("ETag"), nm.StatusCode, nm.body)
		}
		r = nm
	}
	t.Fatalf("%s: the answer kept changing", url)
}

type rawResp struct {
	*http.Response
	body []byte
}

// getRaw GETs url with Accept-Encoding and If-None-Match as given (empty: not sent),
// with no transparent decompression.
func getRaw(t *testing.T, url, accept, inm string) rawResp {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept-Encoding", accept)
	if inm != "" {
		req.Header.Set("If-None-Match", inm)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return rawResp{resp, body}
}

// waitForClicks polls url until its total_clicks is want, and returns that answer.
func waitForClicks(t *testing.T, url, accept string, want int64) rawResp {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := getRaw(t, url, accept, "")
		var m struct {
			TotalClicks int64 `json:"total_clicks"`
		}
		json.Unmarshal(r.body, &m)
		if r.StatusCode == http.StatusOK && m.TotalClicks == want && r.Header.Get("ETag") != "" {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d %s, want total_clicks %d with an ETag", url, r.StatusCode, r.body, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// joinAndDial creates a player and opens its socket.
func joinAndDial(t *testing.T, base, handle string) *websocket.Conn {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"handle": handle})
	resp, err := http.Post(base+"/api/session", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/session: %s", resp.Status)
	}
	h := http.Header{}
	for _, c := range resp.Cookies() {
		h.Add("Cookie", c.Name+"="+c.Value)
	}
	conn, _, err := websocket.DefaultDialer.Dial("ws"+base[len("http"):]+"/ws", h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
