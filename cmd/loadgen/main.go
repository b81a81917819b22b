// Command loadgen drives a running Click the Button server (or the comparison servers of
// cmd/bareserver) with real WebSocket players on loopback and reports clicks accepted per
// second, click-to-acknowledgement latency, leaderboard delivery lag, frames and bytes
// per client, errors and drops, and the server's CPU and memory.
//
// Each player gets its own session cookie (POST /api/session) and socket. Players click
// in round-robin at -rate clicks per second in total, evenly spread. A few "probe"
// players per process click at -probe-rate, one click in flight at a time; every client
// looks for the probe's row in board_delta/board frames, so the lag from a probe click
// to each client having it is measured per client ("lag") and per click over all
// clients of the process ("lag_all": the slowest client).
//
// Connections can be spread over several source addresses (-src 127.0.0.1-127.0.0.8)
// and processes (-procs): the parent re-executes itself, starts every child's clock at
// the same instant and merges their histograms. A run is bounded: it connects, warms
// up, measures for -duration, stops clicking, drains, checks convergence and exits.
//
// -url may list several nodes of one game (Redis mode): the players are spread over
// them, the figures are also kept per node, -server-pid takes one pid per node, and
// convergence compares every verifying client with the board of every node (nodes.go).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

type config struct {
	URL         string   // as given: one base URL or a comma-separated list
	URLs        []string // the base URLs, checked, without a trailing slash
	wsURLs      []string // their /ws
	URLOffset   int      // client i talks to URLs[(i+URLOffset) % len(URLs)]
	Clients     int
	Rate        float64
	Warmup      time.Duration
	Duration    time.Duration
	Drain       time.Duration
	ConnectRate int
	Src         []string
	Procs       int
	Name        string
	Probes      int
	ProbeRate   float64
	VerifyEvery int
	Resync      bool
	ServerPIDs  []int
	Watch       []procRef
	Label       string
	Out         string
	Headers     map[string]string
	CPUProfile  string
	Timeout     time.Duration
	child       bool
}

// result is one process's measurements; the parent merges its children's.
type result struct {
	Label         string            `json:"label,omitempty"`
	Clients       int               `json:"clients"`
	Connected     int               `json:"connected"`
	Procs         int               `json:"procs"`
	RateTarget    float64           `json:"rate_target"`
	WindowS       float64           `json:"window_s"`
	ClicksSent    uint64            `json:"clicks_sent"`
	ClicksAcked   uint64            `json:"clicks_acked"`
	Ack           histData          `json:"ack_hist"`
	Lag           histData          `json:"lag_hist"`
	LagAll        histData          `json:"lag_all_hist"`
	ProbeClicks   uint64            `json:"probe_clicks"`
	Undelivered   uint64            `json:"probe_clicks_not_seen_by_all"`
	ProbeSkipped  uint64            `json:"probe_skipped"`
	Frames        map[string]uint64 `json:"frames"`
	Bytes         map[string]uint64 `json:"bytes"`
	Gaps          uint64            `json:"seq_gaps"`
	Missed        uint64            `json:"board_updates_missed"`
	Resyncs       uint64            `json:"full_boards_after_connect"`
	ErrorFrames   uint64            `json:"error_frames"`
	Throttled     uint64            `json:"throttled_states"`
	ReadErrors    uint64            `json:"read_errors"`
	UnexpClose    uint64            `json:"unexpected_closes"`
	WriteErrors   uint64            `json:"write_errors"`
	ConnectErrors uint64            `json:"connect_errors"`
	Skipped       uint64            `json:"clicks_skipped_loadgen_behind"`
	VerifyChecked int               `json:"verify_checked"`
	Diverged      int               `json:"verify_diverged"`
	LoadgenCPU    float64           `json:"loadgen_cpu_cores"`

	// Set by the top process only.
	ServerCPU         float64 `json:"server_cpu_cores,omitempty"`
	ServerRSSBeforeKB int64   `json:"server_rss_before_kb,omitempty"`
	ServerRSSKB       int64   `json:"server_rss_kb,omitempty"`
	ServerRSSMaxKB    int64   `json:"server_rss_max_kb,omitempty"`

	// Only in runs of several nodes or processes measured; a single-URL run with one
	// -server-pid writes exactly the fields above, as before.
	Nodes   []nodeResult `json:"nodes,omitempty"`   // per node of -url, in its order
	Servers []procStats  `json:"servers,omitempty"` // per -server-pid, when more than one
	Watched []procStats  `json:"watched,omitempty"` // per -watch-pid

	Derived *derived `json:"derived,omitempty"`
}

