#!/usr/bin/env bash
# Redis mode measured (docs/benchmarks.md#redis-mode), about 30 minutes with the defaults.
# Five parts, each repeated COUNT times with the order of its servers alternated, every
# load point on a fresh node (fresh data folder) and, unless a part says otherwise, a
# fresh redis-server (no persistence: --save "" --appendonly no):
#
#   a  memory vs Redis, one node, 5,000 players at 5,000 clicks/s
#   b  the most clicks/s one node pushes through one Redis (the offered rate stepped up
#      until accepted clicks/s stop rising), memory mode alike for reference, next to
#      redis-benchmark's ceiling for the same click script on the same redis-server,
#      right before and right after
#   c  three Redis-mode nodes holding 45,000 connected players of one game
#   d  one primary vs a 3-primary Redis Cluster: bench/redis -mode clicks, and one node
#      on each
#   e  Redis without AOF, appendfsync everysec and always: one node at a fixed load
#   p  CPU profiles of a memory-mode and a Redis-mode node at the same load (once)
#
# Results: bench/results/scaleout-<time>/ (summary.md, load.jsonl, machine.txt,
# *.bench.txt, loadavg.txt, top.txt, profile-*, scaleout.svg/.png). Knobs (environment):
# PARTS ("a b c d e p"), COUNT (3), WARMUP (3s), DURATION (10s), A_PLAYERS/A_RATE
# (5000/5000), B_PLAYERS (2000), B_RATES ("10000 12500 15000 17500 20000 30000 40000
# 50000 60000 80000"), B_MODES (the servers of part b, "redis memory"), B_FLAGS (node flags of part b, "--throttle-limit 100000"),
# B_PROCS (load generator processes of parts b, d and p, 1),
# C_PLAYERS (45000), C_RATE (3000), C_PROCS (6), C_NICES (redis-server's nice values in
# part c, "-10 0"), D_RATES ("10000 20000"), D_CONC
# ("16,64,256"), E_PLAYERS/E_RATE (2000/5000), P_RATE (10000), and the ports: GAME_ADDR
# (memory-mode server), PPROF_ADDR (part p), NODE_PORTS (three
# Redis-mode nodes), REDIS_PORT, CLUSTER_PORTS (three primaries; their bus ports, +10000,
# must be free too). Every port is checked free before use; every process started here
# is killed on exit.
cd "$(dirname "$0")/.."
source bench/lib.sh
OUT=${OUT:-bench/results/scaleout-$(date -u +%Y%m%d-%H%M%S)}
PARTS=${PARTS:-a b c d e p}
COUNT=${COUNT:-3}
WARMUP=${WARMUP:-3s}
DURATION=${DURATION:-10s}
A_PLAYERS=${A_PLAYERS:-5000} A_RATE=${A_RATE:-5000}
B_MODES=${B_MODES:-redis memory}
B_PLAYERS=${B_PLAYERS:-2000} B_RATES=${B_RATES:-10000 12500 15000 17500 20000 30000 40000 50000 60000 80000}
# One load generator process for the B_PLAYERS parts (b, d, p): 2,000 sockets fit in
# one. (One took 0.55 cores against 0.64 for two at 15,000 clicks/s offered in a short
# rig, 3 runs each in turn; at part b's most both took 0.65-0.70.)
B_PROCS=${B_PROCS:-1}
# Part b lifts the bot throttle (as run-long.sh's naive grid does): at 30 clicks/s per
# player a load generator catching up after a stall sends 50 in a second and its
# players are throttled, which measures the throttle, not the node. The script's path
# for a counted click is the same whatever the limit.
read -r -a B_FLAGS <<<"${B_FLAGS:---throttle-limit 100000}"
D_RATES=${D_RATES:-10000 20000}
P_RATE=${P_RATE:-10000}
PPROF_ADDR=${PPROF_ADDR:-127.0.0.1:27386}
C_PLAYERS=${C_PLAYERS:-45000} C_RATE=${C_RATE:-3000} C_PROCS=${C_PROCS:-6}
# Part c runs once per nice value of redis-server in each repetition (see part_c).
C_NICES=${C_NICES:--10 0}
E_PLAYERS=${E_PLAYERS:-2000} E_RATE=${E_RATE:-5000}
read -r -a NODE_PORTS <<<"${NODE_PORTS:-27381 27382 27383}"
read -r -a CLUSTER_PORTS <<<"${CLUSTER_PORTS:-27391 27392 27393}"

