package main

// The sections of bench/run-scaleout.sh's results: labels "exp|server|clients|rate|rep"
// with the experiments one-node (memory vs redis), max (the offered rate stepped up),
// three-nodes, cluster (redis-1 vs cluster-3) and aof (none, everysec, always).

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// nodeLoad is the part of a node's result (cmd/loadgen nodeResult) the report uses.
type nodeLoad struct {
	URL       string `json:"url"`
	Clients   int    `json:"clients"`
	Connected int    `json:"connected"`
	Checked   int    `json:"verify_checked"`
	Diverged  int    `json:"verify_diverged"`
	Server    *proc  `json:"server"`
	D         struct {
		Accepted float64 `json:"accepted_per_s"`
		Ack      summary `json:"ack"`
		Lag      summary `json:"lag"`
		RSSConn  float64 `json:"server_rss_per_conn_kb"`
	} `json:"derived"`
}

// proc is a measured process (cmd/loadgen procStats).
type proc struct {
	Name        string  `json:"name"`
	PID         int     `json:"pid"`
	CPU         float64 `json:"cpu_cores"`
	RSSBeforeKB int64   `json:"rss_before_kb"`
	RSSKB       int64   `json:"rss_kb"`
}

// redisCPU is the CPU of every watched redis-server of a run, summed.
func (l *load) redisCPU() float64 {
	var c float64
	for _, w := range l.Watched {
		if strings.HasPrefix(w.Name, "redis") {
			c += w.CPU
		}
	}
	return c
}

// isScaleout tells whether a run comes from bench/run-scaleout.sh.
func isScaleout(exp string) bool {
	switch exp {
	case "one-node", "max", "three-nodes", "cluster", "aof", "profile":
		return true
	}
	return false
}

func scaleout(out io.Writer, loads []*load, bench map[string]*benchAgg) {
	var sc []*load
	for _, l := range loads {
		if isScaleout(l.exp) {
			sc = append(sc, l)
		}
	}
	if len(sc) == 0 {
		return
	}
	processes(out, sc)
	pairs(out, sc, "one-node", "redis", "memory", "Redis vs memory, one node")
	pairs(out, sc, "profile", "redis", "memory", "Redis vs memory, the profiled runs")
	maxTable(out, sc, bench)
	nodesTable(out, sc)
	pairs(out, sc, "cluster", "cluster-3", "redis-1", "3-primary Redis Cluster vs one primary, one node")
	pairs(out, sc, "aof", "everysec", "none", "AOF appendfsync everysec vs no AOF")
	pairs(out, sc, "aof", "always", "none", "AOF appendfsync always vs no AOF")
}

// processes lists where the CPU went in each group of runs, and what it cost per click.
func processes(out io.Writer, loads []*load) {
	fmt.Fprintf(out, "## Where the CPU went (median of the repetitions)\n\n")
	fmt.Fprintf(out, "| experiment | server | clients | clicks/s target | runs | accepted/s | node(s) CPU cores | redis-server CPU cores | loadgen CPU cores | node µs CPU per click | Redis µs CPU per click |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, g := range groups(loads) {
		r, l0 := g.runs, g.runs[0]
		acc := med(r, func(l *load) float64 { return l.D.Accepted })
		node := med(r, func(l *load) float64 { return l.ServerCPU })
		rc := med(r, func(l *load) float64 { return l.redisCPU() })
		perClick := func(cores float64) string {
			if acc <= 0 || cores <= 0 {
				return "-"
			}
			return fmt.Sprintf("%.1f", cores/acc*1e6)
		}
		rcs := "-"
		if l0.Watched != nil {
			rcs = fmt.Sprintf("%.2f", rc)
		}
		fmt.Fprintf(out, "| %s | %s | %s | %s | %d | %.0f | %.2f | %s | %.2f | %s | %s |\n", l0.exp, l0.server, l0.clients, l0.rate, len(r), acc,
			node, rcs, med(r, func(l *load) float64 { return l.LoadgenCPU }), perClick(node), perClick(rc))
	}
	fmt.Fprintln(out)
}

