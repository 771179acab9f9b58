#!/usr/bin/env bash
# Runs the benchmark suite (P1-P7 by default) against a throwaway PostgreSQL server and the S3 emulator, started as
# test.sh starts them (tests/infra/postgres.sh, tests/infra/s3.sh) unless CHECKPOINTING_POSTGRES / CHECKPOINTING_S3_URL
# are given, and writes the result tables to benchmarks/results.md (with arguments: to
# benchmarks/BenchmarkDotNet.Artifacts/results.md, so a partial or dry run leaves the recorded results alone).
#
#   benchmarks/run.sh                          the whole suite (about 20 minutes on 2 cores)
#   benchmarks/run.sh --filter '*P3*'          one class; any BenchmarkDotNet argument is passed on
#   benchmarks/run.sh --job dry --inProcess    a quick dry run (one invocation each) of the whole suite
set -uo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

. tests/infra/postgres.sh
. tests/infra/s3.sh
# A folder of this run's own for the stores' files, so that two runs on one machine never share (or delete) them.
export TMPDIR="$(mktemp -d "${TMPDIR:-/tmp}/checkpointing-bench.XXXXXX")"
trap 'pg_stop; s3_stop; rm -rf "$TMPDIR"' EXIT
trap 'exit 130' INT TERM

if [ -z "${CHECKPOINTING_POSTGRES:-}" ]; then pg_start || { echo "postgres: could not start a server" >&2; exit 1; }; fi
if [ -z "${CHECKPOINTING_S3_URL:-}" ]; then s3_start || { echo "s3: could not start the emulator" >&2; exit 1; }; fi

dotnet build benchmarks/Checkpointing.Benchmarks -c Release -nologo -v quiet || exit 1

artifacts="benchmarks/BenchmarkDotNet.Artifacts"
rm -rf "$artifacts/results"
args=("$@")
if ! printf '%s\n' "${args[@]}" | grep -qx -- '--filter'; then args+=(--filter '*.P1*' '*.P2*' '*.P3*' '*.P4*' '*.P5*' '*.P6*' '*.P7*'); fi
started=$(date +%s)
dotnet benchmarks/Checkpointing.Benchmarks/bin/Release/net10.0/Checkpointing.Benchmarks.dll \
  --artifacts "$artifacts" --exporters github "${args[@]}"
status=$?
elapsed=$(( $(date +%s) - started ))

# A run with its own job (e.g. --job dry) or filter is not the suite's result: it goes next to the artifacts.
results="benchmarks/results.md"
if [ "$#" -gt 0 ]; then results="$artifacts/results.md"; fi
{
  echo "# Benchmark results"
  echo
  echo "Written by \`benchmarks/run.sh $*\` on $(date -u '+%Y-%m-%d %H:%M UTC') in $((elapsed / 60)) min $((elapsed % 60)) s."
  echo "Machine: $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)), $(free -g | awk '/^Mem:/ {print $2}') GB RAM,"
  echo "$(. /etc/os-release && echo "$PRETTY_NAME"), .NET $(dotnet --version); PostgreSQL $( ([ -n "${PG_BIN:-}" ] && "$PG_BIN/postgres" --version | awk '{print $3}') || echo "(given)") (fsync off, as tests/infra/postgres.sh starts it); S3: @20minutes/s3rver 5.0.0 (patched) on 127.0.0.1."
  echo "Ratios are to the baseline of each class (its raw equivalent), taken in the same run. See README.md for the targets."
  for report in "$artifacts"/results/*-report-github.md; do
    [ -f "$report" ] || continue
    name="$(basename "$report" -report-github.md)"
    echo
    echo "## ${name##*.}"
    echo
    # The environment block (the same for every class) is printed once above; keep the table.
    sed -n '/^|/,$p' "$report"
  done
} > "$results"
echo "results: $results" >&2
exit "$status"
