package main

// Several nodes of one game (-url with a comma-separated list) and the processes
// measured around a run (-server-pid, -watch-pid).
//
// Players are spread within each process: client i talks to node (i+offset) mod n for
// its cookie and its socket, offset being the child's number with -procs, so that every
// node gets an equal share of the players and, since the click loops take the players
// in round-robin, of the clicks; the probes (the first clients of each process) land on
// different nodes. The figures a node's clients see are kept per node, and after the
// drain every verifying client's board is compared with GET /api/leaderboard of every
// node: one game means one board everywhere.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// nodeStats counts what the clients of one node did in the window.
type nodeStats struct {
	clicksSent, clicksAcked atomic.Uint64
	ack, lag                hist
}

// nodeResult is one node's share of a result, with its convergence check and, when
// -server-pid gives one pid per node, its process's figures.
type nodeResult struct {
	URL         string   `json:"url"`
	Clients     int      `json:"clients"`
	Connected   int      `json:"connected"`
	ClicksSent  uint64   `json:"clicks_sent"`
	ClicksAcked uint64   `json:"clicks_acked"`
	Ack         histData `json:"ack_hist"`
	Lag         histData `json:"lag_hist"`
	// VerifyChecked verifying clients (of every node) were compared with this node's
	// GET /api/leaderboard; VerifyDiverged of them differed. VerifyErrors counts the
	// processes that could not read it (their clients count as diverged).
	VerifyChecked  int `json:"verify_checked"`
	VerifyDiverged int `json:"verify_diverged"`
	VerifyErrors   int `json:"verify_errors,omitempty"`

	Server *procStats `json:"server,omitempty"`

	Derived *nodeDerived `json:"derived,omitempty"`
}

// nodeDerived is the human summary of a nodeResult.
type nodeDerived struct {
	AcceptedPerS float64 `json:"accepted_per_s"`
	SentPerS     float64 `json:"sent_per_s"`
	Ack          summary `json:"ack"`
	Lag          summary `json:"lag"`
	RSSPerConnKB float64 `json:"server_rss_per_conn_kb,omitempty"`
}

// procStats is one process measured over the window: CPU from /proc/<pid>/stat at
// the window's start and end, RSS before the players connect, at the end, and the
// highest of the samples taken every 500 ms.
type procStats struct {
	Name        string  `json:"name,omitempty"`
	PID         int     `json:"pid"`
	CPU         float64 `json:"cpu_cores"`
	RSSBeforeKB int64   `json:"rss_before_kb"`
	RSSKB       int64   `json:"rss_kb"`
	RSSMaxKB    int64   `json:"rss_max_kb"`
}

// procRef names a process for -watch-pid.
type procRef struct {
	name string
	pid  int
}

// parseURLs checks a -url list: each an http:// base URL on a loopback address.
// It returns the base URLs without a trailing slash and their WebSocket URLs.
func parseURLs(list string) (bases, ws []string, err error) {
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		base, w, err := checkURL(s)
		if err != nil {
			return nil, nil, err
		}
		bases, ws = append(bases, base), append(ws, w)
	}
	if len(bases) == 0 {
		return nil, nil, fmt.Errorf("-url %q: no URL", list)
	}
	if len(bases) > 64 {
		return nil, nil, fmt.Errorf("-url: %d URLs, at most 64", len(bases))
	}
	return bases, ws, nil
}

// parsePIDs reads a comma-separated list of process ids ("" or "0": none).
func parsePIDs(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" || f == "0" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("-server-pid %q: %q is not a process id", s, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseWatch reads -watch-pid: name=pid pairs, comma separated.
func parseWatch(s string) ([]procRef, error) {
	var out []procRef
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, p, ok := strings.Cut(f, "=")
		n, err := strconv.Atoi(p)
		if !ok || name == "" || err != nil || n <= 0 {
			return nil, fmt.Errorf("-watch-pid %q: want name=pid, e.g. redis=1234", f)
		}
		out = append(out, procRef{name, n})
	}
	return out, nil
}

// sampler measures a set of processes over the window. The sum of their RSS is
// sampled at once, so that sumMax is the highest total, not a sum of maxima taken at
// different times.
type sampler struct {
	pids               []int
	before, now, rsMax []int64
	cpu0, cpu1         []float64
	sumMax             int64
}

func newSampler(pids []int) *sampler {
	s := &sampler{pids: pids, before: make([]int64, len(pids)), now: make([]int64, len(pids)),
		rsMax: make([]int64, len(pids)), cpu0: make([]float64, len(pids)), cpu1: make([]float64, len(pids))}
	for i, p := range pids {
		s.before[i] = rssKB(p)
	}
	return s
}

// run waits for the window that starts warmup after startAt and samples through it.
func (s *sampler) run(startAt time.Time, warmup, duration time.Duration) {
	time.Sleep(time.Until(startAt.Add(warmup)))
	for i, p := range s.pids {
		s.cpu0[i] = cpuSeconds(p)
	}
	end := startAt.Add(warmup + duration)
	for time.Now().Before(end) {
		var sum int64
		for i, p := range s.pids {
			r := rssKB(p)
			s.rsMax[i] = max(s.rsMax[i], r)
			sum += r
		}
		s.sumMax = max(s.sumMax, sum)
		time.Sleep(min(500*time.Millisecond, time.Until(end)+time.Millisecond))
	}
	for i, p := range s.pids {
		s.cpu1[i] = cpuSeconds(p)
		s.now[i] = rssKB(p)
	}
}

