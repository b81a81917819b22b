// Command report turns a results folder of bench/run-*.sh into summary.md (medians of
// the repeated runs, and ratios taken within each repetition) and chart.svg (delivery
// lag and server CPU against connected clients, from the "sweep" runs). The runs of
// bench/run-scaleout.sh get their own sections and scaleout.svg (scaleout.go).
//
//	go run ./report -dir results/long-20250101-120000
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

type summary struct {
	N     uint64  `json:"n"`
	P50ms float64 `json:"p50_ms"`
	P99ms float64 `json:"p99_ms"`
	Maxms float64 `json:"max_ms"`
}

// load is the part of a cmd/loadgen result the report uses.
type load struct {
	Label       string  `json:"label"`
	Connected   int     `json:"connected"`
	Clients     int     `json:"clients"`
	RateTarget  float64 `json:"rate_target"`
	Missed      uint64  `json:"board_updates_missed"`
	Gaps        uint64  `json:"seq_gaps"`
	Resyncs     uint64  `json:"full_boards_after_connect"`
	Undeliv     uint64  `json:"probe_clicks_not_seen_by_all"`
	ProbeClicks uint64  `json:"probe_clicks"`
	Checked     int     `json:"verify_checked"`
	Diverged    int     `json:"verify_diverged"`
	ConnErr     uint64  `json:"connect_errors"`
	ReadErr     uint64  `json:"read_errors"`
	WriteErr    uint64  `json:"write_errors"`
	ErrFrames   uint64  `json:"error_frames"`
	Skipped     uint64  `json:"clicks_skipped_loadgen_behind"`
	ServerCPU   float64 `json:"server_cpu_cores"`
	LoadgenCPU  float64 `json:"loadgen_cpu_cores"`
	RSSKB       int64   `json:"server_rss_kb"`
	RSSBeforeKB int64   `json:"server_rss_before_kb"`
	// Of multi-node runs and measured processes (cmd/loadgen/nodes.go).
	Nodes   []nodeLoad `json:"nodes"`
	Servers []proc     `json:"servers"`
	Watched []proc     `json:"watched"`
	Frames  map[string]uint64
	Bytes   map[string]uint64
	D       struct {
		Accepted float64 `json:"accepted_per_s"`
		Ack      summary `json:"ack"`
		Lag      summary `json:"lag"`
		LagAll   summary `json:"lag_all"`
		FramesCS float64 `json:"frames_per_client_s"`
		BytesCS  float64 `json:"bytes_per_client_s"`
		BcastS   float64 `json:"broadcast_frames_per_s"`
		RSSConn  float64 `json:"server_rss_per_conn_kb"`
	} `json:"derived"`

	exp, server, clients, rate, rep string
}

