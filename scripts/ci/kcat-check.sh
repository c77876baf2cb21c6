#!/usr/bin/env bash
# Archive read back with an independent Kafka client: runs the real binary (simulator, both
# demo gateways, archiver) against the Kafka of KAFKA_SEEDS for a few seconds, then reads
# every archived record back with Debian's kcat and checks that each one sits in the
# partition archiver.partitions gives its exchange (header tickline.exchange), under its
# region's topic (tickline.region), with archive sequences increasing by one per partition.
#
#   scripts/kafka/with-kafka.sh single -- scripts/ci/kcat-check.sh
#
# Environment:
#   KAFKA_SEEDS        bootstrap list host:port,... (required; with-kafka.sh exports it)
#   KAFKA_RF           replication factor of the topics it creates (default 1)
#   KCAT_RUN_SECONDS   how long the pipeline runs (default 12)
#   KCAT_MIN_RECORDS   fewest records to read back, all topics together (default 1000)
#   KCAT_KILL=1        SIGKILL the archiver halfway, restart it 2 s later: the restarted one
#                      recovers its spool and fetches what the gateways published meanwhile
#                      from their journals (the check then also wants its "restart window"
#                      logged, and no retransmit loss)
#   KCAT_KEEP=1        keep the temporary directory (topology, logs, spool)
# The topics get unique names (kcat-<pid>-<time>.<region>) and are left on the brokers.
# Every step is bounded in time; the script stops what it started on any exit.
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${KAFKA_SEEDS:?KAFKA_SEEDS is not set (run under scripts/kafka/with-kafka.sh)}"
RF=${KAFKA_RF:-1}
RUN_SECONDS=${KCAT_RUN_SECONDS:-12}
MIN_RECORDS=${KCAT_MIN_RECORDS:-1000}
BIN=bin/tickline
t0=$SECONDS

log() { echo "kcat-check: [$((SECONDS - t0))s] $*" >&2; }
die() { log "FAIL: $*"; exit 1; }
command -v kcat >/dev/null 2>&1 || die "kcat not found (apt-get install kcat)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tickline-kcat.XXXXXX")
pids=()
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${pids[@]+"${pids[@]}"}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]+"${pids[@]}"}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$rc" -ne 0 ]; then
    for f in "$tmp"/*.log; do [ -f "$f" ] && { echo "---- tail of $(basename "$f") ----" >&2; tail -n 20 "$f" >&2; }; done
  fi
  if [ "${KCAT_KEEP:-}" = 1 ]; then log "kept $tmp"; else rm -rf "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port prints a loopback TCP port nothing listens on (the kernel's pick through python3
# when it is there; else a random one below the ephemeral range, checked with /dev/tcp).
used_ports=" "
free_port() {
  local p
  for _ in $(seq 1 50); do
    if command -v python3 >/dev/null 2>&1; then
      p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    else
      p=$((20000 + RANDOM % 12000))
    fi
    if [[ "$used_ports" != *" $p "* ]] && ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      used_ports+="$p "
      echo "$p"
      return 0
    fi
  done
  die "no free port found"
}

# wait_for SECONDS WHAT CMD...: poll CMD every 0.2 s until it succeeds or SECONDS pass.
wait_for() {
  local limit=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    [ $SECONDS -lt $limit ] || die "timed out waiting for $what"
    sleep 0.2
  done
}

# stop PID NAME GRACE: SIGTERM, wait up to GRACE seconds, then SIGKILL.
stop() {
  local pid=$1 name=$2 limit=$((SECONDS + $3))
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $limit ]; do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name did not stop within $3 s; SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || log "$name exited with status $?"
}

log "building $BIN"
timeout 300 go build -o "$BIN" ./cmd/tickline

"$BIN" sim --listen 127.0.0.1:0 >"$tmp/sim.log" 2>&1 &
pids+=($!)
sim_addr() { sed -n 's/^tickline sim: serving .* on \(127\.0\.0\.1:[0-9]*\) .*/\1/p' "$tmp/sim.log" | head -n1; }
sim_up() { [ -n "$(sim_addr)" ]; }
wait_for 30 "the simulator to listen" sim_up
sim=$(sim_addr)
log "simulator on $sim"

