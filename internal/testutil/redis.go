package testutil

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Redis is a real redis-server that a test started on a free loopback port, with a
// folder of its own. It is stopped when the test ends.
type Redis struct {
	// Port is the port it listens on, on 127.0.0.1.
	Port int
	// Dir is its working folder (its AOF and cluster files).
	Dir string

	args []string
	cmd  *exec.Cmd
	done chan struct{}
	log  *SyncBuffer
}

// RedisServer returns the path of redis-server, or fails the test with how to install
// it: the Redis tests are part of `make test` and never skipped.
func RedisServer(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("REDIS_SERVER"), "redis-server", "/usr/bin/redis-server"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatal("redis-server not found: install it (apt-get install redis-server; .ci/run does) or set REDIS_SERVER")
	return ""
}

// freePort returns a loopback port that is free, and so is port+10000 (the cluster
// bus) when bus is set.
func freePort(t testing.TB, bus bool) int {
	t.Helper()
	for range 200 {
		port := 20000 + rand.IntN(30000)
		if !portFree(port) || bus && !portFree(port+10000) {
			continue
		}
		return port
	}
	t.Fatal("no free loopback port found")
	return 0
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// StartRedis starts a redis-server without persistence unless extra asks for it
// (e.g. "--appendonly", "yes").
func StartRedis(t testing.TB, extra ...string) *Redis {
	t.Helper()
	return startRedis(t, false, extra...)
}

func startRedis(t testing.TB, bus bool, extra ...string) *Redis {
	t.Helper()
	r := &Redis{Dir: t.TempDir(), Port: freePort(t, bus)}
	r.args = append([]string{"--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", r.Dir, "--protected-mode", "no", "--loglevel", "warning"}, extra...)
	r.Start(t)
	t.Cleanup(func() { r.Kill(t) })
	return r
}

// URL is the redis:// URL of the server.
func (r *Redis) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d", r.Port) }

// Addr is host:port of the server.
func (r *Redis) Addr() string { return fmt.Sprintf("127.0.0.1:%d", r.Port) }

// Start starts the server (again, after Stop or Kill: same port, same folder) and
// waits until it answers PING, its data loaded.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	r.log = &SyncBuffer{}
	r.cmd = exec.Command(RedisServer(t), r.args...)
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	r.done = make(chan struct{})
	cmd, done := r.cmd, r.done
	go func() { cmd.Wait(); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if out, err := r.Command("PING"); err == nil && out == "PONG" {
			return
		}
		select {
		case <-done:
			t.Fatalf("redis-server exited at start:\n%s", r.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on port %d did not answer within 20s:\n%s", r.Port, r.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop shuts the server down as an operator would (SIGTERM: it flushes its AOF).
func (r *Redis) Stop(t testing.TB) { r.signal(t, syscall.SIGTERM) }

// Kill kills the server at once (SIGKILL).
func (r *Redis) Kill(t testing.TB) { r.signal(t, syscall.SIGKILL) }

func (r *Redis) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if r.cmd == nil {
		return
	}
	select {
	case <-r.done:
		return
	default:
	}
	r.cmd.Process.Signal(sig)
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
		t.Errorf("redis-server did not stop within 20s of %s", sig)
	}
}

// Command sends one command and returns its reply: a status or bulk string, or an
// integer in decimal. An error reply is an error. It speaks just enough RESP for test
// set-up; the code under test uses a real client.
func (r *Redis) Command(args ...string) (string, error) {
	return Command(r.Addr(), args...)
}

// Command sends one command to the Redis at addr; see Redis.Command.
func Command(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case line == "":
		return "", fmt.Errorf("empty reply")
	case line[0] == '+' || line[0] == ':':
		return line[1:], nil
	case line[0] == '-':
		return "", fmt.Errorf("redis: %s", line[1:])
	case line[0] == '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("reply %q not understood", line)
}

// RedisCluster is a Redis Cluster of masters without replicas, on loopback.
type RedisCluster struct {
	// Nodes are its masters.
	Nodes []*Redis
}

// StartRedisCluster starts masters redis-servers with cluster mode on and joins them
// with redis-cli --cluster create. It waits until every node reports the cluster ok.
func StartRedisCluster(t testing.TB, masters int) *RedisCluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal("redis-cli not found: install it (apt-get install redis-tools; .ci/run does)")
	}
	c := &RedisCluster{}
	var addrs []string
	for range masters {
		n := startRedis(t, true, "--cluster-enabled", "yes", "--cluster-node-timeout", "2000")
		c.Nodes = append(c.Nodes, n)
		addrs = append(addrs, n.Addr())
	}
	out, err := exec.Command(cli, append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, n := range c.Nodes {
		for {
			info, err := n.Command("CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the cluster is not ok after 30s: %s %v", info, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c
}

// URL is a redis:// URL naming every node of the cluster.
func (c *RedisCluster) URL() string {
	u := c.Nodes[0].URL()
	for i, n := range c.Nodes[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + n.Addr()
	}
	return u
}