func main() {
	dir := flag.String("dir", "", "results folder")
	maxRate := flag.String("max-rate", "", "only print the highest median accepted clicks/s of this server's \"max\" runs, rounded down to 1,000 (for bench/run-scaleout.sh)")
	flag.Parse()
	if *dir == "" {
		log.Fatal("report: -dir is required")
	}
	if *maxRate != "" {
		best := bestAccepted(readLoads(filepath.Join(*dir, "load.jsonl")), *maxRate)
		if best < 1000 {
			os.Exit(1)
		}
		fmt.Println(int(best) / 1000 * 1000)
		return
	}
	var out strings.Builder
	if b, err := os.ReadFile(filepath.Join(*dir, "machine.txt")); err == nil {
		fmt.Fprintf(&out, "## Machine\n\n```\n%s```\n\n", b)
	}
	bench := goBench(&out, *dir)
	loads := readLoads(filepath.Join(*dir, "load.jsonl"))
	loadTables(&out, loads)
	ratios(&out, loads)
	snapshotRatios(&out, loads)
	scaleout(&out, loads, bench)
	if svg := chart(loads); svg != "" {
		os.WriteFile(filepath.Join(*dir, "chart.svg"), []byte(svg), 0o644)
	}
	if svg := scaleoutChart(loads, bench); svg != "" {
		os.WriteFile(filepath.Join(*dir, "scaleout.svg"), []byte(svg), 0o644)
	}
	os.WriteFile(filepath.Join(*dir, "summary.md"), []byte(out.String()), 0o644)
	fmt.Print(out.String())
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(.*)$`)

// benchAgg is one benchmark's samples over the runs: ns/op, B/op, allocs/op, MB/s,
// and any other unit bench/redis prints (clicks/s, p50-µs, p99-µs).
type benchAgg struct {
	ns, bop, allocs, mbs []float64
	other                map[string][]float64
	units                []string // of other, in the order first seen
}

// goBench reads every *.bench.txt file: go test -bench output and bench/redis lines.
// It returns the samples by benchmark name.
func goBench(out io.Writer, dir string) map[string]*benchAgg {
	files, _ := filepath.Glob(filepath.Join(dir, "*.bench.txt"))
	if len(files) == 0 {
		return nil
	}
	type agg = benchAgg
	res := map[string]*agg{}
	var order []string
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			m := benchLine.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			a := res[m[1]]
			if a == nil {
				a = &agg{other: map[string][]float64{}}
				res[m[1]] = a
				order = append(order, m[1])
			}
			ns, _ := strconv.ParseFloat(m[2], 64)
			a.ns = append(a.ns, ns)
			f := strings.Fields(m[3])
			for i := 0; i+1 < len(f); i++ {
				v, err := strconv.ParseFloat(f[i], 64)
				if err != nil {
					continue
				}
				switch f[i+1] {
				case "B/op":
					a.bop = append(a.bop, v)
				case "allocs/op":
					a.allocs = append(a.allocs, v)
				case "MB/s":
					a.mbs = append(a.mbs, v)
				default:
					u := f[i+1]
					if _, seen := a.other[u]; !seen {
						a.units = append(a.units, u)
					}
					a.other[u] = append(a.other[u], v)
				}
				i++
			}
		}
		fh.Close()
	}
	fmt.Fprintf(out, "## Go benchmarks (median of %s)\n\n| benchmark | runs | ns/op | time | B/op | allocs/op | other |\n|---|---|---|---|---|---|---|\n", "the runs")
	for _, name := range order {
		a := res[name]
		ns := median(a.ns)
		var other []string
		for _, u := range a.units {
			other = append(other, fmt.Sprintf("%.1f %s", median(a.other[u]), u))
		}
		fmt.Fprintf(out, "| %s | %d | %.1f | %s | %.0f | %.0f | %s |\n", name, len(a.ns), ns, human(ns), median(a.bop), median(a.allocs), strings.Join(other, ", "))
	}
	if r, e := res["BenchmarkRedisLeaderboardWorkload"], res["BenchmarkLeaderboardWorkload"]; r != nil && e != nil {
		fmt.Fprintf(out, "\nRedis sorted set vs in-process engine, same workload, per click: %.0f ns vs %.0f ns = **%.0fx** (medians)\n",
			median(r.ns), median(e.ns), median(r.ns)/median(e.ns))
	}
	fmt.Fprintln(out)
	return res
}

func human(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

func readLoads(path string) []*load {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []*load
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var l load
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		p := strings.Split(l.Label, "|")
		for len(p) < 5 {
			p = append(p, "")
		}
		l.exp, l.server, l.clients, l.rate, l.rep = p[0], p[1], p[2], p[3], p[4]
		out = append(out, &l)
	}
	return out
}

type group struct {
	key  string
	runs []*load
}

func groups(loads []*load) []group {
	m := map[string]*group{}
	var keys []string
	for _, l := range loads {
		k := l.exp + "|" + l.server + "|" + l.clients + "|" + l.rate
		if m[k] == nil {
			m[k] = &group{key: k}
			keys = append(keys, k)
		}
		m[k].runs = append(m[k].runs, l)
	}
	var out []group
	for _, k := range keys {
		out = append(out, *m[k])
	}
	return out
}

func med(runs []*load, f func(*load) float64) float64 {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	return median(v)
}

func loadTables(out io.Writer, loads []*load) {
	if len(loads) == 0 {
		return
	}
	fmt.Fprintf(out, "## Load runs (median of the repetitions)\n\n")
	fmt.Fprintf(out, "| experiment | server | clients | clicks/s target | runs | accepted/s | ack p50 / p99 / max ms | lag p50 / p99 / max ms | all-clients lag p99 ms | frames/client/s | bytes/client/s | updates missed | converged | errors | server CPU cores | RSS/conn KB |\n")
	fmt.Fprintf(out, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, g := range groups(loads) {
		r := g.runs
		l0 := r[0]
		conv := "-"
		checked := med(r, func(l *load) float64 { return float64(l.Checked) })
		if checked > 0 {
			conv = fmt.Sprintf("%.0f/%.0f", checked-med(r, func(l *load) float64 { return float64(l.Diverged) }), checked)
		}
		errs := med(r, func(l *load) float64 {
			return float64(l.ConnErr + l.ReadErr + l.WriteErr + l.ErrFrames)
		})
		fmt.Fprintf(out, "| %s | %s | %.0f | %s | %d | %.0f | %.2f / %.1f / %.0f | %.1f / %.1f / %.0f | %.1f | %.2f | %.0f | %.0f | %s | %.0f | %.2f | %.1f |\n",
			l0.exp, l0.server, med(r, func(l *load) float64 { return float64(l.Connected) }), l0.rate, len(r),
			med(r, func(l *load) float64 { return l.D.Accepted }),
			med(r, func(l *load) float64 { return l.D.Ack.P50ms }), med(r, func(l *load) float64 { return l.D.Ack.P99ms }), med(r, func(l *load) float64 { return l.D.Ack.Maxms }),
			med(r, func(l *load) float64 { return l.D.Lag.P50ms }), med(r, func(l *load) float64 { return l.D.Lag.P99ms }), med(r, func(l *load) float64 { return l.D.Lag.Maxms }),
			med(r, func(l *load) float64 { return l.D.LagAll.P99ms }),
			med(r, func(l *load) float64 { return l.D.FramesCS }), med(r, func(l *load) float64 { return l.D.BytesCS }),
			med(r, func(l *load) float64 { return float64(l.Missed) }), conv, errs,
			med(r, func(l *load) float64 { return l.ServerCPU }), med(r, func(l *load) float64 { return l.D.RSSConn }))
	}
	fmt.Fprintln(out)
}

// ratios compares servers within one repetition of one experiment point (same run),
// then takes the median of those ratios.
func ratios(out io.Writer, loads []*load) {
	type pt struct{ exp, clients, rate string }
	byRep := map[pt]map[string]map[string]*load{} // point -> rep -> server -> run
	var pts []pt
	for _, l := range loads {
		p := pt{l.exp, l.clients, l.rate}
		if byRep[p] == nil {
			byRep[p] = map[string]map[string]*load{}
			pts = append(pts, p)
		}
		if byRep[p][l.rep] == nil {
			byRep[p][l.rep] = map[string]*load{}
		}
		byRep[p][l.rep][l.server] = l
	}
	var lines []string
	for _, p := range pts {
		var thr, lag50, lag99, cpu []float64
		for _, s := range byRep[p] {
			g, b := s["game"], s["bare"]
			if g == nil || b == nil || b.D.Accepted == 0 || b.D.Lag.P99ms == 0 {
				continue
			}
			thr = append(thr, g.D.Accepted/b.D.Accepted)
			lag50 = append(lag50, g.D.Lag.P50ms/b.D.Lag.P50ms)
			lag99 = append(lag99, g.D.Lag.P99ms/b.D.Lag.P99ms)
			if b.ServerCPU > 0 {
				cpu = append(cpu, g.ServerCPU/b.ServerCPU)
			}
		}
		if len(thr) == 0 {
			continue
		}
		lines = append(lines, fmt.Sprintf("| %s | %s | %s | %d | %.2f | %.2f | %.2f | %.2f |", p.exp, p.clients, p.rate, len(thr), median(thr), median(lag50), median(lag99), median(cpu)))
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(out, "## Game vs bare transport, same repetition (median of per-repetition ratios)\n\n")
	fmt.Fprintf(out, "| experiment | clients | clicks/s | pairs | accepted game/bare | lag p50 game/bare | lag p99 game/bare | server CPU game/bare |\n|---|---|---|---|---|---|---|---|\n")
	for _, l := range lines {
		fmt.Fprintln(out, l)
	}
	fmt.Fprintln(out)
}

// snapshotRatios compares, within each repetition, the click acknowledgements of the
// game writing its snapshot every second ("snapshot-1s" runs) with the same game never
// writing during the window ("snapshot-1h"), then takes the median of those ratios.
func snapshotRatios(out io.Writer, loads []*load) {
	byRep := map[string]map[string]*load{} // rep -> interval -> run
	var reps []string
	for _, l := range loads {
		if l.exp != "snapshot-1h" && l.exp != "snapshot-1s" {
			continue
		}
		if byRep[l.rep] == nil {
			byRep[l.rep] = map[string]*load{}
			reps = append(reps, l.rep)
		}
		byRep[l.rep][l.exp] = l
	}
	var p50, p99, cpu []float64
	var lines []string
	for _, rep := range reps {
		off, on := byRep[rep]["snapshot-1h"], byRep[rep]["snapshot-1s"]
		if off == nil || on == nil || off.D.Ack.P99ms == 0 || off.D.Ack.P50ms == 0 {
			continue
		}
		p50 = append(p50, on.D.Ack.P50ms/off.D.Ack.P50ms)
		p99 = append(p99, on.D.Ack.P99ms/off.D.Ack.P99ms)
		if off.ServerCPU > 0 {
			cpu = append(cpu, on.ServerCPU/off.ServerCPU)
		}
		lines = append(lines, fmt.Sprintf("| %s | %.2f / %.1f | %.2f / %.1f | %.2f | %.2f / %.2f |", rep,
			off.D.Ack.P50ms, off.D.Ack.P99ms, on.D.Ack.P50ms, on.D.Ack.P99ms,
			on.D.Ack.P99ms/off.D.Ack.P99ms, off.ServerCPU, on.ServerCPU))
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(out, "## Clicks during snapshots: every 1s vs 1h, same repetition\n\n")
	fmt.Fprintf(out, "| rep | ack p50 / p99 ms, 1h | ack p50 / p99 ms, 1s | p99 1s/1h | server CPU 1h / 1s |\n|---|---|---|---|---|\n")
	for _, l := range lines {
		fmt.Fprintln(out, l)
	}
	fmt.Fprintf(out, "\nMedian of %d ratios 1s/1h: ack p50 %.2f, ack p99 **%.2f**, server CPU %.2f\n\n", len(p99), median(p50), median(p99), median(cpu))
}

// chart draws two panels from the sweep runs: delivery lag p50/p99 and server CPU,
// against connected clients, one line per server.
func chart(loads []*load) string {
	type point struct{ x, p50, p99, cpu float64 }
	series := map[string][]point{}
	for _, g := range groups(loads) {
		l0 := g.runs[0]
		if l0.exp != "sweep" {
			continue
		}
		x, _ := strconv.ParseFloat(l0.clients, 64)
		series[l0.server] = append(series[l0.server], point{
			x,
			med(g.runs, func(l *load) float64 { return l.D.Lag.P50ms }),
			med(g.runs, func(l *load) float64 { return l.D.Lag.P99ms }),
			med(g.runs, func(l *load) float64 { return l.ServerCPU }),
		})
	}
	if len(series) == 0 {
		return ""
	}
	var names []string
	maxX, maxLag, maxCPU := 0.0, 0.0, 2.0
	for n, s := range series {
		names = append(names, n)
		sort.Slice(s, func(i, j int) bool { return s[i].x < s[j].x })
		for _, p := range s {
			maxX = max(maxX, p.x)
			maxLag = max(maxLag, p.p99)
			maxCPU = max(maxCPU, p.cpu)
		}
	}
	sort.Strings(names)
	maxLag = niceCeil(maxLag)
	const W, H, left, right, top, panelH, gap = 900, 740, 80, 170, 50, 260, 90
	colors := map[string]string{"game": "#d62728", "bare": "#1f77b4", "naive": "#2ca02c"}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="DejaVu Sans, sans-serif" font-size="13">`+"\n", W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	fmt.Fprintf(&b, `<text x="%d" y="28" font-size="17" font-weight="bold">Click the Button: leaderboard delivery lag and server CPU vs connected clients</text>`+"\n", left)
	pw := float64(W - left - right)
	sx := func(x float64) float64 { return left + x/maxX*pw }
	panel := func(y0 float64, title string, ymax float64, unit string, val func(point) float64, dashed func(point) float64) {
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" font-size="14">%s</text>`+"\n", left, y0-10, title)
		for i := 0; i <= 4; i++ {
			v := ymax * float64(i) / 4
			y := y0 + panelH - float64(i)/4*panelH
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, y, left+pw, y)
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-8, y+4, trim(v)+unit)
		}
		for i := 0; i <= 5; i++ {
			v := maxX * float64(i) / 5
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", sx(v), y0+panelH+18, trim(v))
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">connected clients</text>`+"\n", left+pw/2, y0+panelH+36)
		fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%.1f" height="%d" fill="none" stroke="#333"/>`+"\n", left, y0, pw, panelH)
		ly := y0 + 10
		for _, n := range names {
			c := colors[n]
			if c == "" {
				c = "#555"
			}
			draw := func(f func(point) float64, dash string, label string) {
				var pts []string
				for _, p := range series[n] {
					y := y0 + panelH - min(f(p)/ymax, 1)*panelH
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", sx(p.x), y))
					fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`+"\n", sx(p.x), y, c)
				}
				fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2" %s/>`+"\n", strings.Join(pts, " "), c, dash)
				fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2" %s/><text x="%.1f" y="%.1f">%s</text>`+"\n",
					left+pw+12, ly, left+pw+36, ly, c, dash, left+pw+42, ly+4, label)
				ly += 20
			}
			draw(val, "", n+" "+map[bool]string{true: "p99", false: ""}[dashed != nil])
			if dashed != nil {
				draw(dashed, `stroke-dasharray="6,4"`, n+" p50")
			}
		}
	}
	panel(top+30, "Delivery lag, click to client (ms, median of runs)", maxLag, "", func(p point) float64 { return p.p99 }, func(p point) float64 { return p.p50 })
	panel(top+30+panelH+gap, "Server CPU (cores of 2)", niceCeil(maxCPU), "", func(p point) float64 { return p.cpu }, nil)
	b.WriteString("</svg>\n")
	return b.String()
}

func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	for _, s := range []float64{1, 2, 2.5, 5} {
		for e := 0.01; e < 1e7; e *= 10 {
			if s*e >= v && (s*e)/v < 2.6 {
				return s * e
			}
		}
	}
	return v
}

func trim(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}
