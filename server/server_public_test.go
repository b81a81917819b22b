package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

func TestPublicReadEncodesOncePerTick(t *testing.T) {
	var ticks atomic.Uint64
	var encodings atomic.Int64
	p := newPublicRead(&ticks, func() any {
		n := encodings.Add(1)
		return map[string]int64{"n": n}
	})
	body := func() string {
		e, err := p.get()
		if err != nil {
			t.Fatal(err)
		}
		return string(e.variants[0].body)
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { body() })
	}
	wg.Wait()
	if n := encodings.Load(); n != 1 {
		t.Fatalf("50 requests within a tick encoded %d times, want 1", n)
	}
	if got := body(); got != "{\"n\":1}\n" {
		t.Fatalf("body %q", got)
	}
	ticks.Add(1)
	if got := body(); got != "{\"n\":2}\n" {
		t.Fatalf("after a tick: body %q, want the second encoding", got)
	}
	if n := encodings.Load(); n != 2 {
		t.Fatalf("%d encodings after one tick, want 2", n)
	}
}

func TestPublicReadRefusesWhatCannotBeEncoded(t *testing.T) {
	var ticks atomic.Uint64
	p := newPublicRead(&ticks, func() any { return func() {} })
	if _, err := p.get(); err == nil {
		t.Fatal("a value JSON cannot hold was encoded")
	}
}

type publicResp struct {
	code                              int
	etag, encoding, vary, cache, kind string
	body                              []byte
}

func getPublic(t *testing.T, h http.Handler, path, accept, inm string) publicResp {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if accept != "" {
		req.Header.Set("Accept-Encoding", accept)
	}
	if inm != "" {
		req.Header.Set("If-None-Match", inm)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return publicResp{w.Code, w.Header().Get("ETag"), w.Header().Get("Content-Encoding"), w.Header().Get("Vary"),
		w.Header().Get("Cache-Control"), w.Header().Get("Content-Type"), w.Body.Bytes()}
}

func decodeNumber(t *testing.T, body []byte, field string) int64 {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	return num(m[field])
}

// TestPublicReadsFollowTheTick: between two ticks /api/stats and /api/leaderboard
// answer the same bytes under the same ETag, clicks or not; If-None-Match gets a 304;
// the tick brings the new counts under a new ETag. The hub is driven by hand here.
func TestPublicReadsFollowTheTick(t *testing.T) {
	engine := mustEngine(t)
	s := mustNew(t, testConfig(), engine)
	h := s.Handler()
	ctx := context.Background()
	p, err := engine.Join(ctx, "poller")
	if err != nil {
		t.Fatal(err)
	}
	s.hub.tick(ctx)

	for _, path := range []string{"/api/stats", "/api/leaderboard"} {
		t.Run(path, func(t *testing.T) {
			first := getPublic(t, h, path, "", "")
			if first.code != 200 || first.etag == "" || first.cache != "no-cache" || first.kind != "application/json" {
				t.Fatalf("first GET: %d etag %q cache %q type %q", first.code, first.etag, first.cache, first.kind)
			}
			clicks := decodeNumber(t, first.body, "total_clicks")
			if _, err := engine.Click(ctx, p); err != nil {
				t.Fatal(err)
			}
			// Same tick: the same answer, from the cache.
			same := getPublic(t, h, path, "", "")
			if same.etag != first.etag || !bytes.Equal(same.body, first.body) {
				t.Fatalf("within a tick: etag %s body %s, want %s %s", same.etag, same.body, first.etag, first.body)
			}
			if nm := getPublic(t, h, path, "", first.etag); nm.code != http.StatusNotModified || len(nm.body) != 0 {
				t.Fatalf("If-None-Match: %d %q, want an empty 304", nm.code, nm.body)
			}

			s.hub.tick(ctx)
			next := getPublic(t, h, path, "", first.etag)
			if next.code != 200 || next.etag == first.etag {
				t.Fatalf("after the tick with the old ETag: %d etag %s, want 200 with a new one", next.code, next.etag)
			}
			if got := decodeNumber(t, next.body, "total_clicks"); got != clicks+1 {
				t.Fatalf("after the tick: total_clicks %v, want %v", got, clicks+1)
			}
			// An unchanged game keeps its ETag over ticks, so pollers keep getting 304s.
			s.hub.tick(ctx)
			if again := getPublic(t, h, path, "", next.etag); again.code != http.StatusNotModified {
				t.Fatalf("a tick without changes: %d, want 304", again.code)
			}
		})
	}
}

// TestPublicLeaderboardGzip: a full board goes out gzipped to a client that accepts it,
// the same JSON under its own ETag.
func TestPublicLeaderboardGzip(t *testing.T) {
	engine := mustEngine(t)
	s := mustNew(t, testConfig(), engine)
	ctx := context.Background()
	for i := range 100 {
		p, err := engine.Join(ctx, "player "+string(rune('a'+i%26))+string(rune('a'+i/26)))
		if err != nil {
			t.Fatal(err)
		}
		for range i%7 + 1 {
			engine.Click(ctx, p)
		}
	}
	s.hub.tick(ctx)
	plain := getPublic(t, s.Handler(), "/api/leaderboard", "", "")
	zipped := getPublic(t, s.Handler(), "/api/leaderboard", "br, gzip", "")
	if zipped.encoding != "gzip" || zipped.vary != "Accept-Encoding" || zipped.etag == plain.etag {
		t.Fatalf("gzip answer: encoding %q vary %q etag %s (plain %s)", zipped.encoding, zipped.vary, zipped.etag, plain.etag)
	}
	zr, err := gzip.NewReader(bytes.NewReader(zipped.body))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	if !bytes.Equal(unzipped, plain.body) {
		t.Fatal("the gzip answer is not the plain one")
	}
	if len(zipped.body) >= len(plain.body)/2 {
		t.Fatalf("gzip %d bytes for %d: compression did not help", len(zipped.body), len(plain.body))
	}
	var lb struct{ Top []rowJSON }
	json.Unmarshal(plain.body, &lb)
	if len(lb.Top) != 100 {
		t.Fatalf("%d rows, want 100", len(lb.Top))
	}
	if nm := getPublic(t, s.Handler(), "/api/leaderboard", "gzip", zipped.etag); nm.code != http.StatusNotModified {
		t.Fatalf("If-None-Match on the gzip answer: %d", nm.code)
	}
}
