#!/usr/bin/env bash
# Run a command against a real Kafka started for it, and stop Kafka afterwards whatever happens.
#   with-kafka.sh single|cluster [--dir DIR] [--port BASE] -- COMMAND [ARGS...]
# Exports KAFKA_SEEDS (bootstrap list), KAFKA_RF (1 or 3), KAFKA_RUN_DIR, and the SASL_SSL
# listener's KAFKA_SECURE_SEEDS, KAFKA_CA, KAFKA_SASL_USER, KAFKA_SASL_PASSWORD to COMMAND and exits
# with COMMAND's status. Used by .ci/run, e.g.
#   scripts/kafka/with-kafka.sh cluster -- make test
set -euo pipefail
K="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/kafka.sh"
mode=${1:-}
case "$mode" in
  single) rf=1 ;;
  cluster) rf=3 ;;
  *) echo "usage: with-kafka.sh single|cluster [--dir DIR] [--port BASE] -- COMMAND [ARGS...]" >&2; exit 2 ;;
esac
shift
opts=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
[ "${1:-}" = -- ] && shift
[ $# -gt 0 ] || { echo "with-kafka.sh: no command given" >&2; exit 2; }

export KAFKA_RUN_DIR=${KAFKA_RUN_DIR:-${TMPDIR:-/tmp}/tickline-kafka}
for ((i = 0; i < ${#opts[@]}; i++)); do
  if [ "${opts[$i]}" = --dir ]; then KAFKA_RUN_DIR=${opts[$((i + 1))]}; fi
done
case "$KAFKA_RUN_DIR" in /*) ;; *) KAFKA_RUN_DIR="$PWD/$KAFKA_RUN_DIR" ;; esac
started=""
# shellcheck disable=SC2317  # invoked through trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$started" ] && [ -f "$KAFKA_RUN_DIR/cluster.env" ]; then "$K" stop "${opts[@]+"${opts[@]}"}" || true; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

out=$("$K" start "$mode" "${opts[@]+"${opts[@]}"}") || { started=1; exit 1; }
started=1
KAFKA_SEEDS=$(sed -n 's/^KAFKA_SEEDS=//p' <<<"$out")
[ -n "$KAFKA_SEEDS" ] || { echo "with-kafka.sh: kafka.sh start printed no KAFKA_SEEDS" >&2; exit 1; }
for v in KAFKA_SECURE_SEEDS KAFKA_CA KAFKA_SASL_USER KAFKA_SASL_PASSWORD; do
  val=$(sed -n "s/^$v=//p" <<<"$out")
  [ -n "$val" ] || { echo "with-kafka.sh: kafka.sh start printed no $v" >&2; exit 1; }
  export "$v=$val"
done
export KAFKA_SEEDS KAFKA_RF=$rf
echo "with-kafka.sh: KAFKA_SEEDS=$KAFKA_SEEDS KAFKA_RF=$KAFKA_RF: $*" >&2
set +e
"$@"
rc=$?
set -e
exit "$rc"