// derived is the human summary of a result.
type derived struct {
	AcceptedPerS        float64 `json:"accepted_per_s"`
	SentPerS            float64 `json:"sent_per_s"`
	Ack                 summary `json:"ack"`
	Lag                 summary `json:"lag"`
	LagAll              summary `json:"lag_all"`
	FramesPerClientS    float64 `json:"frames_per_client_s"`
	BytesPerClientS     float64 `json:"bytes_per_client_s"`
	BroadcastFramesPerS float64 `json:"broadcast_frames_per_s"`
	RSSPerConnKB        float64 `json:"server_rss_per_conn_kb,omitempty"`
}

func main() {
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	var cfg config
	var src, headers, pids, watch string
	flag.StringVar(&cfg.URL, "url", "http://127.0.0.1:8080", "server base URL (loopback only), or a comma-separated list of the nodes of one game: the players are spread over them")
	flag.IntVar(&cfg.Clients, "clients", 100, "players (sockets) in total, probes included")
	flag.Float64Var(&cfg.Rate, "rate", 100, "clicks per second in total, spread evenly over the players (probes not counted)")
	flag.DurationVar(&cfg.Warmup, "warmup", 3*time.Second, "clicking before the measurement window")
	flag.DurationVar(&cfg.Duration, "duration", 20*time.Second, "measurement window")
	flag.DurationVar(&cfg.Drain, "drain", 2*time.Second, "wait after the clicks stop, before checking convergence")
	flag.IntVar(&cfg.ConnectRate, "connect-rate", 2000, "new connections per second, per process (0: no limit)")
	flag.StringVar(&src, "src", "127.0.0.1", "source addresses, comma separated, or a range 127.0.0.1-127.0.0.8")
	flag.IntVar(&cfg.Procs, "procs", 1, "processes to spread the players over")
	flag.StringVar(&cfg.Name, "name", "", "handle prefix (default lg<pid>); children add -<n>")
	flag.IntVar(&cfg.Probes, "probes", 1, "probe players per process")
	flag.Float64Var(&cfg.ProbeRate, "probe-rate", 10, "clicks per second of each probe")
	flag.IntVar(&cfg.VerifyEvery, "verify-every", 100, "every n-th client keeps the whole board and is compared with /api/leaderboard at the end (0: off)")
	flag.BoolVar(&cfg.Resync, "resync", true, `send {"type":"resync"} after a gap in seq, as the page does`)
	flag.StringVar(&pids, "server-pid", "", "pid of the server, to report its CPU and memory; a comma-separated list (one per -url node, in order) reports their sum and each one")
	flag.StringVar(&watch, "watch-pid", "", "other processes to measure over the window, name=pid comma separated (e.g. redis=1234)")
	flag.StringVar(&cfg.Label, "label", "", "label copied into the result")
	flag.StringVar(&cfg.Out, "out", "", "also append the result as one JSON line to this file")
	flag.StringVar(&headers, "header", "", "extra request headers, 'K: v' separated by ';' (e.g. for a per-IP limit bypass)")
	flag.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write this process's CPU profile of the window to this file (children: to FILE.<n>), to see what the load generator itself costs")
	flag.DurationVar(&cfg.Timeout, "timeout", 0, "hard limit on the whole run (0: the phases' length, connecting at -connect-rate, plus 2m)")
	flag.BoolVar(&cfg.child, "child", false, "internal: run as a child of -procs")
	flag.IntVar(&cfg.URLOffset, "url-offset", 0, "internal: the child's number, which rotates the nodes its clients start from")
	flag.Parse()

	if err := cfg.check(src, headers, pids, watch); err != nil {
		log.Fatalf("loadgen: %v", err)
	}
	hard := cfg.Warmup + cfg.Duration + cfg.Drain + time.Duration(cfg.Clients)*time.Second/time.Duration(max(cfg.ConnectRate*cfg.Procs, 200)) + 2*time.Minute
	if cfg.Timeout > 0 {
		// Connecting can be much slower than -connect-rate: a server that sends every
		// socket a frame whenever the online count changes slows down as it fills.
		hard = cfg.Timeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), hard)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	if cfg.child {
		runChild(ctx, cfg)
		return
	}
	var res result
	// The servers and the watched processes are sampled together over the window.
	all := append([]int(nil), cfg.ServerPIDs...)
	for _, p := range cfg.Watch {
		all = append(all, p.pid)
	}
	smp := newSampler(all)
	var swg sync.WaitGroup
	onGo := func(at time.Time) {
		if len(all) > 0 {
			swg.Add(1)
			go func() { defer swg.Done(); smp.run(at, cfg.Warmup, cfg.Duration) }()
		}
	}
	if cfg.Procs <= 1 {
		res = runWorker(ctx, cfg, func(ready func() time.Time) time.Time { at := ready(); onGo(at); return at })
	} else {
		res = runParent(ctx, cfg, onGo)
	}
	swg.Wait()
	res.Label = cfg.Label
	res.Procs = max(cfg.Procs, 1)
	if n := len(cfg.ServerPIDs); n > 0 {
		// The servers' sum: with one pid, exactly that server's figures.
		for i := range n {
			s := smp.stats(i, cfg.Duration)
			res.ServerCPU += s.CPU
			res.ServerRSSBeforeKB += s.RSSBeforeKB
			res.ServerRSSKB += s.RSSKB
			if n > 1 {
				res.Servers = append(res.Servers, s)
			}
		}
		res.ServerRSSMaxKB = smp.sumMax
		if n > 1 && n == len(res.Nodes) {
			for i := range res.Nodes {
				s := res.Servers[i]
				res.Nodes[i].Server = &s
			}
		}
	}
	for i, p := range cfg.Watch {
		s := smp.stats(len(cfg.ServerPIDs)+i, cfg.Duration)
		s.Name = p.name
		res.Watched = append(res.Watched, s)
	}
	for i := range res.Nodes {
		res.Nodes[i].Derived = deriveNode(res.Nodes[i], res.WindowS)
	}
	res.Derived = derive(res)
	line, _ := json.Marshal(res)
	if cfg.Out != "" {
		f, err := os.OpenFile(cfg.Out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err == nil {
			f.Write(append(line, '\n'))
			f.Close()
		}
	}
	printReport(os.Stdout, res)
}

