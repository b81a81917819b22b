#!/bin/bash
# watch.sh OUTFILE LOGDIR_GLOB: snapshot redis commandstats 6 s and 16 s after the loadgen connected
out=$1; root=$2
sleep 20
while :; do
  d=$(ls -d $root/bench/results/scaleout-* 2>/dev/null | tail -1)
  if [ -f "$d/loadgen.log" ] && grep -q "connected in" "$d/loadgen.log" 2>/dev/null; then break; fi
  sleep 1
done
sleep 6
redis-cli -p 27379 info commandstats > $out.1; redis-cli -p 27379 info cpu >> $out.1
sleep 10
redis-cli -p 27379 info commandstats > $out.2; redis-cli -p 27379 info cpu >> $out.2
