package server

import (
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"
)

const notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Click the Button: page not built</title></head>
<body><h1>The page is not built</h1>
<p>This binary was built without the web page. Run <code>make build</code> (or <code>make run</code>)
and start <code>bin/clickthebutton</code>. The API and the WebSocket work all the same.</p></body></html>
`

// Cache policies of the page's files.
const (
	// Hashed assets never change under their name.
	cacheImmutable = "public, max-age=31536000, immutable"
	// Everything else is revalidated (a 304 when unchanged), so a new release shows at once.
	cacheRevalidate = "no-cache"
)

// compressedCopies names the build's compressed copies of a file
// (scripts/compress-page.mjs) by suffix, with their content coding.
func compressedCopies() [2]struct{ suffix, coding string } {
	return [2]struct{ suffix, coding string }{{".br", codingBrotli}, {".gz", codingGzip}}
}

// extraType knows the types Go's table lacks, which a scratch container has no
// /etc/mime.types for either.
func extraType(ext string) string {
	switch ext {
	case ".webmanifest":
		return "application/manifest+json"
	case ".ico":
		return "image/x-icon"
	case ".txt":
		return "text/plain; charset=utf-8"
	case ".map":
		return "application/json"
	case ".woff2":
		return "font/woff2"
	}
	return ""
}

// loadPage reads every file of the built page into memory, each with its compressed
// copies and ETags. The copies are not served under their own names: a client gets
// them by asking for the original with Accept-Encoding.
func loadPage(page fs.FS) (map[string]*encoded, error) {
	files := make(map[string]*encoded)
	err := fs.WalkDir(page, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		for _, c := range compressedCopies() {
			if base, ok := strings.CutSuffix(name, c.suffix); ok {
				if _, err := fs.Stat(page, base); err == nil {
					return nil // a copy, read with its original
				}
			}
		}
		body, err := fs.ReadFile(page, name)
		if err != nil {
			return fmt.Errorf("page: %w", err)
		}
		copies := make(map[string][]byte)
		for _, c := range compressedCopies() {
			b, err := fs.ReadFile(page, name+c.suffix)
			if err == nil && len(b) < len(body) {
				copies[c.coding] = b
			}
		}
		cc := cacheRevalidate
		if strings.HasPrefix(name, "assets/") {
			cc = cacheImmutable
		}
		files["/"+name] = newEncoded(contentTypeOf(name, body), cc, body, copies[codingBrotli], copies[codingGzip])
		return nil
	})
	if err != nil {
		return nil, err
	}
	if files["/index.html"] == nil {
		return nil, fmt.Errorf("page: no index.html")
	}
	return files, nil
}

// contentTypeOf names a file's type by its extension, or by sniffing its bytes.
func contentTypeOf(name string, body []byte) string {
	ext := strings.ToLower(path.Ext(name))
	if t := extraType(ext); t != "" {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return http.DetectContentType(body)
}

// pageHandler serves the embedded page, or a notice when the binary has none. Each file
// goes out in the best coding the browser accepts, with Vary: Accept-Encoding and one
// ETag per coding, so If-None-Match gets a 304. Hashed assets are cached for good;
// index.html and the rest are revalidated so a new release shows at once. Nothing the
// client sends reaches the file system: paths are looked up in what was loaded.
func pageHandler(page fs.FS, basePath string) (echo.HandlerFunc, error) {
	if page == nil {
		return func(c echo.Context) error {
			setDocumentHeaders(c.Response().Header())
			return c.HTML(http.StatusServiceUnavailable, notBuiltPage)
		}, nil
	}
	files, err := loadPage(page)
	if err != nil {
		return nil, err
	}
	return func(c echo.Context) error {
		r := c.Request()
		p := strings.TrimPrefix(r.URL.Path, basePath)
		switch p {
		case "/index.html":
			// One URL for the page, as http.FileServer did.
			return c.Redirect(http.StatusMovedPermanently, "./")
		case "/", "":
			p = "/index.html"
		}
		f := files[p]
		if f == nil {
			return echo.NewHTTPError(http.StatusNotFound, "not found")
		}
		f.serve(c.Response(), r)
		return nil
	}, nil
}
