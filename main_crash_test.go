//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/clickthebutton/clickthebutton/internal/testutil"
	"github.com/google/uuid"
	"github.com/gorilla/websocket"
)

// The crash tests run the real program in child processes: the test binary itself,
// which TestMain turns into the program when envChild is set. Nothing is built
// separately and the child runs with the same -race instrumentation as the tests.
const (
	envChild     = "CTB_TEST_MAIN"      // "1": this process is the program, not the tests
	envChildArgs = "CTB_TEST_MAIN_ARGS" // its command line, as a JSON array
	envRounds    = "CTB_CRASH_ROUNDS"   // kill -9 rounds for TestKill9KeepsAcknowledgedClicks
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		var args []string
		if err := json.Unmarshal([]byte(os.Getenv(envChildArgs)), &args); err != nil {
			fmt.Fprintln(os.Stderr, "bad", envChildArgs, err)
			os.Exit(2)
		}
		os.Args = append([]string{"clickthebutton"}, args...)
		main() // exits
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is the program running in another process.
type child struct {
	cmd  *exec.Cmd
	addr string
	log  *testutil.SyncBuffer
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's answer, once done
}

func crashAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startChild starts the program on dir with a fresh loopback port. It is killed when
// the test ends, whatever happens.
func startChild(t *testing.T, dir string, extra ...string) *child {
	t.Helper()
	return startChildAt(t, crashAddr(t), dir, extra...)
}

// startChildAt is startChild on addr: a node coming back where one died.
func startChildAt(t *testing.T, addr, dir string, extra ...string) *child {
	t.Helper()
	return startChildEnv(t, addr, dir, nil, extra...)
}

// startChildEnv is startChildAt with CTB_* variables (secrets, say) in env.
func startChildEnv(t *testing.T, addr, dir string, env []string, extra ...string) *child {
	t.Helper()
	c := &child{addr: addr, log: &testutil.SyncBuffer{}, done: make(chan struct{})}
	args, _ := json.Marshal(append([]string{"--addr", c.addr, "--data", dir}, extra...))
	c.cmd = exec.Command(os.Args[0])
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CTB_") { // the flags below are all the child gets
			c.cmd.Env = append(c.cmd.Env, kv)
		}
	}
	c.cmd.Env = append(append(c.cmd.Env, env...), envChild+"=1", envChildArgs+"="+string(args))
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.done
	})
	return c
}

// exitCode waits at most d for the child to exit; -1 means killed by a signal.
func (c *child) exitCode(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(d):
		t.Fatalf("program still running after %s; log:\n%s", d, c.log)
	}
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		return ee.ExitCode()
	}
	if c.err != nil {
		t.Fatal(c.err)
	}
	return 0
}

// waitReady waits until GET /healthz answers 200.
func (c *child) waitReady(t *testing.T) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case <-c.done:
			t.Fatalf("program exited before serving (%v); log:\n%s", c.err, c.log)
		default:
		}
		if resp, err := client.Get("http://" + c.addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("program not ready in 30s; log:\n%s", c.log)
}

// ack is a state frame: the player's lifetime total as the server had counted it, and
// when the test received it.
type ack struct {
	at    time.Time
	total int64
}

// crashPlayer is one player, kept across restarts through its cookie.
type crashPlayer struct {
	handle string
	cookie string

	mu    sync.Mutex
	base  int64 // total in the first state frame of this connection
	sent  int64 // click frames attempted on this connection
	acks  []ack
	conn  *websocket.Conn
	ended chan struct{} // the reader and writer goroutines ended
}

func newCrashPlayer(t *testing.T, c *child, handle string) *crashPlayer {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"handle": handle})
	resp, err := http.Post("http://"+c.addr+"/api/session", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	p := &crashPlayer{handle: handle}
	for _, ck := range resp.Cookies() {
		if ck.Name == "ctb_session" {
			p.cookie = ck.Name + "=" + ck.Value
		}
	}
	if resp.StatusCode != http.StatusOK || p.cookie == "" {
		t.Fatalf("POST /api/session: %s, cookie %q", resp.Status, p.cookie)
	}
	return p
}

type stateFrame struct {
	Type  string `json:"type"`
	Total int64  `json:"total"`
}