// checkURL checks one base URL (http, loopback only) and returns it without a
// trailing slash, with its WebSocket URL.
func checkURL(s string) (base, ws string, err error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http") || u.Host == "" {
		return "", "", fmt.Errorf("-url %q: want http://127.0.0.x:port", s)
	}
	host := u.Hostname()
	if host == "localhost" {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", "", fmt.Errorf("-url %q: only loopback addresses are allowed", s)
	}
	return strings.TrimRight(s, "/"), "ws://" + u.Host + strings.TrimRight(u.Path, "/") + "/ws", nil
}

func (c *config) check(src, headers, pids, watch string) error {
	var err error
	if c.URLs, c.wsURLs, err = parseURLs(c.URL); err != nil {
		return err
	}
	c.URL = strings.Join(c.URLs, ",")
	if c.ServerPIDs, err = parsePIDs(pids); err != nil {
		return err
	}
	if len(c.ServerPIDs) > 1 && len(c.URLs) > 1 && len(c.ServerPIDs) != len(c.URLs) {
		return fmt.Errorf("-server-pid: %d pids for %d URLs: give one per node, in the order of -url", len(c.ServerPIDs), len(c.URLs))
	}
	if c.Watch, err = parseWatch(watch); err != nil {
		return err
	}
	c.Src = nil
	for _, s := range strings.Split(src, ",") {
		s = strings.TrimSpace(s)
		if lo, hi, ok := strings.Cut(s, "-"); ok {
			a, b := net.ParseIP(lo).To4(), net.ParseIP(hi).To4()
			if a == nil || b == nil || a[0] != 127 || a[1] != b[1] || a[2] != b[2] || a[3] > b[3] {
				return fmt.Errorf("-src %q: want a range like 127.0.0.1-127.0.0.8", s)
			}
			for x := int(a[3]); x <= int(b[3]); x++ {
				c.Src = append(c.Src, fmt.Sprintf("127.%d.%d.%d", a[1], a[2], x))
			}
			continue
		}
		if ip := net.ParseIP(s); ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("-src %q: only loopback addresses", s)
		}
		c.Src = append(c.Src, s)
	}
	c.Headers = map[string]string{}
	for _, h := range strings.Split(headers, ";") {
		if k, v, ok := strings.Cut(h, ":"); ok {
			c.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if c.Clients < 1 || c.Clients > 200000 {
		return fmt.Errorf("-clients %d: want 1..200000", c.Clients)
	}
	if c.Duration <= 0 || c.Duration > 30*time.Minute || c.Warmup < 0 || c.Warmup > 5*time.Minute {
		return fmt.Errorf("-duration must be in (0, 30m] and -warmup in [0, 5m]")
	}
	if c.Timeout < 0 || c.Timeout > time.Hour {
		return fmt.Errorf("-timeout %s: want at most 1h", c.Timeout)
	}
	if c.Procs > 64 {
		return fmt.Errorf("-procs %d: at most 64", c.Procs)
	}
	if c.Name == "" {
		c.Name = "lg" + strconv.Itoa(os.Getpid())
	}
	return nil
}

// runWorker connects this process's players, calls goAt (which returns the common start
// time), then clicks, measures, drains, verifies and returns the result.
func runWorker(ctx context.Context, cfg config, goAt func(ready func() time.Time) time.Time) result {
	w := &worker{cfg: cfg}
	t0 := time.Now()
	w.connect(ctx)
	connected := 0
	for _, c := range w.clients {
		if c.conn != nil {
			connected++
		}
	}
	log.Printf("%s: %d/%d connected in %s", cfg.Name, connected, cfg.Clients, time.Since(t0).Round(time.Millisecond))
	start := goAt(func() time.Time { return time.Now().Add(200 * time.Millisecond) })
	time.Sleep(time.Until(start))
	ws := start.Add(cfg.Warmup)
	we := ws.Add(cfg.Duration)
	w.winEnd.Store(we.UnixNano())
	w.winStart.Store(ws.UnixNano())
	ru0 := selfCPU()
	stopProfile := startProfile(cfg.CPUProfile)
	w.clickers(ctx, we)
	time.Sleep(time.Until(we))
	stopProfile()
	ru1 := selfCPU()
	// A click still in flight changes the boards after the clients stop reading: wait
	// (at most another drain) for every sent click's acknowledgement, then give the
	// boards a drain to catch up.
	w.awaitAcks(ctx, cfg.Drain)
	select {
	case <-ctx.Done():
	case <-time.After(cfg.Drain):
	}
	w.stopping.Store(true)
	for _, c := range w.clients {
		if c.conn != nil {
			c.wmu.Lock()
			c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			c.wmu.Unlock()
			c.conn.Close()
		}
	}
	w.readers.Wait()
	checked, diverged := w.verify(ctx)

	res := result{
		Clients: cfg.Clients, Connected: connected, RateTarget: cfg.Rate,
		WindowS:     cfg.Duration.Seconds(),
		ClicksSent:  w.clicksSent.Load(),
		ClicksAcked: w.clicksAcked.Load(),
		Ack:         w.ack.data(), Lag: w.lag.data(),
		Frames: map[string]uint64{}, Bytes: map[string]uint64{},
		Gaps: w.gaps.Load(), Missed: w.missed.Load(), Resyncs: w.resyncs.Load(), ErrorFrames: w.errorFrames.Load(),
		Throttled: w.throttled.Load(), ReadErrors: w.readErrors.Load(), UnexpClose: w.unexpClose.Load(),
		WriteErrors: w.writeErrors.Load(), ConnectErrors: w.connectErrors.Load(), Skipped: w.skipped.Load(),
		VerifyChecked: checked, Diverged: diverged,
		LoadgenCPU: (ru1 - ru0) / cfg.Duration.Seconds(),
	}
	for j, ns := range w.nodes {
		n := nodeResult{URL: cfg.URLs[j], ClicksSent: ns.clicksSent.Load(), ClicksAcked: ns.clicksAcked.Load(),
			Ack: ns.ack.data(), Lag: ns.lag.data(),
			VerifyChecked: w.nodeVerify[j].checked, VerifyDiverged: w.nodeVerify[j].diverged, VerifyErrors: w.nodeVerify[j].errors}
		for _, c := range w.clients {
			if c.node == j {
				n.Clients++
				if c.conn != nil {
					n.Connected++
				}
			}
		}
		res.Nodes = append(res.Nodes, n)
	}
	for k := range kindNames {
		res.Frames[kindNames[k]] = w.frames[k].Load()
		res.Bytes[kindNames[k]] = w.bytes[k].Load()
	}
	// Per probe click: delivered to every connected client of this process?
	var all hist
	for _, p := range w.probes {
		res.ProbeSkipped += p.skipped.Load()
		for b := range probeSlots {
			t := p.sendAt[b].Load()
			if t == 0 || !w.inWindow(t) {
				continue
			}
			res.ProbeClicks++
			if int(p.seenBy[b].Load()) >= connected {
				all.add(time.Duration(p.maxLag[b].Load()))
			} else {
				res.Undelivered++
			}
		}
	}
	res.LagAll = all.data()
	return res
}

// runChild is a worker whose start signal comes from the parent on stdin and whose
// result goes to stdout as JSON.
func runChild(ctx context.Context, cfg config) {
	res := runWorker(ctx, cfg, func(func() time.Time) time.Time {
		fmt.Println("READY")
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil {
			log.Fatalf("%s: no start signal: %v", cfg.Name, err)
		}
		ns, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(line, "GO ")), 10, 64)
		return time.Unix(0, ns)
	})
	json.NewEncoder(os.Stdout).Encode(res)
}

