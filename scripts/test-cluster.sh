#!/usr/bin/env bash
# Checks scripts/cluster.sh as a new user runs it: three nodes come up on one Redis,
# a player who joined on the first node is known on the last, and Ctrl-C (SIGINT)
# stops every process it started.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/clickthebutton}
tmp=$(mktemp -d)
trap 'kill -9 $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT

free() { # a free port p with p+1, p+2 free too
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && ! (exec 3<>"/dev/tcp/127.0.0.1/$((p + 1))") 2>/dev/null &&
			! (exec 3<>"/dev/tcp/127.0.0.1/$((p + 2))") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "no free ports" >&2
	exit 1
}
port=$(free)
redis_port=$(free)
# Job control gives the script a process group of its own, as a terminal's foreground
# job has, and keeps SIGINT from being ignored in it: then kill -INT on the group is
# exactly Ctrl-C.
set -m
PORT=$port REDIS_PORT=$redis_port DIR="$tmp/cluster" BIN=$BIN scripts/cluster.sh >"$tmp/out" 2>&1 &
pid=$!
set +m
for _ in $(seq 1 200); do
	grep -q "Ctrl-C stops everything" "$tmp/out" && break
	sleep 0.1
done
grep -q "node3  http://127.0.0.1:$((port + 2))/" "$tmp/out" || { cat "$tmp/out"; echo "FAIL cluster.sh did not print three node URLs" >&2; exit 1; }
for p in "$port" $((port + 1)) $((port + 2)); do
	curl -fsS -o /dev/null "http://127.0.0.1:$p/readyz" || { cat "$tmp/out"; echo "FAIL node on $p not ready" >&2; exit 1; }
done
curl -fsS -c "$tmp/jar" -H 'Content-Type: application/json' -d '{"handle":"traveller"}' "http://127.0.0.1:$port/api/session" >/dev/null
curl -fsS -b "$tmp/jar" "http://127.0.0.1:$((port + 2))/api/session" | grep -q '"handle":"traveller"' ||
	{ echo "FAIL the third node does not know the player who joined on the first" >&2; exit 1; }
# redis-server renames its process to its address.
procs() { pgrep -f -- "$tmp/cluster|redis-server 127.0.0.1:$redis_port" || true; }
children=$(procs)
kill -INT -- "-$pid"
for _ in $(seq 1 150); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then echo "FAIL cluster.sh still runs 15 s after Ctrl-C" >&2; exit 1; fi
sleep 0.2
left=$(procs)
[ -z "$left" ] || { echo "FAIL processes left after Ctrl-C: $left" >&2; ps -o pid,args -p "$left" >&2; exit 1; }
grep -q "stopped; the game stays" "$tmp/out" || { cat "$tmp/out"; echo "FAIL no orderly stop" >&2; exit 1; }
if grep -q "level=ERROR" "$tmp/out"; then cat "$tmp/out"; echo "FAIL a node logged an error" >&2; exit 1; fi
echo "ok   make cluster: 3 nodes on one Redis share a player; Ctrl-C stopped all $(echo "$children" | wc -w) processes"
