#!/bin/bash
# usage: rig.sh RATE DURATION [extra loadgen flags]
set -u; LGENV=${LGENV:-X=1}
cd /tmp/prof
RATE=${1:-12500}; DUR=${2:-20s}; shift 2
rm -rf redis/* data/*
redis-server --port 16555 --bind 127.0.0.1 --save '' --appendonly no --dir /tmp/prof/redis >redis.log 2>&1 &
RP=$!
sleep 0.5
${CTB:-./ctb} --addr 127.0.0.1:18555 --redis redis://127.0.0.1:16555 --data /tmp/prof/data --pprof-addr 127.0.0.1:18556 --new-players-per-minute 0 --sockets-per-ip 0 --conns-per-ip 0 --max-conns 19500 >node.log 2>&1 &
NP=$!
sleep 1.5
env $LGENV ./loadgen -url http://127.0.0.1:18555 -clients 2000 -rate $RATE -procs ${PROCS:-2} -src 127.0.0.1-127.0.0.8 -duration $DUR -server-pid $NP -watch-pid redis=$RP "$@" > lg.log 2>&1
kill $NP; wait $NP; redis-cli -p 16555 shutdown nosave >/dev/null 2>&1; wait $RP
grep -E "accepted|CPU|cores|per client|ack ms|frames:" lg.log | head -20