func runParent(ctx context.Context, cfg config, onGo func(time.Time)) result {
	type kid struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   *bufio.Reader
	}
	var kids []kid
	per := cfg.Clients / cfg.Procs
	for k := 0; k < cfg.Procs; k++ {
		n := per
		if k == cfg.Procs-1 {
			n = cfg.Clients - per*(cfg.Procs-1)
		}
		// Each child gets its own slice of the source addresses when there are enough.
		srcs := cfg.Src
		if len(cfg.Src) >= cfg.Procs {
			srcs = nil
			for i := k; i < len(cfg.Src); i += cfg.Procs {
				srcs = append(srcs, cfg.Src[i])
			}
		}
		args := []string{"-child",
			"-url", cfg.URL, "-clients", strconv.Itoa(n),
			"-rate", strconv.FormatFloat(cfg.Rate*float64(n)/float64(cfg.Clients), 'f', -1, 64),
			"-warmup", cfg.Warmup.String(), "-duration", cfg.Duration.String(), "-drain", cfg.Drain.String(),
			"-connect-rate", strconv.Itoa(cfg.ConnectRate), "-src", strings.Join(srcs, ","),
			"-name", fmt.Sprintf("%s-%d", cfg.Name, k), "-url-offset", strconv.Itoa(k), "-probes", strconv.Itoa(cfg.Probes),
			"-probe-rate", strconv.FormatFloat(cfg.ProbeRate, 'f', -1, 64),
			"-verify-every", strconv.Itoa(cfg.VerifyEvery), "-resync=" + strconv.FormatBool(cfg.Resync),
			"-timeout", cfg.Timeout.String(),
		}
		if cfg.CPUProfile != "" {
			args = append(args, "-cpuprofile", cfg.CPUProfile+"."+strconv.Itoa(k))
		}
		var hs []string
		for k, v := range cfg.Headers {
			hs = append(hs, k+": "+v)
		}
		if len(hs) > 0 {
			args = append(args, "-header", strings.Join(hs, ";"))
		}
		cmd := exec.CommandContext(ctx, os.Args[0], args...)
		cmd.Stderr = os.Stderr
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		cmd.WaitDelay = 10 * time.Second
		in, _ := cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			log.Fatalf("loadgen: start child: %v", err)
		}
		kids = append(kids, kid{cmd, in, bufio.NewReaderSize(out, 1<<20)})
	}
	for _, k := range kids {
		line, err := k.out.ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "READY" {
			for _, k := range kids {
				k.cmd.Process.Kill()
			}
			log.Fatalf("loadgen: a child did not get ready (%q, %v)", line, err)
		}
	}
	at := time.Now().Add(300 * time.Millisecond)
	onGo(at)
	for _, k := range kids {
		fmt.Fprintf(k.stdin, "GO %d\n", at.UnixNano())
	}
	var res result
	res.Frames, res.Bytes = map[string]uint64{}, map[string]uint64{}
	for _, k := range kids {
		var r result
		if err := json.NewDecoder(k.out).Decode(&r); err != nil {
			log.Printf("loadgen: child result: %v", err)
		}
		k.cmd.Wait()
		res.merge(r)
	}
	return res
}