// stats is process i's figures over a window of d.
func (s *sampler) stats(i int, d time.Duration) procStats {
	return procStats{PID: s.pids[i], CPU: (s.cpu1[i] - s.cpu0[i]) / d.Seconds(),
		RSSBeforeKB: s.before[i], RSSKB: s.now[i], RSSMaxKB: s.rsMax[i]}
}

// merge adds another process's share of the same node.
func (n *nodeResult) merge(o nodeResult) {
	n.URL = o.URL
	n.Clients += o.Clients
	n.Connected += o.Connected
	n.ClicksSent += o.ClicksSent
	n.ClicksAcked += o.ClicksAcked
	n.Ack.merge(o.Ack)
	n.Lag.merge(o.Lag)
	n.VerifyChecked += o.VerifyChecked
	n.VerifyDiverged += o.VerifyDiverged
	n.VerifyErrors += o.VerifyErrors
}

func deriveNode(n nodeResult, window float64) *nodeDerived {
	d := &nodeDerived{Ack: n.Ack.summary(), Lag: n.Lag.summary()}
	if window > 0 {
		d.AcceptedPerS = float64(n.ClicksAcked) / window
		d.SentPerS = float64(n.ClicksSent) / window
	}
	if s := n.Server; s != nil && n.Connected > 0 && s.RSSKB > 0 {
		d.RSSPerConnKB = float64(s.RSSKB-s.RSSBeforeKB) / float64(n.Connected)
	}
	return d
}

// boardKey is a board as the verification compares it: tags and bests in order.
func boardKey(rows []row) string {
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = r.Tag + "/" + strconv.FormatInt(r.Best, 10)
	}
	return strings.Join(parts, ",")
}

// leaderboard reads GET /api/leaderboard of the server at base.
func leaderboard(ctx context.Context, base string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/leaderboard", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return "", fmt.Errorf("GET %s/api/leaderboard: %s", base, resp.Status)
	}
	var lb struct {
		Top []row `json:"top"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&lb); err != nil {
		return "", err
	}
	return boardKey(lb.Top), nil
}

// verifyNodes compares every verifying client's board with every node's
// /api/leaderboard. A client converged when its board equals all of them; a board
// that could not be read counts as a divergence, since nothing confirmed the client.
func (w *worker) verifyNodes(ctx context.Context) (checked, diverged int) {
	want := make([]string, len(w.cfg.URLs))
	bad := make([]bool, len(w.cfg.URLs))
	for j, u := range w.cfg.URLs {
		var err error
		if want[j], err = leaderboard(ctx, u); err != nil {
			log.Printf("%s: verify against %s: %v", w.cfg.Name, u, err)
			bad[j] = true
			w.nodeVerify[j].errors++
		}
	}
	for _, c := range w.clients {
		if !c.verify || c.conn == nil {
			continue
		}
		checked++
		got := boardKey(c.board)
		off := false
		for j := range want {
			w.nodeVerify[j].checked++
			if bad[j] || got != want[j] {
				w.nodeVerify[j].diverged++
				off = true
			}
		}
		if off {
			diverged++
		}
	}
	return checked, diverged
}

// printNodes adds a line per node, per server process not tied to a node, and per
// watched process to the report of a multi-node run.
func printNodes(w io.Writer, r result) {
	for j, n := range r.Nodes {
		d := n.Derived
		fmt.Fprintf(w, "  node %d %s: %d/%d connected, accepted %.0f/s, ack p50 %.2f p99 %.2f ms, lag p50 %.2f p99 %.2f ms; board equal on %d/%d verifying clients",
			j+1, n.URL, n.Connected, n.Clients, d.AcceptedPerS, d.Ack.P50ms, d.Ack.P99ms, d.Lag.P50ms, d.Lag.P99ms, n.VerifyChecked-n.VerifyDiverged, n.VerifyChecked)
		if n.VerifyErrors > 0 {
			fmt.Fprintf(w, " (leaderboard unreadable from %d process(es))", n.VerifyErrors)
		}
		if s := n.Server; s != nil {
			fmt.Fprintf(w, "; server pid %d CPU %.2f cores, RSS %d KB (before %d, max %d), %.1f KB per connection", s.PID, s.CPU, s.RSSKB, s.RSSBeforeKB, s.RSSMaxKB, d.RSSPerConnKB)
		}
		fmt.Fprintln(w)
	}
	if len(r.Nodes) == 0 || len(r.Servers) != len(r.Nodes) {
		for _, s := range r.Servers {
			fmt.Fprintf(w, "  server pid %d: CPU %.2f cores, RSS %d KB (before %d, max %d)\n", s.PID, s.CPU, s.RSSKB, s.RSSBeforeKB, s.RSSMaxKB)
		}
	}
	for _, s := range r.Watched {
		fmt.Fprintf(w, "  %s (pid %d): CPU %.2f cores, RSS %d KB (max %d)\n", s.Name, s.PID, s.CPU, s.RSSKB, s.RSSMaxKB)
	}
}
