#!/bin/bash
# cs.sh BIN RATE LABEL: one node in Redis mode, 2000 players at RATE clicks/s for 20 s;
# Redis's commandstats over 10 s of the window and the processes' CPU.
cd /tmp/prof
BIN=$1 RATE=$2 LABEL=$3
{ (sleep 12; redis-cli -p 16555 config resetstat >/dev/null; sleep 10; redis-cli -p 16555 info commandstats > cs-$LABEL.txt) & CTB=$BIN PROCS=1 ./rig.sh $RATE 20s; wait; } > out-$LABEL.txt
awk -F'[=,:]' '/evalsha_ro|cmdstat_evalsha:/{printf "%s calls %s usec %s  ", $2, $4, $6}' cs-$LABEL.txt
grep -E "accepted|CPU" out-$LABEL.txt | tr '\n' ' '; echo
