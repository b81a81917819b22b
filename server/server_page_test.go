package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"

	"github.com/labstack/echo/v4"
)

func TestPageContentTypes(t *testing.T) {
	page := fstest.MapFS{
		"index.html":           {Data: []byte("<!doctype html><title>t</title>")},
		"manifest.webmanifest": {Data: []byte(`{"name":"Click the Button"}`)},
		"icon-192.png":         {Data: []byte("\x89PNG\r\n\x1a\n")},
	}
	e := echo.New()
	e.GET("/*", pageHandler(page, ""))
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
		})
	}
}
