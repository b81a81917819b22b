package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/clickthebutton/clickthebutton/game"
)

// guardRequest is one request to the API as a browser (or a script) would send it.
type guardRequest struct {
	method, path string
	host         string            // the Host header; "" for the test server's own
	headers      map[string]string // Origin, Sec-Fetch-Site, Content-Type, Authorization
	cookie       bool              // send the victim's session cookie
	body         string
}

// send sends r to ts with cookie as the Cookie header when r asks for it, and returns
// the status and the decoded error message, if any.
func (ts *testServer) send(t *testing.T, r guardRequest, cookie http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(r.method, ts.http.URL+r.path, strings.NewReader(r.body))
	if r.host != "" {
		req.Host = r.host
	}
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	if r.cookie {
		req.Header.Set("Cookie", cookie.Get("Cookie"))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Error string `json:"error"`
	}
	if resp.StatusCode != http.StatusOK {
		if err := json.Unmarshal(raw, &out); err != nil || out.Error == "" {
			t.Fatalf("%s %s: %d with body %q, want a JSON error", r.method, r.path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out.Error
}

// TestCrossSiteWritesAreRefused: a state-changing API request from another site, or
// with a body that is not labelled JSON, is refused before it changes anything; the
// page's own requests, scripts without an Origin and reads go through.
func TestCrossSiteWritesAreRefused(t *testing.T) {
	const friend = "https://friend.example.com"
	ts := newTestServer(t, withAdmin, func(c *Config, _ *game.Config) { c.AllowedOrigins = []string{friend} })
	u, _ := url.Parse(ts.http.URL)
	own := "http://" + u.Host
	victim := ts.newPlayer(t)
	victim.join("victim")
	target := ts.joinPlayer(t, "target", 3)
	cookie := victim.cookieHeader()
	admin := "/api/admin/players/" + target.id.String()
	const rename = `{"handle":"pwned"}`
	h := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	refused := []struct {
		name string
		req  guardRequest
		code int
	}{
		{"cross-site text/plain form post with the visitor's cookie",
			guardRequest{"POST", "/api/session", "", h("Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site", "Content-Type", "text/plain"), true, rename}, 403},
		{"cross-site text/plain form post creating a player",
			guardRequest{"POST", "/api/session", "", h("Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site", "Content-Type", "text/plain"), false, rename}, 403},
		{"cross-site urlencoded form post",
			guardRequest{"POST", "/api/session", "", h("Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site", "Content-Type", "application/x-www-form-urlencoded"), true, "handle=pwned"}, 403},
		{"foreign Origin without fetch metadata",
			guardRequest{"POST", "/api/session", "", h("Origin", "https://evil.example", "Content-Type", "application/json"), true, rename}, 403},
		{"look-alike Origin",
			guardRequest{"POST", "/api/session", "", h("Origin", own+".evil.example", "Content-Type", "application/json"), true, rename}, 403},
		{"Origin null (a sandboxed frame)",
			guardRequest{"POST", "/api/session", "", h("Origin", "null", "Content-Type", "application/json"), true, rename}, 403},
		{"sibling subdomain, same-site",
			guardRequest{"POST", "/api/session", "game.example.com", h("Origin", "https://blog.example.com", "Sec-Fetch-Site", "same-site", "Content-Type", "application/json"), true, rename}, 403},
		{"the own host over the other scheme, same-site",
			guardRequest{"POST", "/api/session", "", h("Origin", "https://"+u.Host, "Sec-Fetch-Site", "same-site", "Content-Type", "application/json"), true, rename}, 403},
		{"cross-site even from an allowed origin",
			guardRequest{"POST", "/api/session", "", h("Origin", friend, "Sec-Fetch-Site", "cross-site", "Content-Type", "application/json"), true, rename}, 403},
		{"cross-site PUT, which has no route",
			guardRequest{"PUT", "/api/session", "", h("Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site", "Content-Type", "text/plain"), true, rename}, 403},
		{"cross-site post to an escaped path",
			guardRequest{"POST", "/%61pi/session", "", h("Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site", "Content-Type", "text/plain"), true, rename}, 403},
		{"the own page, text/plain",
			guardRequest{"POST", "/api/session", "", h("Origin", own, "Sec-Fetch-Site", "same-origin", "Content-Type", "text/plain"), true, rename}, 415},
		{"no Origin, a form type (curl -d)",
			guardRequest{"POST", "/api/session", "", h("Content-Type", "application/x-www-form-urlencoded"), true, rename}, 415},
		{"a body without Content-Type",
			guardRequest{"POST", "/api/session", "", nil, true, rename}, 415},
		{"a JSON look-alike type",
			guardRequest{"POST", "/api/session", "", h("Content-Type", "application/jsonp"), true, rename}, 415},
		{"admin rename from another site, with the token",
			guardRequest{"POST", admin + "/rename", "", h("Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site", "Content-Type", "application/json", "Authorization", bearer), false, rename}, 403},
		{"admin delete from another site, with the token",
			guardRequest{"DELETE", admin, "", h("Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site", "Authorization", bearer), false, ""}, 403},
		{"admin rename as text/plain, with the token",
			guardRequest{"POST", admin + "/rename", "", h("Content-Type", "text/plain", "Authorization", bearer), false, rename}, 415},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			code, msg := ts.send(t, c.req, cookie)
			if code != c.code {
				t.Fatalf("status %d (%q), want %d", code, msg, c.code)
			}
			if c.code == 415 && !strings.Contains(msg, "Content-Type: application/json") {
				t.Errorf("415 message %q does not name the type to send", msg)
			}
			if n := ts.engine.Stats().Players; n != 2 {
				t.Fatalf("a refused request changed the player count to %d", n)
			}
			if code, body := victim.do("GET", "/api/session", ""); code != 200 || body["handle"] != "victim" {
				t.Fatalf("a refused request renamed the victim: %d %v", code, body)
			}
			if info := ts.info(t, target.p); info.Handle != "target" || info.Best != 3 {
				t.Fatalf("a refused admin request changed the target: %+v", info)
			}
		})
	}

	allowed := []struct {
		name string
		req  guardRequest
	}{
		{"the own page's JSON post",
			guardRequest{"POST", "/api/session", "", h("Origin", own, "Sec-Fetch-Site", "same-origin", "Content-Type", "application/json; charset=utf-8"), true, `{"handle":"victim two"}`}},
		{"a script without Origin",
			guardRequest{"POST", "/api/session", "", h("Content-Type", "application/json"), false, `{"handle":"scripted"}`}},
		{"same-site from an allowed origin",
			guardRequest{"POST", "/api/session", "game.example.com", h("Origin", friend, "Sec-Fetch-Site", "same-site", "Content-Type", "application/json"), false, `{"handle":"friend"}`}},
		{"an allowed origin without fetch metadata",
			guardRequest{"POST", "/api/session", "", h("Origin", friend, "Content-Type", "application/json"), false, `{"handle":"friend two"}`}},
		{"a cross-site read",
			guardRequest{"GET", "/api/leaderboard", "", h("Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"), false, ""}},
		{"admin reset without a body",
			guardRequest{"POST", admin + "/reset", "", h("Authorization", bearer), false, ""}},
		{"admin delete without a body",
			guardRequest{"DELETE", admin, "", h("Authorization", bearer), false, ""}},
	}
	for _, c := range allowed {
		t.Run(c.name, func(t *testing.T) {
			if code, msg := ts.send(t, c.req, cookie); code != 200 {
				t.Fatalf("status %d (%q), want 200", code, msg)
			}
		})
	}
	if _, err := ts.engine.Get(t.Context(), target.id); err == nil {
		t.Fatal("the admin delete did not remove the target")
	}
}

// TestCrossSiteWritesRefusedUnderBasePath: the guard covers the API where it is.
func TestCrossSiteWritesRefusedUnderBasePath(t *testing.T) {
	ts := newTestServer(t, func(c *Config, _ *game.Config) { c.BasePath = "/game" })
	form := map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"}
	if code, msg := ts.send(t, guardRequest{"POST", "/game/api/session", "", form, false, `{"handle":"x"}`}, nil); code != 403 {
		t.Fatalf("cross-site post under the base path: %d %q, want 403", code, msg)
	}
	if n := ts.engine.Stats().Players; n != 0 {
		t.Fatalf("a refused request created %d players", n)
	}
	json := map[string]string{"Content-Type": "application/json"}
	if code, msg := ts.send(t, guardRequest{"POST", "/game/api/session", "", json, false, `{"handle":"x"}`}, nil); code != 200 {
		t.Fatalf("JSON post under the base path: %d %q, want 200", code, msg)
	}
}
