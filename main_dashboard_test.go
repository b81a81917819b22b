package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The shipped Grafana dashboard and Prometheus alert rules name only metrics this
// program exports: the names are read from the real /metrics of a running server.

// prometheusOwn are series Prometheus makes itself for every target.
func prometheusOwn() []string { return []string{"up"} }

// exportedMetrics returns every series name on the /metrics of a server started by
// this very program (histograms as their _bucket, _sum and _count).
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	addr, stop := startRun(t, t.TempDir())
	defer stop()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	names := make(map[string]bool)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		names[name] = true
	}
	if !names["ctb_clicks_total"] || !names["go_goroutines"] {
		t.Fatalf("/metrics lacks the basics; got %d names", len(names))
	}
	for _, n := range prometheusOwn() {
		names[n] = true
	}
	return names
}

// promqlKeywords are the words of PromQL that are neither metrics nor functions, and
// the aggregations, which may stand before their "by (...)" instead of a parenthesis.
func promqlKeywords() []string {
	return []string{"and", "or", "unless", "bool", "offset", "inf", "nan", "start", "end",
		"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
		"quantile", "limitk", "limit_ratio"}
}

// promqlGrouping are the keywords followed by a list of label names.
func promqlGrouping() []string {
	return []string{"by", "without", "on", "ignoring", "group_left", "group_right"}
}

// metricNames returns the metric names an expression selects. It knows PromQL's shape
// well enough for that: strings, label matchers, ranges, grouping lists and Grafana
// variables are skipped; a word followed by "(" is a function or an aggregation.
func metricNames(expr string) []string {
	var names []string
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(expr) && expr[j] != c {
				if expr[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			i = j + 1
		case c == '{' || c == '[':
			closer := map[byte]byte{'{': '}', '[': ']'}[c]
			j := strings.IndexByte(expr[i:], closer)
			if j < 0 {
				return append(names, "<unclosed "+string(c)+">")
			}
			i += j + 1
		case c == '$':
			j := i + 1
			for j < len(expr) && isWordByte(expr[j]) {
				j++
			}
			i = j
		case c >= '0' && c <= '9' || c == '.':
			j := i + 1
			for j < len(expr) && (isWordByte(expr[j]) || expr[j] == '.') {
				j++
			}
			i = j
		case isWordByte(c):
			j := i + 1
			for j < len(expr) && isWordByte(expr[j]) {
				j++
			}
			word := expr[i:j]
			i = j
			k := j
			for k < len(expr) && expr[k] == ' ' {
				k++
			}
			call := k < len(expr) && expr[k] == '('
			switch {
			case slices.Contains(promqlGrouping(), word):
				if call { // label names up to the closing parenthesis
					j := strings.IndexByte(expr[k:], ')')
					if j < 0 {
						return append(names, "<unclosed (>")
					}
					i = k + j + 1
				}
			case call, slices.Contains(promqlKeywords(), word):
				// A function, an aggregation or an operator.
			default:
				names = append(names, word)
			}
		default:
			i++
		}
	}
	return names
}