// play connects, waits for the first state frame, then clicks every period until the
// connection breaks or stop closes.
func (p *crashPlayer) play(t *testing.T, c *child, period time.Duration, stop <-chan struct{}) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.Dial("ws://"+c.addr+"/ws", http.Header{"Cookie": {p.cookie}})
	if err != nil {
		t.Fatalf("%s: dial: %v", p.handle, err)
	}
	p.mu.Lock()
	p.conn, p.sent, p.acks, p.ended = conn, 0, nil, make(chan struct{})
	p.mu.Unlock()
	first := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // reader
		defer wg.Done()
		gotFirst := false
		for {
			conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, msg, err := conn.ReadMessage()
			if err != nil {
				if !gotFirst {
					first <- err
				}
				return
			}
			var f stateFrame
			if json.Unmarshal(msg, &f) != nil || f.Type != "state" {
				continue
			}
			now := time.Now()
			p.mu.Lock()
			if !gotFirst {
				p.base, gotFirst = f.Total, true
				first <- nil
			}
			p.acks = append(p.acks, ack{now, f.Total})
			p.mu.Unlock()
		}
	}()
	go func() { // writer, after the first state frame
		defer wg.Done()
		if err := <-first; err != nil {
			return
		}
		tick := time.NewTicker(period)
		defer tick.Stop()
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			p.mu.Lock()
			p.sent++ // counted before the write: an upper bound on what the server saw
			p.mu.Unlock()
			conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"click"}`)) != nil {
				return
			}
		}
	}()
	go func() { wg.Wait(); close(p.ended) }()
}

// hangUp closes the connection and waits for the player's goroutines.
func (p *crashPlayer) hangUp(t *testing.T) {
	t.Helper()
	p.conn.Close()
	select {
	case <-p.ended:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: client goroutines did not end", p.handle)
	}
}

// totalsByHandle loads the scores file into a fresh engine, as the next start would,
// and returns every player's total by handle.
func totalsByHandle(t *testing.T, path string) (map[string]int64, int) {
	t.Helper()
	e, err := game.New(game.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	totals := map[string]int64{}
	n, err := game.ReadSnapshotFile(path, func(r game.Record) error {
		totals[r.Handle] = r.Total
		return e.Load(r) // refuses what the next start would refuse
	})
	if err != nil {
		t.Fatalf("the scores file does not load: %v", err)
	}
	return totals, n
}

// seedScores writes a scores file of n players, so that every snapshot takes a while
// to write and a kill often lands in the middle of one.
func seedScores(t *testing.T, path string, n int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("id,handle,score,best,total,last_click,best_at\n")
	ts := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339Nano)
	for i := range n {
		fmt.Fprintf(&b, "%s,seed %d,0,%d,%d,%s,%s\n", uuid.New(), i, i%97, i%97+i%5, ts, ts)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeCost measures the slowest of a few complete snapshot writes (temp file, fsync,
// rename, folder fsync) of the scores at path, on the same file system.
func writeCost(t *testing.T, path string) time.Duration {
	t.Helper()
	e, _ := game.New(game.DefaultConfig())
	if _, err := game.LoadSnapshot(path, e); err != nil {
		t.Fatal(err)
	}
	scratch := filepath.Join(t.TempDir(), game.SnapshotFile)
	var worst time.Duration
	for range 3 {
		s := &game.Snapshotter{Path: scratch, Source: e}
		start := time.Now()
		if _, err := s.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		worst = max(worst, time.Since(start))
	}
	return worst
}

func staleTemps(dir string) []string {
	var names []string
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		if n := en.Name(); strings.HasPrefix(n, "."+game.SnapshotFile+".") && strings.HasSuffix(n, ".tmp") {
			names = append(names, n)
		}
	}
	return names
}

// TestKill9KeepsAcknowledgedClicks starts the program, has players click over
// WebSockets while snapshots are written every 100ms, and kills it with SIGKILL at a
// random moment, round after round on the same data folder. After every kill the
// scores file must load, keep every player it ever held, and hold for every player at
// least the total acknowledged more than one snapshot interval plus a margin before
// the kill, and never more than the clicks sent. CTB_CRASH_ROUNDS sets the number of
// rounds (8 by default):
//
//	CTB_CRASH_ROUNDS=50 go test -run TestKill9 -count=1 -v .
func TestKill9KeepsAcknowledgedClicks(t *testing.T) {
	rounds := 8
	if v := os.Getenv(envRounds); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			t.Fatalf("%s=%q: want a number of rounds", envRounds, v)
		}
		rounds = n
	}
	const (
		interval = 100 * time.Millisecond // the smallest --snapshot-interval allowed
		players  = 4
		period   = 50 * time.Millisecond // 20 clicks a second each, under the throttle
		seeds    = 1500
	)
	dir := t.TempDir()
	path := filepath.Join(dir, game.SnapshotFile)
	seedScores(t, path, seeds)
	// The margin covers what lies between a click's acknowledgement and the end of the
	// write that holds it, beyond the interval: the write in progress when the click
	// landed (it may have read that player already), then the next one, each a Records
	// pass, a temp file, two fsyncs and a rename, slowed by the clicks, the -race
	// instrumentation and two cores shared with the test; plus the ticker's and the
	// scheduler's delays. Four measured writes plus 250ms covers it with room.
	cost := writeCost(t, path)
	margin := 250*time.Millisecond + 4*cost
	t.Logf("one snapshot write of %d players takes up to %s here; margin %s", seeds, cost.Round(time.Millisecond), margin.Round(time.Millisecond))

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 42))
	var ps []*crashPlayer
	start := time.Now()
	var midWrite, checked, lostClicks int
	var worstLostAge time.Duration // age at the kill of the oldest acknowledged click the file lacked
	var leftovers []string
	for round := 1; round <= rounds; round++ {
		c := startChild(t, dir, "--snapshot-interval", interval.String())
		c.waitReady(t)
		for _, n := range leftovers {
			if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
				t.Fatalf("round %d: the temp file %s the last kill left was not removed at start", round, n)
			}
		}
		if ps == nil {
			for i := range players {
				ps = append(ps, newCrashPlayer(t, c, fmt.Sprintf("crash %d", i)))
			}
		}
		stop := make(chan struct{})
		for _, p := range ps {
			p.play(t, c, period, stop)
		}
		wait := interval + margin + 100*time.Millisecond + time.Duration(rng.Int64N(int64(600*time.Millisecond)))
		time.Sleep(wait)
		killAt := time.Now()
		if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if code := c.exitCode(t, 10*time.Second); code != -1 {
			t.Fatalf("round %d: exit code %d, want death by SIGKILL", round, code)
		}
		close(stop)
		for _, p := range ps {
			p.hangUp(t)
		}
		if strings.Contains(c.log.String(), "level=ERROR") {
			t.Fatalf("round %d: the program logged an error:\n%s", round, c.log)
		}
		leftovers = staleTemps(dir)
		if len(leftovers) > 0 {
			midWrite++
		}

		totals, n := totalsByHandle(t, path)
		seedsLeft := 0
		for h := range totals {
			if strings.HasPrefix(h, "seed ") {
				seedsLeft++
			}
		}
		if seedsLeft != seeds || n < seeds {
			t.Fatalf("round %d: the file holds %d players, %d of the %d seeded", round, n, seedsLeft, seeds)
		}
		bound := killAt.Add(-interval - margin)
		roundChecked := 0
		for _, p := range ps {
			p.mu.Lock()
			got, ok := totals[p.handle]
			if !ok && p.base > 0 {
				t.Fatalf("round %d: %s, who had %d clicks on disk, is gone", round, p.handle, p.base)
			}
			need := p.base
			for _, a := range p.acks {
				if !a.at.After(bound) {
					need = max(need, a.total)
					roundChecked++
				}
				if a.total > got {
					worstLostAge = max(worstLostAge, killAt.Sub(a.at))
				}
			}
			var acked int64
			for _, a := range p.acks {
				acked = max(acked, a.total)
			}
			if got < need {
				t.Errorf("round %d: %s has %d clicks in the file, but %d were acknowledged more than %s before the kill",
					round, p.handle, got, need, (interval + margin).Round(time.Millisecond))
			}
			if got > p.base+p.sent {
				t.Errorf("round %d: %s has %d clicks in the file, more than the %d+%d sent", round, p.handle, got, p.base, p.sent)
			}
			lostClicks += int(max(0, acked-got))
			p.mu.Unlock()
		}
		if roundChecked == 0 {
			t.Fatalf("round %d: no acknowledgement old enough to check; the round proves nothing", round)
		}
		checked += roundChecked
		if t.Failed() {
			t.Fatalf("round %d failed; child log:\n%s", round, c.log)
		}
	}
	t.Logf("%d kill -9 rounds in %s: the file loaded every time; %d kills left a temp file (killed mid-write); "+
		"%d acknowledgements checked; %d acknowledged clicks lost in all, the oldest %s before its kill (allowed: %s)",
		rounds, time.Since(start).Round(time.Millisecond), midWrite, checked, lostClicks,
		worstLostAge.Round(time.Millisecond), (interval + margin).Round(time.Millisecond))
}

// TestSignalsKeepEveryAcknowledgedClick: SIGTERM and SIGINT, sent while players click,
// end the program with exit code 0 and a scores file that holds every acknowledged
// click, although the snapshot interval is far longer than the test.
func TestSignalsKeepEveryAcknowledgedClick(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, game.SnapshotFile)
			c := startChild(t, dir, "--snapshot-interval", "1h")
			c.waitReady(t)
			var ps []*crashPlayer
			stop := make(chan struct{})
			for i := range 3 {
				p := newCrashPlayer(t, c, fmt.Sprintf("signal %d", i))
				p.play(t, c, 25*time.Millisecond, stop)
				ps = append(ps, p)
			}
			time.Sleep(600 * time.Millisecond)
			if err := c.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			code := c.exitCode(t, 20*time.Second)
			close(stop)
			for _, p := range ps {
				p.hangUp(t)
			}
			if code != 0 {
				t.Fatalf("exit code %d after %s, want 0; log:\n%s", code, sig, c.log)
			}
			if !strings.Contains(c.log.String(), "final_snapshot_written=true") {
				t.Errorf("no final snapshot in the log:\n%s", c.log)
			}
			totals, _ := totalsByHandle(t, path)
			for _, p := range ps {
				var acked int64
				for _, a := range p.acks {
					acked = max(acked, a.total)
				}
				got := totals[p.handle]
				if acked < 5 {
					t.Errorf("%s: only %d clicks acknowledged; the test proves little", p.handle, acked)
				}
				if got < acked || got > p.sent {
					t.Errorf("%s: %d clicks in the file; %d acknowledged, %d sent", p.handle, got, acked, p.sent)
				}
				t.Logf("%s: %d sent, %d acknowledged, %d in the file", p.handle, p.sent, acked, got)
			}
		})
	}
}

// TestSecondProcessRefusedWhileFirstRuns: a second program on the same data folder
// exits non-zero naming the folder, the first keeps serving and its file is not
// touched; once the first is gone, killed or stopped, the folder is free again.
func TestSecondProcessRefusedWhileFirstRuns(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, game.SnapshotFile)
	seedScores(t, path, 10)
	before, _ := os.ReadFile(path)
	first := startChild(t, dir)
	first.waitReady(t)

	second := startChild(t, dir)
	if code := second.exitCode(t, 20*time.Second); code == 0 || code == -1 {
		t.Fatalf("second program on the same folder: exit code %d; log:\n%s", code, second.log)
	}
	msg := second.log.String()
	if !strings.Contains(msg, "another clickthebutton process is using the data folder") || !strings.Contains(msg, dir) {
		t.Fatalf("the refusal does not name the folder or the other process:\n%s", msg)
	}
	if !strings.Contains(msg, "pid "+strconv.Itoa(first.cmd.Process.Pid)) {
		t.Errorf("the refusal does not give the running program's pid %d:\n%s", first.cmd.Process.Pid, msg)
	}
	resp, err := http.Get("http://" + first.addr + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the first program stopped answering: %v", err)
	}
	resp.Body.Close()
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Fatal("the refused program changed the scores file")
	}

	// kill -9 leaves no stale lock behind.
	first.cmd.Process.Signal(syscall.SIGKILL)
	first.exitCode(t, 10*time.Second)
	third := startChild(t, dir)
	third.waitReady(t)
	third.cmd.Process.Signal(syscall.SIGTERM)
	if code := third.exitCode(t, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM; log:\n%s", code, third.log)
	}
	fourth := startChild(t, dir)
	fourth.waitReady(t)
}

// TestTruncatedScoresStopTheStart: a scores file cut short, in a quoted field or in the
// middle of a row, stops the start with a message naming the file and the line, and
// is left exactly as it was.
func TestTruncatedScoresStopTheStart(t *testing.T) {
	full := "id,handle,score,best,total,last_click,best_at\n" +
		"7d444840-9dc0-11d1-b245-5ffdce74fad2,\"alice\",3,5,9,2030-06-01T12:00:00Z,2030-06-01T11:00:00Z\n" +
		"8d444840-9dc0-11d1-b245-5ffdce74fad2,\"bob the builder\",1,2,2,2030-06-01T12:00:01Z,2030-06-01T12:00:01Z\n"
	for _, tc := range []struct{ name, data string }{
		{"cut in a quoted field", full[:strings.Index(full, " builder")]},
		{"cut mid-row", full[:strings.Index(full, ",2,2,")+3]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, game.SnapshotFile)
			os.WriteFile(path, []byte(tc.data), 0o600)
			c := startChild(t, dir)
			if code := c.exitCode(t, 20*time.Second); code == 0 || code == -1 {
				t.Fatalf("started on a truncated scores file: exit code %d", code)
			}
			if msg := c.log.String(); !strings.Contains(msg, path) || !strings.Contains(msg, "line 3") {
				t.Fatalf("message does not name %s and line 3:\n%s", path, msg)
			}
			if got, _ := os.ReadFile(path); string(got) != tc.data {
				t.Fatal("the truncated file was changed")
			}
		})
	}
}