command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
	echo "run-scaleout.sh needs redis-server and redis-cli (apt-get install -y redis-server redis-tools)" >&2
	exit 1
}
mkdir -p "$OUT"
touch "$OUT/load.jsonl"
build
machine "$OUT"
{
	redis-server --version
	echo "results filesystem (AOF files of part e): $(df -T "$OUT" | awk 'NR==2 {print $1, $2}')"
	# What appendfsync always waits for: one 4 KB write and fsync at a time.
	dd if=/dev/zero of="$OUT/fsync.test" bs=4k count=300 oflag=dsync 2>&1 | tail -1 | sed 's/^/300 x (4 KB write + fsync): /'
	rm -f "$OUT/fsync.test"
} >>"$OUT/machine.txt"

# The machine is shared: every 10 s, the load average and the busiest processes go to
# top.txt, to tell a quiet run from a disturbed one.
(
	while sleep 10; do
		echo "$(date -u +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
		# top's second frame: CPU over the last second, not since each process began.
		top -b -n 2 -d 1 -o %CPU | awk '/^top -/ { n++ } n == 2' | sed -n '8,13p' | awk '{ print "  " $9 "% " $1 " " $12 }'
	done
) >"$OUT/top.txt" 2>/dev/null &
STARTED+=($!)

# loadavg WHAT: notes the load average, since the machine is shared.
loadavg() { echo "$(date -u +%T) $1: load average $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/loadavg.txt" >&2; }

# busy_cores: the CPU the whole machine used over the last 2 s, in cores.
busy_cores() {
	local a b
	a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
	sleep 2
	b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
	awk -v a="$a" -v b="$b" -v n="$(nproc)" 'BEGIN { split(a, x, " "); split(b, y, " ");
		busy = y[1] - x[1]; all = busy + y[2] - x[2]; printf "%.2f\n", (all > 0 ? n * busy / all : 0) }'
}

# quiet WHAT: called between load points, when nothing of ours is busy (an idle
# redis-server at most), so that whatever CPU the machine uses belongs to someone else.
# Waits until that is under QUIET_CORES (0.3) for up to QUIET_WAIT seconds (900), and
# notes in loadavg.txt how busy the machine was and how long it waited.
quiet() {
	local c waited=0
	while c=$(busy_cores) && awk -v c="$c" -v q="${QUIET_CORES:-0.3}" 'BEGIN { exit !(c >= q) }'; do
		if [ "$waited" -ge "${QUIET_WAIT:-900}" ]; then
			echo "$(date -u +%T) $1: still $c cores busy after ${waited}s: going on" | tee -a "$OUT/loadavg.txt" >&2
			return 0
		fi
		sleep 8
		waited=$((waited + 10))
	done
	[ "$waited" -gt 0 ] && echo "$(date -u +%T) $1: waited ${waited}s for the machine to be quiet" | tee -a "$OUT/loadavg.txt" >&2
	echo "$(date -u +%T) $1: $c cores busy before" >>"$OUT/quiet.txt"
}

stop_pid() { # pid...
	local p
	for p in "$@"; do kill "$p" 2>/dev/null || true; done
	for p in "$@"; do wait "$p" 2>/dev/null || true; done
}