func isWordByte(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func TestMetricNames(t *testing.T) {
	cases := []struct {
		expr string
		want []string
	}{
		{`ctb_players`, []string{"ctb_players"}},
		{`max by (job) (rate(ctb_clicks_total{job=~"$job"}[$__rate_interval]))`, []string{"ctb_clicks_total"}},
		{`histogram_quantile(0.99, sum by (instance, le) (rate(ctb_tick_bucket{a="b,c)"}[5m])))`, []string{"ctb_tick_bucket"}},
		{`min by (job) (a_seconds) > 3 * max by (job) (b_seconds)`, []string{"a_seconds", "b_seconds"}},
		{`x / on (instance) group_left (version) y`, []string{"x", "y"}},
		{`time() - max(z > 0) offset 5m`, []string{"z"}},
		{`sum without (le) (rate(q[1h:5m])) and bool 1e3`, []string{"q"}},
		{`{__name__="hidden"}`, nil},
		{`up{job="clickthebutton"} == 0`, []string{"up"}},
		{`rate(missing_metric [5m])`, []string{"missing_metric"}},
	}
	for _, c := range cases {
		if got := metricNames(c.expr); !slices.Equal(got, c.want) {
			t.Errorf("metricNames(%q) = %q, want %q", c.expr, got, c.want)
		}
	}
}

type grafanaTarget struct {
	Expr string `json:"expr"`
}

type grafanaPanel struct {
	Title   string          `json:"title"`
	Targets []grafanaTarget `json:"targets"`
	Panels  []grafanaPanel  `json:"panels"` // inside rows
}

type grafanaDashboard struct {
	Title      string         `json:"title"`
	UID        string         `json:"uid"`
	Panels     []grafanaPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// dashboardExprs returns every PromQL expression of the dashboard, by panel title.
func dashboardExprs(t *testing.T, path string) map[string][]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("%s: no title, uid or panels", path)
	}
	out := make(map[string][]string)
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("%s: panel %q has a target without an expression", path, p.Title)
				}
				out[p.Title] = append(out[p.Title], tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	// label_values(metric, label) of the variables names a metric too.
	labelValues := regexp.MustCompile(`label_values\(\s*([^,)]+)\s*,`)
	for _, v := range d.Templating.List {
		var q struct {
			Query string `json:"query"`
		}
		var s string
		if json.Unmarshal(v.Query, &q) != nil {
			json.Unmarshal(v.Query, &s)
			q.Query = s
		}
		if m := labelValues.FindStringSubmatch(q.Query); m != nil {
			out["variable "+v.Name] = append(out["variable "+v.Name], m[1])
		}
	}
	return out
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func alertExprs(t *testing.T, path string) map[string][]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := make(map[string][]string)
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || strings.TrimSpace(r.Expr) == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s: rule %+v lacks a name, an expression, a severity or a summary", path, r)
			}
			if _, err := time.ParseDuration(r.For); r.For != "" && err != nil {
				t.Errorf("%s: rule %s: for %q: %v", path, r.Alert, r.For, err)
			}
			out[r.Alert] = append(out[r.Alert], r.Expr)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no rules", path)
	}
	return out
}

// TestDashboardAndAlertsNameExportedMetrics: every metric the shipped files select is
// on a real server's /metrics, and they cover what a self-hoster watches.
func TestDashboardAndAlertsNameExportedMetrics(t *testing.T) {
	exported := exportedMetrics(t)
	files := map[string]map[string][]string{
		"packaging/grafana-dashboard.json": dashboardExprs(t, "packaging/grafana-dashboard.json"),
		"packaging/prometheus-alerts.yml":  alertExprs(t, "packaging/prometheus-alerts.yml"),
	}
	used := map[string]map[string]bool{}
	for file, exprs := range files {
		used[file] = map[string]bool{}
		for where, list := range exprs {
			for _, e := range list {
				names := metricNames(e)
				if len(names) == 0 {
					t.Errorf("%s, %s: %q selects no metric", file, where, e)
				}
				for _, n := range names {
					used[file][n] = true
					if !exported[n] {
						t.Errorf("%s, %s: %q names %s, which the server does not export", file, where, e, n)
					}
				}
			}
		}
	}
	want := map[string][]string{
		"packaging/grafana-dashboard.json": {"ctb_players_online", "ctb_clicks_total", "ctb_clicks_refused_total",
			"ctb_ws_frames_refused_total", "ctb_leaderboard_tick_duration_seconds_bucket", "ctb_ws_frames_dropped_total",
			"ctb_snapshot_age_seconds", "ctb_snapshot_duration_seconds_bucket", "ctb_backend_errors_total", "ctb_ready"},
		"packaging/prometheus-alerts.yml": {"ctb_snapshot_age_seconds", "ctb_snapshot_interval_seconds", "ctb_ready",
			"ctb_ws_frames_dropped_total"},
	}
	for file, names := range want {
		for _, n := range names {
			if !used[file][n] {
				t.Errorf("%s does not show %s", file, n)
			}
		}
	}
}
