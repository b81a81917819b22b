package server

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/labstack/echo/v4"
)

func TestAcceptQ(t *testing.T) {
	cases := []struct {
		header, coding string
		want           float64
	}{
		{"gzip, deflate, br, zstd", "br", 1},
		{"gzip, deflate, br, zstd", "gzip", 1},
		{"gzip", "br", 0},
		{"br;q=0.5, gzip;q=0.8", "br", 0.5},
		{"BR ; Q=0.7", "br", 0.7},
		{"*", "br", 1},
		{"*;q=0.2, br;q=0", "br", 0},
		{"*;q=0.2, br;q=0", "gzip", 0.2},
		{"identity", "gzip", 0},
		{"br;q=abc", "br", 0},
		{"br;q=7", "br", 0},
		{"br;q=-1", "br", 0},
		{";;;,,,=", "br", 0},
		{"", "gzip", 0},
	}
	for _, c := range cases {
		if got := acceptQ(c.header, c.coding); got != c.want {
			t.Errorf("acceptQ(%q, %q) = %v, want %v", c.header, c.coding, got, c.want)
		}
	}
}

func TestPickPrefersTheBestAccepted(t *testing.T) {
	all := newEncoded("text/plain", cacheRevalidate, []byte("orig"), []byte("b"), []byte("g"))
	gzOnly := newEncoded("text/plain", cacheRevalidate, []byte("orig"), nil, []byte("g"))
	plain := newEncoded("text/plain", cacheRevalidate, []byte("orig"), nil, nil)
	cases := []struct {
		name   string
		e      *encoded
		accept string
		want   string
	}{
		{"browser", all, "gzip, deflate, br, zstd", codingBrotli},
		{"old browser", all, "gzip, deflate", codingGzip},
		{"curl", all, "", codingIdentity},
		{"gzip weighed higher", all, "br;q=0.4, gzip;q=0.9", codingGzip},
		{"brotli refused", all, "*, br;q=0", codingGzip},
		{"everything refused", all, "br;q=0, gzip;q=0", codingIdentity},
		{"no brotli copy", gzOnly, "br, gzip", codingGzip},
		{"no copies", plain, "br, gzip", codingIdentity},
		{"garbage", all, "\x00\xff;q=;", codingIdentity},
	}
	for _, c := range cases {
		if got := c.e.pick(c.accept).coding; got != c.want {
			t.Errorf("%s: picked %q, want %q", c.name, got, c.want)
		}
	}
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// testPage is a built page as scripts/compress-page.mjs leaves it: some files with
// copies, one without, and a copy whose original is not there.
func testPage(t *testing.T) fstest.MapFS {
	js := []byte(strings.Repeat("console.log('click the button');\n", 200))
	return fstest.MapFS{
		"index.html":               {Data: []byte(`<!doctype html><script src="./assets/app-1.js"></script>`)},
		"index.html.gz":            {Data: []byte("tiny")},
		"assets/app-1.js":          {Data: js},
		"assets/app-1.js.br":       {Data: []byte("brotli bytes")},
		"assets/app-1.js.gz":       {Data: gz(t, js)},
		"icon.png":                 {Data: []byte("\x89PNG\r\n\x1a\n....")},
		"manifest.webmanifest":     {Data: []byte(`{"name":"Click the Button"}`)},
		"manifest.webmanifest.br":  {Data: []byte("{}")},
		"stray.js.gz":              {Data: []byte("no original")},
		"assets/too-big.css":       {Data: []byte("a{}")},
		"assets/too-big.css.br":    {Data: []byte("a copy larger than its original")},
		"assets/nested/deep.svg":   {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`)},
		"assets/nested/deep.svg.g": {Data: []byte("not a copy")},
	}
}

type pageReq struct {
	path, accept, ifNoneMatch string
}

type pageResp struct {
	code                 int
	encoding, typ, cache string
	body                 []byte
	etag, vary           string
}

func getPage(t *testing.T, base string, r pageReq) pageResp {
	t.Helper()
	req, _ := http.NewRequest("GET", base+r.path, nil)
	// Set explicitly (even to nothing), so the client neither adds gzip nor decodes.
	req.Header.Set("Accept-Encoding", r.accept)
	if r.ifNoneMatch != "" {
		req.Header.Set("If-None-Match", r.ifNoneMatch)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return pageResp{resp.StatusCode, resp.Header.Get("Content-Encoding"), resp.Header.Get("Content-Type"),
		resp.Header.Get("Cache-Control"), body, resp.Header.Get("ETag"), resp.Header.Get("Vary")}
}

func TestPageServesTheBestCoding(t *testing.T) {
	page := testPage(t)
	ts := newTestServer(t, func(c *Config, _ *game.Config) { c.Page = page })
	base := ts.http.URL
	const browser = "gzip, deflate, br, zstd"
	cases := []struct {
		name     string
		req      pageReq
		code     int
		encoding string
		body     []byte
		typ      string
		cache    string
		vary     bool
	}{
		{"script to a browser", pageReq{"/assets/app-1.js", browser, ""}, 200, "br", page["assets/app-1.js.br"].Data, "text/javascript; charset=utf-8", cacheImmutable, true},
		{"script without brotli", pageReq{"/assets/app-1.js", "gzip", ""}, 200, "gzip", page["assets/app-1.js.gz"].Data, "text/javascript; charset=utf-8", cacheImmutable, true},
		{"script to curl", pageReq{"/assets/app-1.js", "", ""}, 200, "", page["assets/app-1.js"].Data, "text/javascript; charset=utf-8", cacheImmutable, true},
		{"page at the root", pageReq{"/", browser, ""}, 200, "gzip", []byte("tiny"), "text/html; charset=utf-8", cacheRevalidate, true},
		{"manifest", pageReq{"/manifest.webmanifest", browser, ""}, 200, "br", []byte("{}"), "application/manifest+json", cacheRevalidate, true},
		{"image without copies", pageReq{"/icon.png", browser, ""}, 200, "", page["icon.png"].Data, "image/png", cacheRevalidate, false},
		{"a copy larger than its original is not used", pageReq{"/assets/too-big.css", browser, ""}, 200, "", []byte("a{}"), "text/css; charset=utf-8", cacheImmutable, false},
		{"nested", pageReq{"/assets/nested/deep.svg", browser, ""}, 200, "", page["assets/nested/deep.svg"].Data, "image/svg+xml", cacheImmutable, false},
		{"a file named like a copy of nothing is a file", pageReq{"/stray.js.gz", "", ""}, 200, "", []byte("no original"), "application/gzip", cacheRevalidate, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := getPage(t, base, c.req)
			if got.code != c.code || got.encoding != c.encoding || !bytes.Equal(got.body, c.body) || got.typ != c.typ || got.cache != c.cache {
				t.Fatalf("got %d encoding %q type %q cache %q body %q\nwant %d encoding %q type %q cache %q body %q",
					got.code, got.encoding, got.typ, got.cache, got.body, c.code, c.encoding, c.typ, c.cache, c.body)
			}
			if (got.vary == "Accept-Encoding") != c.vary {
				t.Fatalf("Vary %q, want Accept-Encoding: %v", got.vary, c.vary)
			}
			if got.etag == "" {
				t.Fatal("no ETag")
			}
			// The ETag revalidates exactly this representation.
			again := getPage(t, base, pageReq{c.req.path, c.req.accept, got.etag})
			if again.code != http.StatusNotModified || len(again.body) != 0 || again.etag != got.etag {
				t.Fatalf("If-None-Match %s: %d %q etag %s, want an empty 304", got.etag, again.code, again.body, again.etag)
			}
		})
	}
}

func TestPageETagsDifferPerCoding(t *testing.T) {
	ts := newTestServer(t, func(c *Config, _ *game.Config) { c.Page = testPage(t) })
	tags := map[string]string{}
	for _, accept := range []string{"br", "gzip", ""} {
		r := getPage(t, ts.http.URL, pageReq{"/assets/app-1.js", accept, ""})
		for a, tag := range tags {
			if tag == r.etag {
				t.Fatalf("Accept-Encoding %q and %q share ETag %s", a, accept, tag)
			}
		}
		tags[accept] = r.etag
	}
	// A cache holding the gzip copy asks with its ETag: a brotli client is not told
	// that its copy is the same.
	r := getPage(t, ts.http.URL, pageReq{"/assets/app-1.js", "br", tags["gzip"]})
	if r.code != 200 || r.encoding != "br" {
		t.Fatalf("brotli client revalidating the gzip ETag: %d %q, want 200 br", r.code, r.encoding)
	}
	// A list and a weak form of the right tag both match (RFC 9110 13.1.2).
	for _, inm := range []string{`"nope", ` + tags["br"], "W/" + tags["br"], "*"} {
		if r := getPage(t, ts.http.URL, pageReq{"/assets/app-1.js", "br", inm}); r.code != http.StatusNotModified {
			t.Fatalf("If-None-Match %s: %d, want 304", inm, r.code)
		}
	}
}

func TestPageRefusesWhatItDoesNotHave(t *testing.T) {
	ts := newTestServer(t, func(c *Config, _ *game.Config) { c.Page = testPage(t) })
	cases := []struct {
		path string
		code int
	}{
		{"/assets/app-1.js.br", 404}, // copies are reached through Accept-Encoding only
		{"/assets/app-1.js.gz", 404},
		{"/index.html.gz", 404},
		{"/assets/", 404}, // no listings
		{"/assets", 404},
		{"/nope.js", 404},
		{"/assets/../index.html", 404},
		{"/%2e%2e/%2e%2e/etc/passwd", 404},
		{"/index.html", http.StatusMovedPermanently},
	}
	for _, c := range cases {
		if got := getPage(t, ts.http.URL, pageReq{c.path, "br, gzip", ""}); got.code != c.code {
			t.Errorf("GET %s: %d, want %d", c.path, got.code, c.code)
		}
	}
}

func TestPageUnderBasePath(t *testing.T) {
	ts := newTestServer(t, func(c *Config, _ *game.Config) { c.Page, c.BasePath = testPage(t), "/game" })
	if r := getPage(t, ts.http.URL, pageReq{"/game/assets/app-1.js", "br", ""}); r.code != 200 || r.encoding != "br" {
		t.Fatalf("asset under the base path: %d %q", r.code, r.encoding)
	}
	if r := getPage(t, ts.http.URL, pageReq{"/game/", "gzip", ""}); r.code != 200 || string(r.body) != "tiny" {
		t.Fatalf("page under the base path: %d %q", r.code, r.body)
	}
	if r := getPage(t, ts.http.URL, pageReq{"/assets/app-1.js", "br", ""}); r.code != 404 {
		t.Fatalf("asset outside the base path: %d, want 404", r.code)
	}
}

func TestPageWithoutIndexIsRefused(t *testing.T) {
	_, err := New(testConfigWith(func(c *Config) { c.Page = fstest.MapFS{"a.js": {Data: []byte("x")}} }), mustEngine(t))
	if err == nil || !strings.Contains(err.Error(), "index.html") {
		t.Fatalf("New with a page lacking index.html: %v", err)
	}
}

func testConfigWith(mod func(*Config)) Config {
	c := testConfig()
	mod(&c)
	return c
}

func TestPageContentTypes(t *testing.T) {
	page := fstest.MapFS{
		"index.html":           {Data: []byte("<!doctype html><title>t</title>")},
		"manifest.webmanifest": {Data: []byte(`{"name":"Click the Button"}`)},
		"icon-192.png":         {Data: []byte("\x89PNG\r\n\x1a\n")},
	}
	h, err := pageHandler(page, "")
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.GET("/*", h)
	cases := []struct {
		path, want string
	}{
		{"/manifest.webmanifest", "application/manifest+json"},
		{"/icon-192.png", "image/png"},
		{"/", "text/html; charset=utf-8"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
			if rec.Code != 200 || rec.Header().Get("Content-Type") != c.want {
				t.Fatalf("%s: %d %q, want 200 %q", c.path, rec.Code, rec.Header().Get("Content-Type"), c.want)
			}
			// Only the page itself takes the page's policy.
			doc := c.path == "/"
			if got := rec.Header().Get("Content-Security-Policy") == contentSecurityPolicy; got != doc {
				t.Errorf("%s: page policy %v, want %v", c.path, got, doc)
			}
		})
	}
}
