package redisgame

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/clickthebutton/clickthebutton/game"
	"github.com/google/uuid"
)

// The key layout (docs/scale-out.md). Players are spread over partitions, each a Redis
// Cluster hash tag, so that every click touches the keys of one slot only and the
// cluster spreads the partitions, and with them the clicks, over its shards. Nothing
// that every click writes is shared by all players.
//
//	ctb:{pNN}:pl:<id>  hash   one player: handle, scores, times, throttle window
//	ctb:{pNN}:board    zset   the partition's players with a best, ranked as the board ranks
//	ctb:{pNN}:ids      set    every player id of the partition, for snapshots and scans
//	ctb:{pNN}:part     hash   the partition's counters: clicks, players, refused, ...
//	ctb:{pNN}:bans     hash   banned ids of the partition, to "at reason"; they outlive players
//	ctb:{pNN}:sus      zset   the partition's players the bot detection flagged, by when
//	ctb:{g}:...                the few keys of the whole game: live nodes, online counts,
//	                           peak online, the snapshot lease, the shared cookie key
//	ctb:events         channel changes that the other nodes' sockets must see
const (
	// partitions is fixed for a given Redis data set; Open refuses a data set laid out
	// with another number.
	partitions = 64
	// layoutVersion changes when the key layout does.
	layoutVersion = "1"

	keyNodes   = "ctb:{g}:nodes"
	keyOnline  = "ctb:{g}:online"
	keyPeak    = "ctb:{g}:peak"
	keyLease   = "ctb:{g}:snaplock"
	keySecret  = "ctb:{g}:secret"
	keyMeta    = "ctb:{g}:meta"
	chanEvents = "ctb:events"
)

// partKeys are the keys of one partition.
type partKeys struct {
	prefix   string // "ctb:{pNN}:"
	board    string
	ids      string
	part     string
	bans     string
	suspects string
}

func newPartKeys(n int) partKeys {
	prefix := fmt.Sprintf("ctb:{p%02d}:", n)
	return partKeys{prefix: prefix, board: prefix + "board", ids: prefix + "ids", part: prefix + "part",
		bans: prefix + "bans", suspects: prefix + "sus"}
}

func (k partKeys) player(id uuid.UUID) string { return k.prefix + "pl:" + id.String() }

// partitionOf spreads ids over the partitions; ids need not be random (restored or
// hand-made ones) for the spread to be even.
func partitionOf(id uuid.UUID) int {
	x := binary.LittleEndian.Uint64(id[0:8]) ^ binary.LittleEndian.Uint64(id[8:16])
	x ^= x >> 31
	x *= 0x7fb5d329728ea185
	x ^= x >> 27
	return int(x % partitions)
}

// Board members. A partition's sorted set holds each player with a best, scored by the
// best. Redis orders equal scores by the member's bytes, so the member starts with what
// breaks ties, encoded so that ZRANGE ... REV puts them in the board's order
// (game.RanksAbove): who reached the best first, then the smaller id. Then comes the
// handle, so that reading the top of a partition needs no other key.
//
//	16 hex digits   maxMicros - best_at (µs): earlier is larger, so first in REV order
//	32 hex digits   the id with every bit flipped: a smaller id is larger
//	the rest        the handle
const (
	maxMicros  = 1<<53 - 1
	tieLen     = 16
	memberHead = tieLen + 32
)

// flippedID is the id part of a player's board member.
func flippedID(id uuid.UUID) string {
	var f [16]byte
	for i, b := range id {
		f[i] = ^b
	}
	return hex.EncodeToString(f[:])
}

// boardMember is the member the scripts write for a player who reached its best at
// bestAt (Unix µs); parseMember reads it back.
func boardMember(bestAt int64, flipped, handle string) string {
	return fmt.Sprintf("%016x", maxMicros-bestAt) + flipped + handle
}

// parseMember reads a board member back into a row; best is the member's score.
func parseMember(m string, best int64) (game.Row, error) {
	if len(m) < memberHead {
		return game.Row{}, fmt.Errorf("board member %q is too short", m)
	}
	inv, err := strconv.ParseUint(m[:tieLen], 16, 64)
	if err != nil || inv > maxMicros {
		return game.Row{}, fmt.Errorf("board member %q: bad time", m)
	}
	f, err := hex.DecodeString(m[tieLen:memberHead])
	if err != nil {
		return game.Row{}, fmt.Errorf("board member %q: bad id", m)
	}
	var id uuid.UUID
	for i, b := range f {
		id[i] = ^b
	}
	return game.Row{ID: id, Handle: m[memberHead:], Best: best, BestAt: int64(maxMicros-inv) * 1000}, nil
}

// redact hides the password of a Redis URL for messages and logs.
func redact(rawURL string) string {
	if i := strings.Index(rawURL, "://"); i >= 0 {
		if at := strings.LastIndex(rawURL, "@"); at > i {
			userinfo := rawURL[i+3 : at]
			if user, _, ok := strings.Cut(userinfo, ":"); ok {
				return rawURL[:i+3] + user + ":xxxxx" + rawURL[at:]
			}
		}
	}
	return rawURL
}
