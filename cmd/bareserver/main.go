// Command bareserver is a comparison server for the benchmarks in docs/benchmarks.md.
// It speaks enough of docs/protocol.md for cmd/loadgen (POST /api/session sets a
// ctb_session cookie, /ws takes {"type":"click"} and answers with a state frame) and
// has two modes:
//
//   - transport: the transport ceiling. The same Echo + melody stack and settings as
//     the game, no game logic: each click frame is answered with a state frame built
//     from a per-socket counter, and once per tick the sockets that clicked since the
//     last tick (the highest counters first, at most -rows) are broadcast to everyone
//     with melody's Broadcast, as one board_delta frame encoded once.
//   - naive: the design the seed sketched, made naive. One mutex around a map of
//     players; every click takes the lock, bumps the score, sorts all players for the
//     top 100 and broadcasts the whole board to every socket, on every click.
//
// It is a benchmark tool: it listens on loopback only and keeps nothing on disk.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/olahol/melody"
)

type player struct {
	id     int64
	tag    string
	handle string
	score  atomic.Int64 // transport mode: the socket's counter
	best   int64        // naive mode, under naive.mu
	bestAt int64
}

type server struct {
	mode       string
	rows       int
	m          *melody.Melody
	nextID     atomic.Int64
	playersMu  sync.Mutex
	players    map[int64]*player
	online     atomic.Int64
	totalClick atomic.Int64

	// transport mode: who clicked since the last tick.
	changedMu sync.Mutex
	changed   map[*player]struct{}
	seq       uint64

	// naive mode: one lock around everything.
	naiveMu  sync.Mutex
	naiveSeq uint64
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "loopback address to listen on")
	mode := flag.String("mode", "transport", "transport or naive")
	tick := flag.Duration("tick", 100*time.Millisecond, "broadcast period (transport mode)")
	rows := flag.Int("rows", 100, "at most this many rows per broadcast (transport mode)")
	sendQueue := flag.Int("send-queue", 16, "melody MessageBufferSize (the game's server.Config.SendQueue)")
	stock := flag.Bool("stock", false, "use melody's and gorilla's default buffer settings instead of the game's")
	flag.Parse()
	if *mode != "transport" && *mode != "naive" {
		log.Fatalf("bareserver: -mode %q: want transport or naive", *mode)
	}
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		log.Fatalf("bareserver: -addr %q: loopback only", *addr)
	}

	s := &server{mode: *mode, rows: *rows, players: map[int64]*player{}, changed: map[*player]struct{}{}}
	m := melody.New()
	m.Config.MaxMessageSize = 512
	m.Config.WriteWait = 10 * time.Second
	m.Config.PongWait = 60 * time.Second
	m.Config.PingPeriod = 54 * time.Second
	if !*stock {
		// The game's settings (server/server_ws.go).
		m.Config.MessageBufferSize = *sendQueue
		m.Upgrader.ReadBufferSize = 512
		m.Upgrader.WriteBufferSize = 4096
		m.Upgrader.WriteBufferPool = &sync.Pool{}
	}
	m.Upgrader.CheckOrigin = func(*http.Request) bool { return true }
	m.HandleConnect(s.connect)
	m.HandleDisconnect(func(*melody.Session) { s.online.Add(-1) })
	m.HandleMessage(s.message)
	s.m = m

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.POST("/api/session", s.session)
	e.GET("/api/leaderboard", s.leaderboard)
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.GET("/ws", func(c echo.Context) error {
		ck, err := c.Cookie("ctb_session")
		if err != nil {
			return echo.NewHTTPError(http.StatusUnauthorized)
		}
		id, _ := strconv.ParseInt(ck.Value, 10, 64)
		s.playersMu.Lock()
		p := s.players[id]
		s.playersMu.Unlock()
		if p == nil {
			return echo.NewHTTPError(http.StatusUnauthorized)
		}
		m.HandleRequestWithKeys(c.Response(), c.Request(), map[string]any{"p": p})
		return nil
	})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("bareserver: %v", err)
	}
	log.Printf("bareserver %s mode on %s", *mode, l.Addr())
	if *mode == "transport" {
		go s.ticker(ctx, *tick)
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	<-ctx.Done()
	m.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
}

