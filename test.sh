#!/usr/bin/env bash
# Runs every test of the solution and ends with one line: "N passed, N failed, N skipped".
# Services the tests need are started here and stopped on exit.
set -uo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

results="$(mktemp -d)"
. tests/infra/postgres.sh
. tests/infra/s3.sh
trap 'pg_stop; s3_stop; rm -rf "$results"' EXIT
trap 'exit 130' INT TERM

# A throwaway PostgreSQL server for Checkpointing.Postgres.Tests, unless one is given in CHECKPOINTING_POSTGRES.
# When none can be started the Postgres tests fail and say why (they never pass without a server).
if [ -z "${CHECKPOINTING_POSTGRES:-}" ]; then
  pg_start || echo "postgres: could not start a server; the Postgres tests will fail" >&2
fi

# A throwaway S3-compatible server (a patched npm emulator) for Checkpointing.S3.Tests, unless CHECKPOINTING_S3_URL is
# given. When none can be started the S3 tests fail and say why.
if [ -z "${CHECKPOINTING_S3_URL:-}" ]; then
  s3_start || echo "s3: could not start the emulator; the S3 tests will fail" >&2
fi

dotnet build Checkpointing.sln -c Release -nologo -v minimal || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }

status=0
dotnet test --solution Checkpointing.sln -c Release --no-build \
  --report-xunit-trx --results-directory "$results" "$@" || status=$?

# Sum the counters of every TRX report.
read -r passed failed skipped < <(node - "$results" <<'JS' 2>/dev/null || echo "0 0 0"
const fs = require("fs"), path = require("path");
let p = 0, f = 0, s = 0;
const walk = d => fs.readdirSync(d, { withFileTypes: true }).flatMap(e => e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]);
for (const file of walk(process.argv[2]).filter(x => x.endsWith(".trx"))) {
  const m = /<Counters ([^>]*)\/>/.exec(fs.readFileSync(file, "utf8"));
  if (!m) continue;
  const a = Object.fromEntries([...m[1].matchAll(/(\w+)="(\d+)"/g)].map(x => [x[1], +x[2]]));
  p += a.passed || 0;
  f += (a.failed || 0) + (a.error || 0) + (a.timeout || 0) + (a.aborted || 0);
  s += a.notExecuted || 0;
}
console.log(p, f, s);
JS
)
if [ "$status" -ne 0 ] && [ "${failed:-0}" -eq 0 ]; then failed=1; fi
echo "${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
exit "$status"