func (r *result) merge(o result) {
	r.Clients += o.Clients
	r.Connected += o.Connected
	r.RateTarget += o.RateTarget
	r.WindowS = o.WindowS
	r.ClicksSent += o.ClicksSent
	r.ClicksAcked += o.ClicksAcked
	r.Ack.merge(o.Ack)
	r.Lag.merge(o.Lag)
	r.LagAll.merge(o.LagAll)
	r.ProbeClicks += o.ProbeClicks
	r.Undelivered += o.Undelivered
	r.ProbeSkipped += o.ProbeSkipped
	for k, v := range o.Frames {
		r.Frames[k] += v
	}
	for k, v := range o.Bytes {
		r.Bytes[k] += v
	}
	r.Gaps += o.Gaps
	r.Missed += o.Missed
	r.Resyncs += o.Resyncs
	r.ErrorFrames += o.ErrorFrames
	r.Throttled += o.Throttled
	r.ReadErrors += o.ReadErrors
	r.UnexpClose += o.UnexpClose
	r.WriteErrors += o.WriteErrors
	r.ConnectErrors += o.ConnectErrors
	r.Skipped += o.Skipped
	r.VerifyChecked += o.VerifyChecked
	r.Diverged += o.Diverged
	r.LoadgenCPU += o.LoadgenCPU
	if len(o.Nodes) > 0 && r.Nodes == nil {
		r.Nodes = make([]nodeResult, len(o.Nodes))
	}
	for j := range o.Nodes {
		if j < len(r.Nodes) {
			r.Nodes[j].merge(o.Nodes[j])
		}
	}
}

