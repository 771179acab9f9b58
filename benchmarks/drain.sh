#!/usr/bin/env bash
# Drain throughput of CheckpointWorker processes on one PostgreSQL database: queues RUNS auto-continue runs of the
# sample (4 phases, 5 generation jobs each) against the studio backend with a fixed latency per job, then times how
# long 1 worker and 3 workers (each with the default concurrency of 4) take to complete them all.
# Usage: benchmarks/drain.sh [runs=24] [latency_ms=500]. Prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-24}"
latency="${2:-500}"
. tests/infra/postgres.sh
trap 'pg_stop' EXIT
[ -n "${CHECKPOINTING_POSTGRES:-}" ] || pg_start >/dev/null
dotnet build samples/VideoPipeline -c Release -nologo -v quiet >/dev/null
app="samples/VideoPipeline/bin/Release/net10.0/VideoPipeline.dll"

drain() { # $1 = number of workers
  local workers="$1" data schema start end
  data="$(mktemp -d)"
  schema="drain_${workers}_$RANDOM$RANDOM"
  export Checkpointing__Store=postgres Checkpointing__Postgres="$CHECKPOINTING_POSTGRES" Checkpointing__PostgresSchema="$schema"
  export Studio__LatencyMilliseconds=0
  for ((i = 0; i < runs; i++)); do
    dotnet "$app" --data "$data" run --queue --auto-continue --beats 2 --duration 4 >/dev/null &
    if (( (i + 1) % 6 == 0 )); then wait; fi
  done
  wait
  export Studio__LatencyMilliseconds="$latency"
  start=$(date +%s.%N)
  for ((w = 0; w < workers; w++)); do
    dotnet "$app" --data "$data" worker --until-idle >/dev/null &
  done
  wait
  end=$(date +%s.%N)
  local completed
  completed=$(dotnet "$app" --data "$data" runs | grep -c "completed on main" || true)
  rm -rf "$data"
  awk -v w="$workers" -v n="$runs" -v c="$completed" -v s="$start" -v e="$end" -v l="$latency" \
    'BEGIN { t = e - s; printf "| %d | %d of %d | %.1f s | %.1f runs/min | %d ms |\n", w, c, n, t, n / t * 60, l }'
}

echo "| workers | runs completed | wall time | throughput | job latency |"
echo "|---|---|---|---|---|"
drain 1
drain 3
