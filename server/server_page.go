package server

import (
	"io/fs"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Click the Button: page not built</title></head>
<body><h1>The page is not built</h1>
<p>This binary was built without the web page. Run <code>make build</code> (or <code>make run</code>)
and start <code>bin/clickthebutton</code>. The API and the WebSocket work all the same.</p></body></html>
`

// pageHandler serves the embedded page, or a notice when the binary has none. Hashed
// assets are cached for good; index.html is revalidated so a new release shows at once.
func pageHandler(page fs.FS, basePath string) echo.HandlerFunc {
	if page == nil {
		return func(c echo.Context) error {
			return c.HTML(http.StatusServiceUnavailable, notBuiltPage)
		}
	}
	files := http.StripPrefix(basePath, http.FileServerFS(page))
	return func(c echo.Context) error {
		path := strings.TrimPrefix(c.Request().URL.Path, basePath)
		h := c.Response().Header()
		if strings.HasPrefix(path, "/assets/") {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		// Go's own table does not know the web app manifest, and with nosniff the
		// system's table (absent from many servers) would be the only other source.
		if strings.HasSuffix(path, ".webmanifest") {
			h.Set("Content-Type", "application/manifest+json")
		}
		files.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}
