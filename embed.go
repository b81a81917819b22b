package main

import (
	"embed"
	"io/fs"
)

// dist holds the page built by Vite. A fresh clone has only frontend/dist/.gitkeep, so
// `go build` works before the page is built; such a binary serves a "page not built"
// notice instead (make build refuses to produce one).
//
//go:embed all:frontend/dist
var dist embed.FS

// pageFS returns the built page, or nil when this binary was built without it.
func pageFS() fs.FS {
	page, err := fs.Sub(dist, "frontend/dist")
	if err != nil {
		return nil
	}
	if _, err := fs.Stat(page, "index.html"); err != nil {
		return nil
	}
	return page
}