# The demo topology with every fixed port replaced by a free one (metrics removed), the
# simulator's address, the seeds, unique topic names, this RF and a spool in $tmp.
prefix="kcat-$$-$(date +%s)"
seeds=${KAFKA_SEEDS//,/, }
subst=(-e "s#127\.0\.0\.1:18080#$sim#g" -e "s#ticks\.#$prefix.#g" -e "/^ *metrics: /d"
  -e "s#^\(  seeds:\).*#\1 [$seeds]#" -e "s#^\(  replication_factor:\).*#\1 $RF#"
  -e "s#^\(  spool_dir:\).*#\1 $tmp/spool#")
for port in 7101 7102 7201 7202 7301 7401; do
  subst+=(-e "s#127\.0\.0\.1:$port\\b#127.0.0.1:$(free_port)#g")
done
sed "${subst[@]}" configs/demo.yaml >"$tmp/topology.yaml"
if grep -nE '127\.0\.0\.1:(18080|7[1-4]0[12]|9[0-9]{3})\b' "$tmp/topology.yaml"; then die "fixed ports left in the topology"; fi
"$BIN" check-config "$tmp/topology.yaml" >&2

# partition map and topics, read back from the topology the archiver runs on
awk '/^  partitions:/ { f = 1; next } f && /^    [a-z]+: *[0-9]+/ { sub(":", "", $1); print $1, $2; next } f { f = 0 }' \
  "$tmp/topology.yaml" >"$tmp/partitions"
awk '/^  topics:/ { f = 1; next } f && /^    [a-z0-9-]+: / { sub(":", "", $1); print $1, $2; next } f { f = 0 }' \
  "$tmp/topology.yaml" >"$tmp/topics"
if [ ! -s "$tmp/partitions" ] || [ ! -s "$tmp/topics" ]; then die "no partitions or topics in the topology"; fi

gateways=$(sed -n 's/^  - id: \(gw-[a-z0-9-]*\)$/\1/p' "$tmp/topology.yaml")
for id in $gateways; do
  "$BIN" gateway --config "$tmp/topology.yaml" --id "$id" >"$tmp/$id.log" 2>&1 &
  pids+=($!)
done
"$BIN" archiver --config "$tmp/topology.yaml" >"$tmp/archiver.log" 2>&1 &
archiver=$!
pids+=("$archiver")
wait_for 90 "the archiver to run" grep -q 'msg="archiver: running"' "$tmp/archiver.log"
log "gateways ${gateways//$'\n'/ } and the archiver run; archiving for ${RUN_SECONDS}s"
if [ "${KCAT_KILL:-}" = 1 ]; then
  sleep $((RUN_SECONDS / 2))
  kill -KILL "$archiver"
  wait "$archiver" 2>/dev/null || true
  log "archiver SIGKILLed; restarting it in 2 s"
  sleep 2
  "$BIN" archiver --config "$tmp/topology.yaml" >>"$tmp/archiver.log" 2>&1 &
  archiver=$!
  pids[${#pids[@]} - 1]=$archiver
  restarted() { [ "$(grep -c 'msg="archiver: running"' "$tmp/archiver.log")" -ge 2 ]; }
  wait_for 90 "the archiver to run again" restarted
  sleep $((RUN_SECONDS - RUN_SECONDS / 2))
else
  sleep "$RUN_SECONDS"
fi

# Stop in pipeline order: the gateways, then the archiver (it flushes), then the simulator.
n=${#pids[@]}
for ((i = 1; i < n - 1; i++)); do stop "${pids[$i]}" "gateway" 15; done
stop "$archiver" archiver 40
stop "${pids[0]}" simulator 10
pids=()
grep -E 'level=(ERROR|WARN) msg="archiver: ' "$tmp/archiver.log" | head -n 20 >&2 || true

# Read everything back and check it.
total=0
fail=0
while read -r region topic; do
  log "reading $topic back with kcat"
  timeout 120 kcat -C -b "$KAFKA_SEEDS" -t "$topic" -o beginning -e -q -f '%p %o %h\n' >"$tmp/$region.kcat" ||
    die "kcat failed reading $topic"
  if ! awk -v region="$region" -v topic="$topic" -v summary="$tmp/$region.summary" '
    FNR == NR { part[$1] = $2; next }       # the partition map
    NF < 3 { bad++; if (bad <= 5) print "record without headers: " $0 > "/dev/stderr"; next }
    {
      p = $1; off = $2; n++
      ex = ""; rg = ""; aseq = ""
      k = split($3, hs, ",")
      for (i = 1; i <= k; i++) {
        eq = index(hs[i], "=")
        key = substr(hs[i], 1, eq - 1); val = substr(hs[i], eq + 1)
        if (key == "tickline.exchange") ex = val
        else if (key == "tickline.region") rg = val
        else if (key == "tickline.archive_seq") aseq = val + 0
      }
      count[p SUBSEP ex]++
      if (ex == "" || !(ex in part) || part[ex] != p) {
        bad++; if (bad <= 5) printf "%s partition %s offset %s: exchange %s belongs in partition %s\n", topic, p, off, (ex == "" ? "(none)" : ex), ((ex in part) ? part[ex] : "(none)") > "/dev/stderr"
      }
      if (rg != region) { bad++; if (bad <= 5) printf "%s partition %s offset %s: region header %s\n", topic, p, off, rg > "/dev/stderr" }
      if ((p in last) && aseq != last[p] + 1) {
        bad++; if (bad <= 5) printf "%s partition %s offset %s: archive seq %s after %s\n", topic, p, off, aseq, last[p] > "/dev/stderr"
      }
      last[p] = aseq
    }
    END {
      for (key in count) { split(key, pe, SUBSEP); printf "  %-14s partition %2s  %-9s %7d\n", topic, pe[1], pe[2], count[key] > summary }
      printf "%d %d\n", n, bad
      exit (bad > 0)
    }' "$tmp/partitions" "$tmp/$region.kcat" >"$tmp/$region.result"; then
    fail=1
  fi
  read -r got bad <"$tmp/$region.result"
  sort -k3,3n "$tmp/$region.summary" 2>/dev/null || true
  log "$topic: $got records, $bad misplaced or out of sequence"
  total=$((total + got))
done <"$tmp/topics"

[ "$fail" -eq 0 ] || die "records outside their exchange's partition (or region, or archive sequence)"
if [ "${KCAT_KILL:-}" = 1 ]; then
  windows=$(grep -c 'msg="archiver: retransmitted"' "$tmp/archiver.log" || true)
  lost=$(grep -c 'level=ERROR msg="archiver: .*retransmit\|level=ERROR msg="archiver: the gateway.s journal' "$tmp/archiver.log" || true)
  log "after the kill: $windows restart windows retransmitted, $lost retransmit losses logged"
  if [ "$windows" -lt 1 ] || [ "$lost" -ne 0 ]; then die "the restarted archiver did not recover the kill window from the journals"; fi
fi
[ "$total" -ge "$MIN_RECORDS" ] || die "read $total records back, want at least $MIN_RECORDS"

# Replay at max speed vs kcat's consume rate, same topic, same run (reported, not enforced:
# a ~100k-record topic is dominated by start-up on both sides).
read -r region topic <"$tmp/topics"
ns() { date +%s%N; }
t1=$(ns)
n_kcat=$(timeout 120 kcat -C -b "$KAFKA_SEEDS" -t "$topic" -o beginning -e -q -f '%o\n' | wc -l)
t2=$(ns)
timeout 120 "$BIN" replay --config "$tmp/topology.yaml" --topics "$topic" --speed max --output jsonl --path /dev/null --progress=false 2>"$tmp/replay.log" ||
  die "replay failed: $(tail -3 "$tmp/replay.log")"
t3=$(ns)
rate() { awk -v n="$1" -v d="$2" 'BEGIN { printf "%.0f", n / (d / 1e9) }'; }
log "read-back rate on $topic ($n_kcat records): kcat $(rate "$n_kcat" $((t2 - t1))) records/s, tickline replay --speed max to JSONL $(rate "$n_kcat" $((t3 - t2))) records/s"
log "OK: $total records read back with kcat, every one in its exchange's partition ($((SECONDS - t0))s)"
