#!/usr/bin/env bash
# Leader-failover demonstration on a running 3-node cluster (kafka.sh start cluster):
# create an RF=3 topic, stream records into partition 0 with kcat (acks=all, idempotent),
# SIGKILL the partition leader mid-stream, wait for a new leader, restart the killed node,
# wait until it is back in the ISR, then read the partition back and check that every record
# arrived once and in order. Bounded: every wait has a deadline.
#   usage: fault-demo.sh [--dir DIR] [RECORDS]      (needs kcat)
set -euo pipefail
K="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/kafka.sh"
dirargs=()
if [ "${1:-}" = --dir ]; then dirargs=(--dir "$2"); shift 2; fi
N=${1:-3000}
command -v kcat >/dev/null || { echo "fault-demo: kcat not installed" >&2; exit 1; }
seeds=$("$K" seeds "${dirargs[@]}")
topic="faultdemo-$$"
ts() { date +%s.%N | cut -c1-14; }
t0=$(ts)
el() { awk -v a="$t0" -v b="$(ts)" 'BEGIN{printf "%6.2fs", b-a}'; }
say() { echo "[$(el)] $*"; }

"$K" tool org.apache.kafka.tools.TopicCommand "${dirargs[@]}" --bootstrap-server "$seeds" \
  --create --topic "$topic" --partitions 3 --replication-factor 3 --config min.insync.replicas=2 >/dev/null
leader=$("$K" leader "$topic" 0 "${dirargs[@]}")
say "topic $topic created; partition 0 leader=$leader isr=$("$K" isr "$topic" 0 "${dirargs[@]}")"

# producer: ~N records over ~N*5ms, so the kill lands mid-stream
(for ((i = 1; i <= N; i++)); do echo "$i"; [ $((i % 10)) -eq 0 ] && sleep 0.05; done) |
  timeout 180 kcat -b "$seeds" -P -t "$topic" -p 0 -X acks=all -X enable.idempotence=true \
    -X linger.ms=5 -X message.timeout.ms=120000 2>"/tmp/fault-demo-kcat.$$.log" &
prod=$!
sleep 3
say "SIGKILL leader node $leader (producer running)"
"$K" kill-broker "$leader" "${dirargs[@]}"
deadline=$((SECONDS + 60)); newl=""
while [ $SECONDS -lt $deadline ]; do
  newl=$("$K" leader "$topic" 0 "${dirargs[@]}" 2>/dev/null || true)
  if [ -n "$newl" ] && [ "$newl" != "$leader" ] && [ "$newl" != "-1" ] && [ "$newl" != none ]; then break; fi
  newl=""; sleep 0.5
done
[ -n "$newl" ] || { echo "fault-demo: no new leader within 60s" >&2; exit 1; }
say "new leader=$newl isr=$("$K" isr "$topic" 0 "${dirargs[@]}")"
say "restarting node $leader"
"$K" restart-broker "$leader" "${dirargs[@]}"
say "node $leader process ready"
deadline=$((SECONDS + 90)); isr=""
while [ $SECONDS -lt $deadline ]; do
  isr=$("$K" isr "$topic" 0 "${dirargs[@]}" 2>/dev/null || true)
  case ",$isr," in *",$leader,"*) break ;; esac
  isr=""; sleep 1
done
[ -n "$isr" ] || { echo "fault-demo: node $leader did not rejoin the ISR within 90s" >&2; exit 1; }
say "node $leader back in ISR: isr=$isr leader=$("$K" leader "$topic" 0 "${dirargs[@]}")"
wait "$prod" || { echo "fault-demo: producer failed:" >&2; cat "/tmp/fault-demo-kcat.$$.log" >&2; exit 1; }
say "producer done"
got=$(timeout 60 kcat -b "$seeds" -C -t "$topic" -p 0 -o beginning -e -q 2>/dev/null)
count=$(printf '%s\n' "$got" | grep -c . || true)
inorder=$(printf '%s\n' "$got" | awk -v n="$N" 'NR!=$1{bad=1} END{print (bad||NR!=n)?"NO":"yes"}')
say "read back $count/$N records from partition 0; exactly-once and in order: $inorder"
grep -v '^$' "/tmp/fault-demo-kcat.$$.log" | tail -n 5 | sed 's/^/  kcat: /' || true
rm -f "/tmp/fault-demo-kcat.$$.log"
[ "$count" -eq "$N" ] && [ "$inorder" = yes ]
