package server

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
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
	contentType, cacheControl []string
	variants                  []variant // identity first, then the compressed copies, best first
	// vary is Vary: Accept-Encoding when there are copies, or for an answer whose next
	// version may have some; nil otherwise.
	vary []string
	// document is an HTML answer, which takes the page's security policy.
	document bool
}

// variant is one coding of a resource. The header values are made once: with a full
// board in memory every allocation per request brings the next garbage collection,
// and its scan of a million players, closer.
type variant struct {
	coding string
	body   []byte
	etag   string

	etagHeader, codingHeader, lengthHeader []string
}

// newEncoded describes body, sent as contentType with cacheControl, with its
// compressed copies (a nil copy is left out).
func newEncoded(contentType, cacheControl string, body, br, gz []byte) *encoded {
	sum := sha256.Sum256(body)
	tag := base64.RawURLEncoding.EncodeToString(sum[:12])
	e := &encoded{contentType: []string{contentType}, cacheControl: []string{cacheControl},
		document: strings.HasPrefix(contentType, "text/html")}
	add := func(coding string, b []byte, suffix string) {
		v := variant{coding: coding, body: b, etag: `"` + tag + suffix + `"`, lengthHeader: []string{strconv.Itoa(len(b))}}
		v.etagHeader = []string{v.etag}
		if coding != codingIdentity {
			v.codingHeader = []string{coding}
		}
		e.variants = append(e.variants, v)
	}
	add(codingIdentity, body, "")
	if br != nil {
		add(codingBrotli, br, "-br")
	}
	if gz != nil {
		add(codingGzip, gz, "-gz")
	}
	if len(e.variants) > 1 {
		e.varyOnCoding()
	}
	return e
}

// varyOnCoding sends Vary: Accept-Encoding, for an answer whose next version may have
// compressed copies even if this one has none.
func (e *encoded) varyOnCoding() { e.vary = []string{"Accept-Encoding"} }

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

// serve answers r with the variant its Accept-Encoding prefers, or a 304 when
// If-None-Match names that variant's ETag. HEAD gets the headers alone.
func (e *encoded) serve(w http.ResponseWriter, r *http.Request) {
	v := e.pick(r.Header.Get("Accept-Encoding"))
	h := w.Header()
	// Shared slices: net/http only reads header values.
	if e.vary != nil {
		h["Vary"] = e.vary
	}
	h["Etag"] = v.etagHeader
	h["Cache-Control"] = e.cacheControl
	if e.document {
		setDocumentHeaders(h)
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatches(inm, v.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Type"] = e.contentType
	h["Content-Length"] = v.lengthHeader
	if v.codingHeader != nil {
		h["Content-Encoding"] = v.codingHeader
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(v.body)
	}
}

// etagMatches reports whether an If-None-Match header names etag: "*", or etag in the
// list, weak or not (RFC 9110 13.1.2 compares weakly here).
func etagMatches(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