// pairs compares server a with server b at each point of experiment exp, within each
// repetition, and gives every repetition's ratios and their median.
func pairs(out io.Writer, loads []*load, exp, a, b, title string) {
	type key struct{ clients, rate string }
	type pair struct{ a, b *load }
	byRep := map[key]map[string]*pair{}
	var keys []key
	for _, l := range loads {
		if l.exp != exp || (l.server != a && l.server != b) {
			continue
		}
		k := key{l.clients, l.rate}
		if byRep[k] == nil {
			byRep[k] = map[string]*pair{}
			keys = append(keys, k)
		}
		p := byRep[k][l.rep]
		if p == nil {
			p = &pair{}
			byRep[k][l.rep] = p
		}
		if l.server == a {
			p.a = l
		} else {
			p.b = l
		}
	}
	var lines []string
	for _, k := range keys {
		var reps []string
		for rep := range byRep[k] {
			reps = append(reps, rep)
		}
		sort.Strings(reps)
		var acc, a50, a99, l99 []float64
		for _, rep := range reps {
			p := byRep[k][rep]
			if p.a == nil || p.b == nil || p.b.D.Accepted == 0 || p.b.D.Ack.P99ms == 0 {
				continue
			}
			r := []float64{p.a.D.Accepted / p.b.D.Accepted, p.a.D.Ack.P50ms / p.b.D.Ack.P50ms, p.a.D.Ack.P99ms / p.b.D.Ack.P99ms, ratio(p.a.D.Lag.P99ms, p.b.D.Lag.P99ms)}
			acc, a50, a99, l99 = append(acc, r[0]), append(a50, r[1]), append(a99, r[2]), append(l99, r[3])
			lines = append(lines, fmt.Sprintf("| %s | %s | %s | %.0f / %.0f = %.3f | %.2f / %.2f = %.2f | %.1f / %.1f = %.2f | %.0f / %.0f = %.2f |",
				k.clients, k.rate, rep, p.a.D.Accepted, p.b.D.Accepted, r[0], p.a.D.Ack.P50ms, p.b.D.Ack.P50ms, r[1],
				p.a.D.Ack.P99ms, p.b.D.Ack.P99ms, r[2], p.a.D.Lag.P99ms, p.b.D.Lag.P99ms, r[3]))
		}
		if len(acc) > 0 {
			lines = append(lines, fmt.Sprintf("| %s | %s | **median of %d** | **%.3f** | **%.2f** | **%.2f** | **%.2f** |", k.clients, k.rate, len(acc), median(acc), median(a50), median(a99), median(l99)))
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(out, "## %s (%s/%s within each repetition)\n\n", title, a, b)
	fmt.Fprintf(out, "| clients | clicks/s | repetition | accepted/s %s / %s | ack p50 ms | ack p99 ms | lag p99 ms |\n|---|---|---|---|---|---|---|\n", a, b)
	for _, l := range lines {
		fmt.Fprintln(out, l)
	}
	fmt.Fprintln(out)
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// ceilings are the clicks/s of every redis-benchmark ceiling run in the folder.
func ceilings(bench map[string]*benchAgg) (all []float64, names []string) {
	for name, a := range bench {
		if strings.HasPrefix(name, "BenchmarkRedisCeiling") {
			all = append(all, a.other["clicks/s"]...)
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return all, names
}

// bestAccepted is the highest median accepted clicks/s over the offered rates of
// server's "max" runs.
func bestAccepted(loads []*load, server string) float64 {
	best := 0.0
	for _, g := range groups(loads) {
		if l0 := g.runs[0]; l0.exp == "max" && l0.server == server {
			best = max(best, med(g.runs, func(l *load) float64 { return l.D.Accepted }))
		}
	}
	return best
}

// maxTable is part b: accepted clicks/s against the offered rate, per server, and the
// best Redis figure against redis-benchmark's ceiling.
func maxTable(out io.Writer, loads []*load, bench map[string]*benchAgg) {
	var gs []group
	for _, g := range groups(loads) {
		if g.runs[0].exp == "max" {
			gs = append(gs, g)
		}
	}
	if len(gs) == 0 {
		return
	}
	sort.SliceStable(gs, func(i, j int) bool {
		a, b := gs[i].runs[0], gs[j].runs[0]
		if a.server != b.server {
			return a.server < b.server
		}
		x, _ := strconv.ParseFloat(a.rate, 64)
		y, _ := strconv.ParseFloat(b.rate, 64)
		return x < y
	})
	fmt.Fprintf(out, "## One node's most clicks/s (offered rate stepped up; median of the repetitions that reached each step)\n\n")
	fmt.Fprintf(out, "| server | players | offered/s | runs | accepted/s (each run) | ack p50 / p99 ms | node CPU | redis-server CPU | loadgen CPU |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, g := range gs {
		r, l0 := g.runs, g.runs[0]
		var each []string
		for _, l := range r {
			each = append(each, fmt.Sprintf("%.0f", l.D.Accepted))
		}
		rc := "-"
		if l0.Watched != nil {
			rc = fmt.Sprintf("%.2f", med(r, func(l *load) float64 { return l.redisCPU() }))
		}
		fmt.Fprintf(out, "| %s | %s | %s | %d | %.0f (%s) | %.2f / %.1f | %.2f | %s | %.2f |\n", l0.server, l0.clients, l0.rate, len(r),
			med(r, func(l *load) float64 { return l.D.Accepted }), strings.Join(each, ", "),
			med(r, func(l *load) float64 { return l.D.Ack.P50ms }), med(r, func(l *load) float64 { return l.D.Ack.P99ms }),
			med(r, func(l *load) float64 { return l.ServerCPU }), rc,
			med(r, func(l *load) float64 { return l.LoadgenCPU }))
	}
	fmt.Fprintln(out)
	c, names := ceilings(bench)
	redis, memory := bestAccepted(loads, "redis"), bestAccepted(loads, "memory")
	fmt.Fprintf(out, "Best median accepted clicks/s: redis %.0f, memory %.0f.", redis, memory)
	if len(c) > 0 {
		fmt.Fprintf(out, " redis-benchmark ceiling on the same redis-server (%s, %d runs): median %.0f clicks/s (runs: %s). Node / ceiling = **%.2f**.",
			strings.Join(names, ", "), len(c), median(c), joinF(c), redis/median(c))
	}
	fmt.Fprintf(out, "\n\n")
}

func joinF(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.0f", x)
	}
	return strings.Join(s, ", ")
}

// nodesTable is part c: every run of several nodes, node by node.
func nodesTable(out io.Writer, loads []*load) {
	var rows []string
	for _, l := range loads {
		if len(l.Nodes) == 0 {
			continue
		}
		for j, n := range l.Nodes {
			cpu, rss := "-", "-"
			if n.Server != nil {
				cpu = fmt.Sprintf("%.2f", n.Server.CPU)
				rss = fmt.Sprintf("%.0f", float64(n.Server.RSSKB)/1024)
			}
			rows = append(rows, fmt.Sprintf("| %s | %s | %d %s | %d/%d | %.0f | %.1f | %.0f | %s | %.1f | %s | %d/%d |",
				l.exp, l.rep, j+1, n.URL, n.Connected, n.Clients, n.D.Accepted, n.D.Ack.P99ms, n.D.Lag.P99ms, rss, n.D.RSSConn, cpu, n.Checked-n.Diverged, n.Checked))
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | **all** | %d/%d | %.0f | %.1f | %.0f | %.0f | %.1f | %.2f (redis %.2f, loadgen %.2f) | %d/%d |",
			l.exp, l.rep, l.Connected, l.Clients, l.D.Accepted, l.D.Ack.P99ms, l.D.Lag.P99ms, float64(l.RSSKB)/1024, l.D.RSSConn, l.ServerCPU, l.redisCPU(), l.LoadgenCPU,
			l.Checked-l.Diverged, l.Checked))
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(out, "## Several nodes, node by node (each repetition)\n\n")
	fmt.Fprintf(out, "| experiment | repetition | node | connected | accepted/s | ack p99 ms | lag p99 ms | RSS MB | RSS/conn KB | CPU cores | board equal to this node's (all: to every node's) |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintln(out, r)
	}
	fmt.Fprintln(out)
}

// scaleoutChart draws part b (accepted against offered clicks/s, memory and Redis,
// with redis-benchmark's ceiling and half of it) above part a (ack p50 and p99,
// memory and Redis, each repetition and the median).
func scaleoutChart(loads []*load, bench map[string]*benchAgg) string {
	type pt struct{ x, y float64 }
	steps := map[string][]pt{}
	players := ""
	for _, g := range groups(loads) {
		if l0 := g.runs[0]; l0.exp == "max" {
			players = l0.clients
			x, _ := strconv.ParseFloat(l0.rate, 64)
			steps[l0.server] = append(steps[l0.server], pt{x, med(g.runs, func(l *load) float64 { return l.D.Accepted })})
		}
	}
	var one []*load
	for _, l := range loads {
		if l.exp == "one-node" {
			one = append(one, l)
		}
	}
	if len(steps) == 0 && len(one) == 0 {
		return ""
	}
	const W, left, right, top, panelH, gap = 900, 90, 190, 60, 260, 100
	H := top + 2*panelH + gap + 70
	colors := map[string]string{"memory": "#1f77b4", "redis": "#d62728"}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="DejaVu Sans, sans-serif" font-size="13">`+"\n", W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	fmt.Fprintf(&b, `<text x="%d" y="28" font-size="17" font-weight="bold">Click the Button: one node on Redis vs in memory (2 vCPU, one machine)</text>`+"\n", left)
	pw := float64(W - left - right)
	axes := func(y0, ymax float64, unit string) {
		for i := 0; i <= 4; i++ {
			v := ymax * float64(i) / 4
			y := y0 + panelH - float64(i)/4*panelH
			fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, y, left+pw, y)
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s%s</text>`+"\n", left-8, y+4, trim(v), unit)
		}
		fmt.Fprintf(&b, `<rect x="%d" y="%.1f" width="%.1f" height="%d" fill="none" stroke="#333"/>`+"\n", left, y0, pw, panelH)
	}
	legend := func(x, y float64, color, dash, label string) {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2" %s/><text x="%.1f" y="%.1f">%s</text>`+"\n", x, y, x+24, y, color, dash, x+30, y+4, label)
	}
	// Panel 1: part b.
	y0 := float64(top + 20)
	if len(steps) > 0 {
		c, _ := ceilings(bench)
		ceil := median(c)
		maxX, maxY := 0.0, ceil
		var names []string
		for n, s := range steps {
			names = append(names, n)
			sort.Slice(s, func(i, j int) bool { return s[i].x < s[j].x })
			for _, p := range s {
				maxX, maxY = max(maxX, p.x), max(maxY, p.x, p.y)
			}
		}
		sort.Strings(names)
		maxY = niceCeil(maxY)
		sx := func(x float64) float64 { return left + x/maxX*pw }
		sy := func(y float64) float64 { return y0 + panelH - min(y/maxY, 1)*panelH }
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" font-size="14">Accepted vs offered clicks/s, one node, %s players (median of runs)</text>`+"\n", left, y0-10, players)
		axes(y0, maxY, "")
		for i := 0; i <= 5; i++ {
			v := maxX * float64(i) / 5
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", sx(v), y0+panelH+18, trim(v))
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">offered clicks/s</text>`+"\n", left+pw/2, y0+panelH+36)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#aaa" stroke-dasharray="2,3"/>`+"\n", sx(0), sy(0), sx(maxX), sy(maxX))
		ly := y0 + 10
		for _, n := range names {
			col := colors[n]
			if col == "" {
				col = "#555"
			}
			var ps []string
			for _, p := range steps[n] {
				ps = append(ps, fmt.Sprintf("%.1f,%.1f", sx(p.x), sy(p.y)))
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`+"\n", sx(p.x), sy(p.y), col)
			}
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(ps, " "), col)
			legend(left+pw+12, ly, col, "", n+" node")
			ly += 20
		}
		if ceil > 0 {
			for _, f := range []struct {
				k           float64
				dash, label string
			}{{1, `stroke-dasharray="6,4"`, "redis-benchmark"}, {0.5, `stroke-dasharray="2,3"`, "0.5 x that (target)"}} {
				fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#2ca02c" stroke-width="2" %s/>`+"\n", left, sy(ceil*f.k), left+pw, sy(ceil*f.k), f.dash)
				legend(left+pw+12, ly, "#2ca02c", f.dash, f.label)
				ly += 20
			}
		}
	}
	// Panel 2: part a, bars of ack p50 and p99 per repetition.
	y0 = float64(top+20) + panelH + gap
	if len(one) > 0 {
		sort.SliceStable(one, func(i, j int) bool {
			if one[i].rep != one[j].rep {
				return one[i].rep < one[j].rep
			}
			return one[i].server < one[j].server
		})
		maxY := 0.0
		for _, l := range one {
			maxY = max(maxY, l.D.Ack.P99ms)
		}
		maxY = niceCeil(maxY)
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" font-size="14">Click to acknowledgement, one node, %s players at %s clicks/s: p50 (solid) and p99 (light), ms</text>`+"\n", left, y0-10, one[0].clients, one[0].rate)
		axes(y0, maxY, "")
		slot := pw / float64(len(one))
		bw := slot * 0.35
		for i, l := range one {
			col := colors[l.server]
			x := left + float64(i)*slot + slot*0.15
			h99 := min(l.D.Ack.P99ms/maxY, 1) * panelH
			h50 := min(l.D.Ack.P50ms/maxY, 1) * panelH
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="0.35"/>`+"\n", x, y0+panelH-h99, 2*bw, h99, col)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x+bw/2, y0+panelH-h50, bw, h50, col)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="11">%.1f</text>`+"\n", x+bw, y0+panelH-h99-4, l.D.Ack.P99ms)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s #%s</text>`+"\n", x+bw, y0+panelH+18, l.server, l.rep)
		}
		legend(left+pw+12, y0+10, colors["memory"], "", "memory")
		legend(left+pw+12, y0+30, colors["redis"], "", "redis")
	}
	b.WriteString("</svg>\n")
	return b.String()
}
