package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Content codings this server sends, best first: brotli is about a tenth smaller than
// gzip on the page's script, and every browser that speaks it says so.
const (
	codingBrotli   = "br"
	codingGzip     = "gzip"
	codingIdentity = ""
)

// encoded is one resource ready to send in every content coding it has: the original
// bytes and, when they make it smaller, a brotli and a gzip copy. Each copy has its own
// strong ETag, since they are different bytes: a cache holding the gzip copy must not
// be told that the brotli one is the same.
type encoded struct {
	contentType string
	variants    []variant // identity first, then the compressed copies, best first
	// vary sends Vary: Accept-Encoding even with no copies, for an answer whose next
	// version may have some.
	vary bool
}

type variant struct {
	coding string
	body   []byte
	etag   string
}

// newEncoded describes body, sent as contentType, with its compressed copies (a nil
// copy is left out).
func newEncoded(contentType string, body, br, gz []byte) *encoded {
	sum := sha256.Sum256(body)
	tag := base64.RawURLEncoding.EncodeToString(sum[:12])
	e := &encoded{contentType: contentType, variants: []variant{{codingIdentity, body, `"` + tag + `"`}}}
	if br != nil {
		e.variants = append(e.variants, variant{codingBrotli, br, `"` + tag + `-br"`})
	}
	if gz != nil {
		e.variants = append(e.variants, variant{codingGzip, gz, `"` + tag + `-gz"`})
	}
	return e
}

// gzipIfSmaller returns body gzipped, or nil when that saves too little to bother.
func gzipIfSmaller(body []byte) []byte {
	if len(body) < 512 {
		return nil
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression) // a valid level never fails
	zw.Write(body)
	zw.Close()
	if buf.Len() > len(body)*9/10 {
		return nil
	}
	return buf.Bytes()
}

// pick returns the variant to send to a client that sent acceptEncoding.
func (e *encoded) pick(acceptEncoding string) *variant {
	if len(e.variants) == 1 || acceptEncoding == "" {
		return &e.variants[0]
	}
	best, bestQ := &e.variants[0], -1.0
	for i := range e.variants[1:] {
		v := &e.variants[i+1]
		if q := acceptQ(acceptEncoding, v.coding); q > bestQ && q > 0 {
			best, bestQ = v, q
		}
	}
	return best
}

// acceptQ returns the quality an Accept-Encoding header gives coding (RFC 9110 12.5.3):
// its own entry's q, else that of "*", else 0. A malformed q counts as 0, so a garbled
// header gets the uncompressed bytes, which every client can read.
func acceptQ(header, coding string) float64 {
	q, star := -1.0, -1.0
	for entry := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(entry, ";")
		name = strings.TrimSpace(name)
		v := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
				if err != nil || f < 0 || f > 1 {
					f = 0
				}
				v = f
			}
		}
		switch {
		case strings.EqualFold(name, coding):
			q = v
		case name == "*":
			star = v
		}
	}
	if q >= 0 {
		return q
	}
	return max(star, 0)
}

// serve answers r with the variant its Accept-Encoding prefers. http.ServeContent does
// the conditional part: If-None-Match against the variant's ETag gets a 304, and HEAD
// and byte ranges work as for a file.
func (e *encoded) serve(w http.ResponseWriter, r *http.Request, cacheControl string) {
	v := e.pick(r.Header.Get("Accept-Encoding"))
	h := w.Header()
	if e.vary || len(e.variants) > 1 {
		h.Add("Vary", "Accept-Encoding")
	}
	if v.coding != codingIdentity {
		h.Set("Content-Encoding", v.coding)
	}
	h.Set("Content-Type", e.contentType)
	h.Set("ETag", v.etag)
	h.Set("Cache-Control", cacheControl)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(v.body))
}
