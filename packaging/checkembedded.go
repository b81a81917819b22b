//go:build ignore

// checkembedded checks that release binaries carry the real page: every file of the
// built page (frontend/dist) must be in each binary byte for byte (go:embed stores file
// contents verbatim and uncompressed, whatever the target platform), and every asset
// that index.html references must exist in frontend/dist and be in the binary too.
// It never runs the binaries, so it works on cross-compiled ones.
//
// Usage (from the repository root; packaging/check-embedded.sh wraps it):
//
//	go run packaging/checkembedded.go [-page frontend/dist] [-expect STRING]... BINARY...
//
// -expect adds strings each binary must contain (e.g. the stamped version).
// Exit status: 0 when every binary passes, 1 when one does not, 2 on bad usage.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

// refs finds the local files index.html loads: src="./assets/x.js", href="./favicon.svg".
var refs = regexp.MustCompile(`(?:src|href)="(?:\./|/)?([^"':?#]+)"`)

func main() {
	pageDir := flag.String("page", "frontend/dist", "the built page whose files must be embedded")
	var expect multi
	flag.Var(&expect, "expect", "a string every binary must contain (repeatable)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run packaging/checkembedded.go [-page DIR] [-expect STRING]... BINARY...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	files, err := pageFiles(*pageDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "check-embedded:", err)
		os.Exit(2)
	}
	failed := false
	for _, bin := range flag.Args() {
		problems, err := check(bin, files, expect)
		switch {
		case err != nil:
			fmt.Fprintf(os.Stderr, "FAIL %s: %v\n", bin, err)
			failed = true
		case len(problems) > 0:
			fmt.Fprintf(os.Stderr, "FAIL %s: not the release binary of this page (was frontend/dist built before go build?)\n", bin)
			for _, p := range problems {
				fmt.Fprintf(os.Stderr, "  %s\n", p)
			}
			failed = true
		default:
			fmt.Printf("ok   %s: page embedded (%d files)\n", bin, len(files))
		}
	}
	if failed {
		os.Exit(1)
	}
}

// pageFiles reads every non-empty file of the built page, keyed by its path in the
// page, and checks that index.html exists and that what it references is there.
func pageFiles(dir string) (map[string][]byte, error) {
	index, err := os.ReadFile(path.Join(dir, "index.html"))
	if err != nil {
		return nil, fmt.Errorf("%w: build the page first (make web)", err)
	}
	files := map[string][]byte{}
	err = fs.WalkDir(os.DirFS(dir), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path.Join(dir, p))
		if err != nil {
			return err
		}
		if len(b) > 0 { // .gitkeep: an empty file proves nothing
			files[p] = b
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	n := 0
	for _, m := range refs.FindAllSubmatch(index, -1) {
		ref := string(m[1])
		if strings.HasPrefix(ref, "data") || strings.Contains(ref, "//") {
			continue
		}
		if _, ok := files[ref]; !ok {
			return nil, fmt.Errorf("%s/index.html references %q, which is not in %s", dir, ref, dir)
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s/index.html references no asset: not a built page", dir)
	}
	return files, nil
}

func check(bin string, files map[string][]byte, expect []string) ([]string, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	var problems []string
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !bytes.Contains(data, files[name]) {
			problems = append(problems, fmt.Sprintf("missing the contents of %s (%d bytes)", name, len(files[name])))
		}
		if !bytes.Contains(data, []byte(path.Base(name))) {
			problems = append(problems, fmt.Sprintf("missing the file name %s", path.Base(name)))
		}
	}
	for _, s := range expect {
		if !bytes.Contains(data, []byte(s)) {
			problems = append(problems, fmt.Sprintf("missing the string %q", s))
		}
	}
	return problems, nil
}