wait_redis() { # port
	for _ in $(seq 1 100); do
		[ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return 0
		sleep 0.05
	done
	echo "redis-server on $1 did not come up" >&2
	return 1
}

# start_redis NAME [redis-server flags...]: a redis-server on REDIS_PORT with its files in
# $OUT/redis-NAME (fresh); later flags override the defaults. Sets REDIS_PID.
start_redis() {
	local dir=$OUT/redis-$1
	shift
	rm -rf "$dir" && mkdir -p "$dir"
	port_free "127.0.0.1:$REDIS_PORT"
	redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$dir" --save '' --appendonly no \
		--protected-mode yes "$@" >"$dir.log" 2>&1 &
	REDIS_PID=$!
	STARTED+=("$REDIS_PID")
	wait_redis "$REDIS_PORT"
}

# start_node NAME ADDR [flags...]: a game server (memory mode unless the flags say
# --redis) on ADDR with a fresh data folder $OUT/data-NAME. Sets NODE_PID.
start_node() {
	local data=$OUT/data-$1 addr=$2
	shift 2
	rm -rf "$data"
	port_free "$addr"
	"$BENCH_BIN/clickthebutton" --addr "$addr" --data "$data" "${GAME_FLAGS[@]}" "$@" >"$data.log" 2>&1 &
	NODE_PID=$!
	STARTED+=("$NODE_PID")
	wait_http "http://$addr/readyz"
	kill -0 "$NODE_PID" 2>/dev/null || { echo "node $NODE_PID exited; see $data.log" >&2; return 1; }
}

# load LABEL URLS PIDS WATCH [loadgen flags...]: one loadgen run, appended to load.jsonl.
# Returns 1 when no result was written.
load() {
	local label=$1 urls=$2 pids=$3 watch=$4
	shift 4
	quiet "$label"
	log "$label"
	local before
	before=$(wc -l <"$OUT/load.jsonl" 2>/dev/null || echo 0)
	timeout 20m "$BENCH_BIN/loadgen" -url "$urls" -src "$SRC" -server-pid "$pids" -watch-pid "$watch" \
		-label "$label" -out "$OUT/load.jsonl" "$@" 2> >(tee -a "$OUT/loadgen.log" | grep -v 'connected in' >&2) || echo "loadgen failed" >&2
	[ "$(wc -l <"$OUT/load.jsonl" 2>/dev/null || echo 0)" -gt "$before" ]
}

# accepted: accepted clicks/s of the last result (the top-level figure, the last one).
accepted() { tail -1 "$OUT/load.jsonl" | grep -o '"accepted_per_s":[0-9.]*' | tail -1 | cut -d: -f2; }

# order REP A B: "A B" on odd repetitions, "B A" on even ones.
order() { if [ $(($1 % 2)) -eq 1 ]; then echo "$2 ${3:-}"; else echo "${3:-} $2"; fi; }

redis_url=redis://127.0.0.1:$REDIS_PORT
node_addr=127.0.0.1:${NODE_PORTS[0]}

# one_point EXP MODE PLAYERS RATE REP [loadgen flags...]: one node, memory or redis (a
# fresh redis-server), one load run.
one_point() {
	local exp=$1 mode=$2 players=$3 rate=$4 rep=$5
	shift 5
	if [ "$mode" = memory ]; then
		start_node "$exp-memory" "$GAME_ADDR"
		load "$exp|memory|$players|$rate|$rep" "http://$GAME_ADDR" "$NODE_PID" "" -clients "$players" -rate "$rate" "$@" || true
		stop_pid "$NODE_PID"
	else
		start_redis "$exp"
		start_node "$exp-redis" "$node_addr" --redis "$redis_url"
		load "$exp|redis|$players|$rate|$rep" "http://$node_addr" "$NODE_PID" "redis=$REDIS_PID" -clients "$players" -rate "$rate" "$@" || true
		stop_pid "$NODE_PID"
		stop_pid "$REDIS_PID" # after the node, so that its final snapshot is written
	fi
}

part_a() {
	loadavg "a: memory vs Redis, one node"
	for rep in $(seq 1 "$COUNT"); do
		for mode in $(order "$rep" memory redis); do
			one_point one-node "$mode" "$A_PLAYERS" "$A_RATE" "$rep" -procs 2 -warmup "$WARMUP" -duration "$DURATION" -connect-rate 3000
		done
	done
}

# ceiling WHEN: redis-benchmark's ceiling for the click script on the running
# redis-server (it flushes the database), COUNT runs, with the redis-server's CPU over
# them. The lines are named BenchmarkRedisCeiling/when=WHEN.
ceiling() {
	quiet "ceiling $1"
	log "redis-benchmark ceiling ($1)"
	local c0 c1 t0 t1
	c0=$(awk '{print $14 + $15}' "/proc/$REDIS_PID/stat")
	t0=$(date +%s.%N)
	timeout 10m "$BENCH_BIN/redisbench" -mode ceiling -run-benchmark -addr "127.0.0.1:$REDIS_PORT" -count "$COUNT" \
		2>>"$OUT/ceiling.log" | sed "s/^BenchmarkRedisCeiling-/BenchmarkRedisCeiling\/when=$1-/" | tee -a "$OUT/ceiling.bench.txt"
	c1=$(awk '{print $14 + $15}' "/proc/$REDIS_PID/stat")
	t1=$(date +%s.%N)
	# CPU ticks are 1/100 s; the time includes creating the players between runs.
	awk -v w="$1" -v c="$((c1 - c0))" -v t0="$t0" -v t1="$t1" \
		'BEGIN { printf "ceiling %s: redis-server CPU %.2f cores over %.1f s\n", w, c / 100 / (t1 - t0), t1 - t0 }' | tee -a "$OUT/ceiling.log" >&2
	redis-cli -p "$REDIS_PORT" flushall >/dev/null
}

part_b() {
	loadavg "b: one node's most clicks/s"
	start_redis max
	ceiling before
	for rep in $(seq 1 "$COUNT"); do
		for mode in $(order "$rep" $B_MODES); do
			local best=0 acc
			for rate in $B_RATES; do
				if [ "$mode" = memory ]; then
					start_node "max-memory" "$GAME_ADDR" "${B_FLAGS[@]}"
					load "max|memory|$B_PLAYERS|$rate|$rep" "http://$GAME_ADDR" "$NODE_PID" "" \
						-clients "$B_PLAYERS" -rate "$rate" -procs "$B_PROCS" -warmup "$WARMUP" -duration "$DURATION" -connect-rate 3000 || true
				else
					# The same redis-server throughout, so that the ceiling is that of the Redis
					# the node used; emptied before each point.
					redis-cli -p "$REDIS_PORT" flushall >/dev/null
					start_node "max-redis" "$node_addr" --redis "$redis_url" "${B_FLAGS[@]}"
					load "max|redis|$B_PLAYERS|$rate|$rep" "http://$node_addr" "$NODE_PID" "redis=$REDIS_PID" \
						-clients "$B_PLAYERS" -rate "$rate" -procs "$B_PROCS" -warmup "$WARMUP" -duration "$DURATION" -connect-rate 3000 || true
				fi
				stop_pid "$NODE_PID"
				acc=$(accepted)
				# Stepping on is pointless once a step gains under 5%.
				if awk -v a="${acc:-0}" -v b="$best" 'BEGIN { exit !(a < b * 1.05) }'; then
					log "max|$mode: $acc accepted/s at $rate offered, not 5% above $best: stop stepping"
					break
				fi
				best=$acc
			done
		done
	done
	redis-cli -p "$REDIS_PORT" flushall >/dev/null
	ceiling after
	stop_pid "$REDIS_PID"
}

part_c() {
	loadavg "c: three nodes, $C_PLAYERS players"
	local nices
	read -r -a nices <<<"$C_NICES"
	for rep in $(seq 1 "$COUNT"); do
		local order=("${nices[@]}")
		if ((rep % 2 == 0)); then order=($(printf '%s\n' "${nices[@]}" | tac)); fi
		for nice in "${order[@]}"; do
			start_redis three
			# Everything here shares two cores: six load generator processes and three
			# nodes keep a dozen threads runnable, and the fair scheduler gives the one
			# Redis thread a twelfth of the box. Reniced, it runs when it has work, as
			# on a core of its own (docs/scale-out.md); 0 shows the starved case.
			if [[ $nice != 0 ]]; then renice -n "$nice" -p "$REDIS_PID" >/dev/null; fi
			local urls=() pids=() p
			for p in "${NODE_PORTS[@]}"; do
				start_node "three-$p" "127.0.0.1:$p" --redis "$redis_url"
				urls+=("http://127.0.0.1:$p")
				pids+=("$NODE_PID")
			done
			# Each loadgen process holds C_PLAYERS/C_PROCS sockets, well under its own
			# 20,000 open files; its clients cycle through the three nodes.
			load "three-nodes|redis-3-nice$nice|$C_PLAYERS|$C_RATE|$rep" "$(IFS=,; echo "${urls[*]}")" "$(IFS=,; echo "${pids[*]}")" "redis=$REDIS_PID" \
				-clients "$C_PLAYERS" -rate "$C_RATE" -procs "$C_PROCS" -warmup 5s -duration "${C_DURATION:-15s}" -drain 5s -connect-rate 1000 -timeout 10m || true
			for p in "${NODE_PORTS[@]}"; do curl -fsS "http://127.0.0.1:$p/api/stats" >>"$OUT/three-nodes.stats.txt" 2>/dev/null && echo >>"$OUT/three-nodes.stats.txt"; done
			stop_pid "${pids[@]}"
			stop_pid "$REDIS_PID"
		done
	done
}

# start_cluster: three cluster-enabled primaries on CLUSTER_PORTS, joined with
# redis-cli --cluster create. Sets CLUSTER_PIDS.
start_cluster() {
	CLUSTER_PIDS=()
	local p
	for p in "${CLUSTER_PORTS[@]}"; do
		port_free "127.0.0.1:$p"
		port_free "127.0.0.1:$((p + 10000))"
	done
	for p in "${CLUSTER_PORTS[@]}"; do
		rm -rf "$OUT/cluster-$p" && mkdir -p "$OUT/cluster-$p"
		redis-server --bind 127.0.0.1 --port "$p" --cluster-enabled yes --cluster-config-file "nodes-$p.conf" \
			--dir "$OUT/cluster-$p" --save '' --appendonly no --protected-mode yes >"$OUT/cluster-$p.log" 2>&1 &
		CLUSTER_PIDS+=($!)
		STARTED+=($!)
	done
	for p in "${CLUSTER_PORTS[@]}"; do wait_redis "$p"; done
	local hosts=()
	for p in "${CLUSTER_PORTS[@]}"; do hosts+=("127.0.0.1:$p"); done
	timeout 60 redis-cli --cluster create "${hosts[@]}" --cluster-replicas 0 --cluster-yes >"$OUT/cluster-create.log" 2>&1
	for _ in $(seq 1 100); do
		redis-cli -p "${CLUSTER_PORTS[0]}" cluster info | grep -q cluster_state:ok && return 0
		sleep 0.1
	done
	echo "the cluster did not become ready; see $OUT/cluster-create.log" >&2
	return 1
}

# clicks WHERE ADDR: bench/redis -mode clicks, lines named .../redis=WHERE/...
clicks() {
	quiet "clicks $1"
	log "bench/redis -mode clicks on $1"
	timeout 20m "$BENCH_BIN/redisbench" -mode clicks -addr "$2" -clients rueidis,goredis -conc "${D_CONC:-16,64,256}" \
		-duration 5s -count "$COUNT" 2>>"$OUT/clicks-$1.log" |
		sed "s/^BenchmarkRedisClick\//BenchmarkRedisClick\/redis=$1\//" | tee -a "$OUT/clicks.bench.txt"
}

part_d() {
	loadavg "d: one primary vs a 3-primary cluster"
	start_redis single
	clicks single "127.0.0.1:$REDIS_PORT"
	start_cluster
	clicks cluster3 "127.0.0.1:${CLUSTER_PORTS[0]}"
	local curl="redis://127.0.0.1:${CLUSTER_PORTS[0]}?addr=127.0.0.1:${CLUSTER_PORTS[1]}&addr=127.0.0.1:${CLUSTER_PORTS[2]}"
	local watch_cluster="" i=1 p
	for p in "${CLUSTER_PIDS[@]}"; do
		watch_cluster+="${watch_cluster:+,}redis$i=$p"
		i=$((i + 1))
	done
	# One node on each, below the single primary's knee (latency) and above it
	# (throughput), with part b's flags.
	for rep in $(seq 1 "$COUNT"); do
		for rate in $D_RATES; do
			for where in $(order "$rep" single cluster3); do
				if [ "$where" = single ]; then
					redis-cli -p "$REDIS_PORT" flushall >/dev/null
					start_node "cl-single" "$node_addr" --redis "$redis_url" "${B_FLAGS[@]}"
					load "cluster|redis-1|$B_PLAYERS|$rate|$rep" "http://$node_addr" "$NODE_PID" "redis=$REDIS_PID" \
						-clients "$B_PLAYERS" -rate "$rate" -procs "$B_PROCS" -warmup "$WARMUP" -duration "$DURATION" -connect-rate 3000 || true
				else
					for p in "${CLUSTER_PORTS[@]}"; do redis-cli -p "$p" flushall >/dev/null; done
					start_node "cl-cluster" "$node_addr" --redis "$curl" "${B_FLAGS[@]}"
					load "cluster|cluster-3|$B_PLAYERS|$rate|$rep" "http://$node_addr" "$NODE_PID" "$watch_cluster" \
						-clients "$B_PLAYERS" -rate "$rate" -procs "$B_PROCS" -warmup "$WARMUP" -duration "$DURATION" -connect-rate 3000 || true
				fi
				stop_pid "$NODE_PID"
			done
		done
	done
	stop_pid "${CLUSTER_PIDS[@]}"
	stop_pid "$REDIS_PID"
}

part_e() {
	loadavg "e: AOF fsync policies"
	local modes=(none everysec always)
	for rep in $(seq 1 "$COUNT"); do
		# A different first mode on each repetition.
		local k
		for k in 0 1 2; do
			local mode=${modes[$(((k + rep - 1) % 3))]} flags=()
			case $mode in
			everysec) flags=(--appendonly yes --appendfsync everysec) ;;
			always) flags=(--appendonly yes --appendfsync always) ;;
			esac
			start_redis "aof-$mode" "${flags[@]}"
			start_node "aof-$mode" "$node_addr" --redis "$redis_url"
			load "aof|$mode|$E_PLAYERS|$E_RATE|$rep" "http://$node_addr" "$NODE_PID" "redis=$REDIS_PID" \
				-clients "$E_PLAYERS" -rate "$E_RATE" -warmup "$WARMUP" -duration "$DURATION" -connect-rate 3000 || true
			stop_pid "$NODE_PID"
			stop_pid "$REDIS_PID"
		done
	done
}

