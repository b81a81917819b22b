#!/usr/bin/env bash
# bench/run-crowd.sh: the public reads under a crowd of pollers, this build against an
# earlier one, side by side in one run, on a full board (1M players from bench/gencsv).
#
#   bench/run-crowd.sh              # against fd2964c (before the per-tick cache), 5 rounds
#   BASE=<commit> ROUNDS=7 DURATION=10s CONNS=64 bench/run-crowd.sh
#   bench/run-crowd.sh --summary bench/results/crowd-...   # the summary table again
#
# Both servers load the same scores.csv and stay up for the whole run; each round
# measures every endpoint on both, alternating which goes first, with wrk (Debian's
# `wrk`) on loopback. /healthz is the ceiling: the cheapest answer the HTTP stack gives
# (router, middleware, access log line), so an endpoint near it costs no more than
# serving a request at all. Results (raw wrk output, a summary with medians) go to
# bench/results/crowd-<date>/.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${BASE:-fd2964c}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
PLAYERS=${PLAYERS:-1000000}
OLD_ADDR=${OLD_ADDR:-127.0.0.1:27480}
NEW_ADDR=${NEW_ADDR:-127.0.0.1:27481}

# summary RPS_FILE: medians per server and endpoint, the ratio of the medians, and the
# median and lowest of the ratios within a round (the two measured back to back).
summary() {
	awk -v rounds="$ROUNDS" '
function median(arr, n,   i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (arr[j] < arr[i]) { t = arr[i]; arr[i] = arr[j]; arr[j] = t }
	return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
}
{ k = $1 SUBSEP $2; n[k]++; v[k, n[k]] = $4; r[$1, $2, $3] = $4; if ($3 > maxr) maxr = $3
  if (!($2 in seen)) { seen[$2] = 1; order[++m] = $2 } }
END {
	printf "| endpoint | base (req/s, median of %d) | this tree | ratio of medians | median of per-round ratios | lowest round |\n|---|---:|---:|---:|---:|---:|\n", rounds
	for (e = 1; e <= m; e++) {
		ep = order[e]
		for (s = 0; s < 2; s++) {
			name = s ? "new" : "old"; k = name SUBSEP ep
			for (i = 1; i <= n[k]; i++) a[i] = v[k, i]
			med[name] = median(a, n[k])
		}
		nr = 0; low = 0
		for (i = 1; i <= maxr; i++) if (r["old", ep, i] > 0) { q[++nr] = r["new", ep, i] / r["old", ep, i]; if (nr == 1 || q[nr] < low) low = q[nr] }
		printf "| %s | %.0f | %.0f | %.2fx | %.2fx | %.2fx |\n", ep, med["old"], med["new"], med["old"] ? med["new"] / med["old"] : 0, nr ? median(q, nr) : 0, low
	}
}' "$1"
}

if [ "${1:-}" = --summary ]; then
	summary "${2:?usage: run-crowd.sh --summary RESULTS_DIR}/rps.txt"
	exit 0
fi

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

out="bench/results/crowd-$(date -u +%Y%m%d-%H%M%S)"
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
mkdir -p "$out"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

for a in "$OLD_ADDR" "$NEW_ADDR"; do
	if (exec 3<>"/dev/tcp/${a%:*}/${a##*:}") 2>/dev/null; then
		echo "something already listens on $a: set OLD_ADDR/NEW_ADDR" >&2
		exit 1
	fi
done

echo "== building this tree and $BASE (API only: a plain go build, no page)" >&2
mkdir -p "$tmp/old-src" "$tmp/bin"
git archive "$BASE" | tar -x -C "$tmp/old-src"
(cd "$tmp/old-src" && CGO_ENABLED=0 go build -trimpath -o "$tmp/bin/old" .)
CGO_ENABLED=0 go build -trimpath -o "$tmp/bin/new" .
(cd bench && go build -o "$tmp/bin/gencsv" ./gencsv)

echo "== $PLAYERS players" >&2
mkdir -p "$tmp/old-data" "$tmp/new-data"
"$tmp/bin/gencsv" -players "$PLAYERS" -out "$tmp/old-data/scores.csv"
cp "$tmp/old-data/scores.csv" "$tmp/new-data/scores.csv"

start() { # name addr
	"$tmp/bin/$1" --addr "$2" --data "$tmp/$1-data" --snapshot-interval 1h --conns-per-ip 0 --max-conns 0 \
		2>"$tmp/$1.log" &
	pids+=($!)
	for _ in $(seq 1 600); do
		curl -fsS -o /dev/null "http://$2/readyz" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "$1 did not get ready:" >&2
	cat "$tmp/$1.log" >&2
	exit 1
}
start old "$OLD_ADDR"
start new "$NEW_ADDR"

{
	echo "date: $(date -u +%FT%TZ)"
	echo "this tree: $(git describe --tags --always --dirty 2>/dev/null || echo unknown); base: $BASE"
	echo "players: $PLAYERS; wrk -t$THREADS -c$CONNS -d$DURATION; rounds: $ROUNDS"
	go version
	lscpu | grep -E '^(Model name|CPU\(s\))' || true
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"
cat "$out/machine.txt" >&2

# endpoint name, path, extra wrk header args (the conditional one is filled per server)
endpoints=(healthz leaderboard leaderboard-gzip leaderboard-304 stats stats-304)
wrk_args() { # name server-addr
	case "$1" in
	healthz) echo "/healthz" ;;
	leaderboard) echo "/api/leaderboard" ;;
	leaderboard-gzip) echo "/api/leaderboard" ;;
	leaderboard-304) echo "/api/leaderboard" ;;
	stats | stats-304) echo "/api/stats" ;;
	esac
}

run_one() { # server-name addr endpoint round
	local path hdr=()
	path=$(wrk_args "$3")
	case "$3" in
	leaderboard-gzip) hdr=(-H "Accept-Encoding: gzip") ;;
	*-304)
		local etag
		etag=$(curl -sS -D - -o /dev/null "http://$2$path" | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: //p')
		# A build without ETags answers 200s: the row then measures what it did then.
		[ -n "$etag" ] && hdr=(-H "If-None-Match: $etag")
		;;
	esac
	local f="$out/$1-$3-$4.txt"
	wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "${hdr[@]}" "http://$2$path" >"$f" 2>&1
	local rps
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$f")
	local non2xx
	non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $5}' "$f")
	echo "$1 $3 $4 ${rps:-0} ${non2xx:-0}" >>"$out/rps.txt"
	printf '%-4s %-17s round %d: %10s req/s%s\n' "$1" "$3" "$4" "${rps:-?}" "${non2xx:+ (non-2xx/3xx: $non2xx)}" >&2
}

: >"$out/rps.txt"
for r in $(seq 1 "$ROUNDS"); do
	for ep in "${endpoints[@]}"; do
		if [ $((r % 2)) -eq 1 ]; then
			run_one old "$OLD_ADDR" "$ep" "$r"
			run_one new "$NEW_ADDR" "$ep" "$r"
		else
			run_one new "$NEW_ADDR" "$ep" "$r"
			run_one old "$OLD_ADDR" "$ep" "$r"
		fi
	done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"

summary "$out/rps.txt" | tee "$out/summary.md"
cat "$out/machine.txt" >&2
echo "results in $out" >&2