func (s *server) session(c echo.Context) error {
	var req struct {
		Handle string `json:"handle"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, 4096)).Decode(&req); err != nil || req.Handle == "" {
		return echo.NewHTTPError(http.StatusBadRequest)
	}
	id := s.nextID.Add(1)
	p := &player{id: id, tag: fmt.Sprintf("t%07d", id), handle: req.Handle}
	s.playersMu.Lock()
	s.players[id] = p
	s.playersMu.Unlock()
	c.SetCookie(&http.Cookie{Name: "ctb_session", Value: strconv.FormatInt(id, 10), Path: "/", HttpOnly: true})
	return c.JSON(http.StatusOK, map[string]any{"handle": p.handle, "tag": p.tag})
}

func (s *server) connect(sess *melody.Session) {
	p := s.playerOf(sess)
	s.online.Add(1)
	sess.Write(stateFrame(p, p.score.Load()))
	if s.mode == "naive" {
		s.naiveMu.Lock()
		b := s.boardLocked()
		s.naiveMu.Unlock()
		sess.Write(b)
		return
	}
	s.changedMu.Lock()
	seq := s.seq
	s.changedMu.Unlock()
	sess.Write([]byte(`{"type":"board","seq":` + strconv.FormatUint(seq, 10) + `,"rows":[],"total_clicks":0,"players":0,"online":0}`))
}

func (s *server) playerOf(sess *melody.Session) *player {
	v, _ := sess.Get("p")
	return v.(*player)
}

func (s *server) message(sess *melody.Session, msg []byte) {
	if string(msg) != `{"type":"click"}` {
		return // resync and anything else: ignored
	}
	p := s.playerOf(sess)
	s.totalClick.Add(1)
	if s.mode == "transport" {
		n := p.score.Add(1)
		sess.Write(stateFrame(p, n))
		s.changedMu.Lock()
		s.changed[p] = struct{}{}
		s.changedMu.Unlock()
		return
	}
	// naive: everything under one lock, the whole board to everyone on every click.
	s.naiveMu.Lock()
	n := p.score.Add(1)
	if n > p.best {
		p.best, p.bestAt = n, time.Now().UnixNano()
	}
	board := s.boardLocked()
	s.naiveMu.Unlock()
	sess.Write(stateFrame(p, n))
	s.m.Broadcast(board)
}

// boardLocked sorts every player and encodes the top 100. Call with naiveMu held.
func (s *server) boardLocked() []byte {
	s.playersMu.Lock()
	all := make([]*player, 0, len(s.players))
	for _, p := range s.players {
		if p.best > 0 {
			all = append(all, p)
		}
	}
	s.playersMu.Unlock()
	slices.SortFunc(all, func(a, b *player) int {
		if a.best != b.best {
			return int(b.best - a.best)
		}
		return int(a.bestAt - b.bestAt)
	})
	if len(all) > 100 {
		all = all[:100]
	}
	s.naiveSeq++
	b := []byte(`{"type":"board","seq":`)
	b = strconv.AppendUint(b, s.naiveSeq, 10)
	b = append(b, `,"rows":[`...)
	for i, p := range all {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRow(b, i+1, p.tag, p.handle, p.best)
	}
	b = append(b, `],"total_clicks":`...)
	b = strconv.AppendInt(b, s.totalClick.Load(), 10)
	b = append(b, `,"players":`...)
	b = strconv.AppendInt(b, s.nextID.Load(), 10)
	b = append(b, `,"online":`...)
	b = strconv.AppendInt(b, s.online.Load(), 10)
	return append(b, '}')
}

func (s *server) leaderboard(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{"top": []any{}})
}

// ticker broadcasts, once per tick, the rows of the sockets that clicked since the last
// tick: one frame, encoded once, to every socket through melody's Broadcast.
func (s *server) ticker(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var list []*player
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.changedMu.Lock()
		list = list[:0]
		for p := range s.changed {
			list = append(list, p)
		}
		clear(s.changed)
		if len(list) == 0 {
			s.changedMu.Unlock()
			continue
		}
		s.seq++
		seq := s.seq
		s.changedMu.Unlock()
		// Highest counters first, so the fastest clickers (the loadgen's probes) are
		// always in the frame, as they would be on a real top-100 board.
		slices.SortFunc(list, func(a, b *player) int { return int(b.score.Load() - a.score.Load()) })
		if len(list) > s.rows {
			list = list[:s.rows]
		}
		b := []byte(`{"type":"board_delta","seq":`)
		b = strconv.AppendUint(b, seq, 10)
		b = append(b, `,"size":100,"rows":[`...)
		for i, p := range list {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendRow(b, i+1, p.tag, p.handle, p.score.Load())
		}
		b = append(b, `],"drop":[],"total_clicks":`...)
		b = strconv.AppendInt(b, s.totalClick.Load(), 10)
		b = append(b, `,"players":`...)
		b = strconv.AppendInt(b, s.nextID.Load(), 10)
		b = append(b, `,"online":`...)
		b = strconv.AppendInt(b, s.online.Load(), 10)
		b = append(b, '}')
		s.m.Broadcast(b)
	}
}

func appendRow(b []byte, rank int, tag, handle string, best int64) []byte {
	b = append(b, `{"rank":`...)
	b = strconv.AppendInt(b, int64(rank), 10)
	b = append(b, `,"tag":"`...)
	b = append(b, tag...)
	b = append(b, `","handle":`...)
	b = strconv.AppendQuote(b, handle)
	b = append(b, `,"best":`...)
	b = strconv.AppendInt(b, best, 10)
	return append(b, '}')
}

func stateFrame(p *player, n int64) []byte {
	b := make([]byte, 0, 192)
	b = append(b, `{"type":"state","handle":`...)
	b = strconv.AppendQuote(b, p.handle)
	b = append(b, `,"tag":"`...)
	b = append(b, p.tag...)
	b = append(b, `","score":`...)
	b = strconv.AppendInt(b, n, 10)
	b = append(b, `,"best":`...)
	b = strconv.AppendInt(b, n, 10)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, n, 10)
	return append(b, `,"throttled":false,"retry_after_ms":0,"idle_reset":false}`...)
}