# part_p: a 10 s CPU profile of each kind of node in the middle of a load run at
# P_RATE clicks/s (2,000 players), for whoever tunes the Redis backend.
part_p() {
	loadavg "p: profiles"
	local mode
	for mode in memory redis; do
		local flags=(--pprof-addr "$PPROF_ADDR" "${B_FLAGS[@]}") addr=$GAME_ADDR watch=""
		port_free "$PPROF_ADDR"
		if [ "$mode" = redis ]; then
			start_redis profile
			flags+=(--redis "$redis_url")
			addr=$node_addr
		fi
		start_node "profile-$mode" "$addr" "${flags[@]}"
		[ "$mode" = redis ] && watch="redis=$REDIS_PID"
		(sleep 6 && curl -fsS -o "$OUT/profile-$mode.pb.gz" "http://$PPROF_ADDR/debug/pprof/profile?seconds=10") &
		local cp=$!
		STARTED+=("$cp")
		load "profile|$mode|$B_PLAYERS|$P_RATE|1" "http://$addr" "$NODE_PID" "$watch" \
			-clients "$B_PLAYERS" -rate "$P_RATE" -procs "$B_PROCS" -warmup 3s -duration 15s -connect-rate 3000 || true
		wait "$cp" || true
		{
			go tool pprof -top -nodecount=40 "$BENCH_BIN/clickthebutton" "$OUT/profile-$mode.pb.gz"
			go tool pprof -top -cum -nodecount=60 "$BENCH_BIN/clickthebutton" "$OUT/profile-$mode.pb.gz"
		} >"$OUT/profile-$mode.top.txt" 2>/dev/null || true
		stop_pid "$NODE_PID"
		[ "$mode" = redis ] && stop_pid "$REDIS_PID"
	done
}

for part in $PARTS; do
	"part_$part"
done
loadavg "end"
cat "$OUT/loadavg.txt" >>"$OUT/machine.txt"
rm -rf "$OUT"/data-*/ "$OUT"/redis-*/ "$OUT"/cluster-*/ # the logs stay
report
