#!/usr/bin/env bash
# End-to-end ground truth: every exchange event exactly once in the merged stream and in the
# archive, for all ten venues, under faults. Runs TestIntegrationExactlyOnce (bench/truth),
# which drives the real binary (bin/tickline, built here):
#   - `tickline sim` with all ten venues writing its event log (--events: the oracle);
#   - two gateways in one region; one line delayed 2 s by a shaper and cut twice;
#   - one gateway restarted mid-run; the archiver SIGKILLed and restarted;
#   - the leader of an archive partition SIGKILLed on the 3-broker Kafka, then restarted;
#   - `tickline tap` (the merged stream) and the archive (read back with franz-go) compared
#     with the simulator's events: per venue emitted, delivered, archived, lost, duplicated.
# Prints the per-venue table and exits non-zero when any venue lost or duplicated an event.
#
#   scripts/ci/exactly-once.sh                   (starts a 3-broker Kafka with with-kafka.sh)
#   scripts/kafka/with-kafka.sh cluster -- scripts/ci/exactly-once.sh
#
# Environment: TRUTH_GENERATE (how long the simulator generates, default 50s), TRUTH_RATE
# (events/s per book, default 20), TRUTH_DIR (keep the run's files there: logs, topology,
# events.jsonl, tap.jsonl, archive.tsv, table.txt). Bounded: the test has a 170 s timeout
# (a run takes ~70 s, plus ~20 s to start and stop Kafka).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${KAFKA_SEEDS:-}" ]; then
  exec scripts/kafka/with-kafka.sh cluster -- "$0" "$@"
fi
t0=$SECONDS
go build -o bin/tickline ./cmd/tickline
dir=${TRUTH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/tickline-exactly-once.XXXXXX")}
mkdir -p "$dir"
rm -f "$dir/table.txt"
set +e
KAFKA_FAULT=1 TICKLINE_BIN="$PWD/bin/tickline" TRUTH_DIR="$dir" TRUTH_REPORT="$dir/table.txt" \
  TRUTH_GENERATE="${TRUTH_GENERATE:-50s}" \
  go test -count=1 -p 1 -timeout 170s -run '^TestIntegrationExactlyOnce$' -v ./bench/truth/ 2>&1 |
  grep -v '^=== RUN\|^--- PASS\|^PASS$' | sed 's/^/  /'
rc=${PIPESTATUS[0]}
set -e
echo
if [ -s "$dir/table.txt" ]; then
  echo "exactly-once: per-venue ground truth (files in $dir):"
  cat "$dir/table.txt"
else
  echo "exactly-once: no table (the run failed before the comparison); files in $dir"
fi
echo "exactly-once: $([ "$rc" -eq 0 ] && echo PASS || echo FAIL) in $((SECONDS - t0))s"
exit "$rc"
