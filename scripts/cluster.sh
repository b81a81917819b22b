#!/usr/bin/env bash
# make cluster: one game on three nodes, on this machine. Starts a redis-server (with
# its append-only file) and three clickthebutton nodes on consecutive ports, each with
# a data folder of its own, prints their URLs, and stops everything on Ctrl-C.
#
#   PORT        first node's port (default 8081: nodes on 8081, 8082, 8083)
#   REDIS_PORT  Redis's port (default 6380, beside a system Redis on 6379)
#   DIR         where the folders go (default ./data/cluster: redis/, node1/ ...)
#   NODES       how many nodes (default 3)
#   BIN         the binary (default bin/clickthebutton; make cluster builds it)
# Any CTB_* variable (CTB_ADMIN_TOKEN, say) reaches every node.
set -euo pipefail

PORT=${PORT:-8081}
REDIS_PORT=${REDIS_PORT:-6380}
DIR=${DIR:-data/cluster}
NODES=${NODES:-3}
BIN=${BIN:-bin/clickthebutton}

[ -x "$BIN" ] || { echo "no $BIN: run make build (make cluster does)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server not found: apt-get install redis-server" >&2; exit 1; }

busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$REDIS_PORT" $(seq "$PORT" $((PORT + NODES - 1))); do
	if busy "$p"; then
		echo "port $p is taken: set PORT or REDIS_PORT" >&2
		exit 1
	fi
done

pids=()
stop() {
	trap - INT TERM EXIT
	echo
	echo "stopping the nodes, then Redis"
	for pid in "${pids[@]:1}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]:1}"; do wait "$pid" 2>/dev/null || true; done
	kill -TERM "${pids[0]}" 2>/dev/null || true
	wait "${pids[0]}" 2>/dev/null || true
	echo "stopped; the game stays in $DIR/redis (and each node's backup in $DIR/node*/scores.csv)"
}
trap stop INT TERM EXIT

# Every child runs in a session of its own, so that Ctrl-C reaches this script only and
# it stops them in order: the nodes first (their last snapshot needs Redis), then Redis.
mkdir -p "$DIR/redis"
setsid redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DIR/redis" \
	--appendonly yes --appendfsync everysec --save "" --loglevel warning &
pids+=($!)
for _ in $(seq 1 100); do
	redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
	sleep 0.1
done

url="redis://127.0.0.1:$REDIS_PORT"
for i in $(seq 1 "$NODES"); do
	port=$((PORT + i - 1))
	setsid "$BIN" --addr "127.0.0.1:$port" --data "$DIR/node$i" --redis "$url" > >(sed -u "s/^/node$i: /") 2>&1 &
	pids+=($!)
done
for i in $(seq 1 "$NODES"); do
	port=$((PORT + i - 1))
	for _ in $(seq 1 200); do
		curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && break
		sleep 0.05
	done
done

echo
echo "One game on $NODES nodes, kept in Redis at $url:"
for i in $(seq 1 "$NODES"); do
	echo "  node$i  http://127.0.0.1:$((PORT + i - 1))/"
done
echo "Open two of them in two browsers: clicks on one show on the others' boards."
echo "Ctrl-C stops everything."
wait