func derive(r result) *derived {
	d := &derived{Ack: r.Ack.summary(), Lag: r.Lag.summary(), LagAll: r.LagAll.summary()}
	if r.WindowS > 0 {
		d.AcceptedPerS = float64(r.ClicksAcked) / r.WindowS
		d.SentPerS = float64(r.ClicksSent) / r.WindowS
		var f, b uint64
		for _, v := range r.Frames {
			f += v
		}
		for _, v := range r.Bytes {
			b += v
		}
		if r.Connected > 0 {
			d.FramesPerClientS = float64(f) / float64(r.Connected) / r.WindowS
			d.BytesPerClientS = float64(b) / float64(r.Connected) / r.WindowS
		}
		d.BroadcastFramesPerS = float64(r.Frames["board_delta"]+r.Frames["board"]+r.Frames["stats"]) / r.WindowS
	}
	if r.Connected > 0 && r.ServerRSSKB > 0 {
		d.RSSPerConnKB = float64(r.ServerRSSKB-r.ServerRSSBeforeKB) / float64(r.Connected)
	}
	return d
}

func printReport(w io.Writer, r result) {
	d := r.Derived
	fmt.Fprintf(w, "loadgen %s: %d/%d players connected over %d process(es), %.0f s window\n", r.Label, r.Connected, r.Clients, r.Procs, r.WindowS)
	fmt.Fprintf(w, "  clicks: target %.0f/s, sent %.0f/s, accepted %.0f/s, skipped (loadgen behind) %d\n", r.RateTarget, d.SentPerS, d.AcceptedPerS, r.Skipped)
	fmt.Fprintf(w, "  click->ack ms:           p50 %.2f  p99 %.2f  max %.2f  (n=%d)\n", d.Ack.P50ms, d.Ack.P99ms, d.Ack.Maxms, d.Ack.N)
	fmt.Fprintf(w, "  click->client lag ms:    p50 %.2f  p99 %.2f  max %.2f  (n=%d)\n", d.Lag.P50ms, d.Lag.P99ms, d.Lag.Maxms, d.Lag.N)
	fmt.Fprintf(w, "  click->all clients ms:   p50 %.2f  p99 %.2f  max %.2f  (probe clicks %d, not seen by all %d)\n", d.LagAll.P50ms, d.LagAll.P99ms, d.LagAll.Maxms, r.ProbeClicks, r.Undelivered)
	fmt.Fprintf(w, "  per client per second:   %.2f frames, %.0f bytes; broadcast frames received %.0f/s in total\n", d.FramesPerClientS, d.BytesPerClientS, d.BroadcastFramesPerS)
	fmt.Fprintf(w, "  frames: %v\n", r.Frames)
	fmt.Fprintf(w, "  drops: board updates missed %d (seq gaps %d), full boards after connect %d; converged %d/%d verifying clients\n", r.Missed, r.Gaps, r.Resyncs, r.VerifyChecked-r.Diverged, r.VerifyChecked)
	fmt.Fprintf(w, "  errors: connect %d, read %d (closes %d), write %d, error frames %d, throttled states %d\n", r.ConnectErrors, r.ReadErrors, r.UnexpClose, r.WriteErrors, r.ErrorFrames, r.Throttled)
	fmt.Fprintf(w, "  loadgen CPU %.2f cores", r.LoadgenCPU)
	if r.ServerRSSKB > 0 {
		fmt.Fprintf(w, "; server CPU %.2f cores, RSS %d KB (before %d, max %d), %.1f KB per connection", r.ServerCPU, r.ServerRSSKB, r.ServerRSSBeforeKB, r.ServerRSSMaxKB, d.RSSPerConnKB)
	}
	fmt.Fprintln(w)
	printNodes(w, r)
}

// cpuSeconds is a process's user+system CPU time from /proc (0 when unknown).
func cpuSeconds(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}

func rssKB(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			v, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return v
		}
	}
	return 0
}

// startProfile starts a CPU profile into path ("": none) and returns what stops it.
func startProfile(path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		log.Printf("loadgen: -cpuprofile: %v", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Printf("loadgen: -cpuprofile: %v", err)
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
