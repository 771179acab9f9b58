#!/usr/bin/env bash
# Runs every test of the solution and ends with one line: "N passed, N failed, N skipped".
# Services the tests need are started here and stopped on exit.
set -uo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

results="$(mktemp -d)"
. tests/infra/postgres.sh
. tests/infra/s3.sh
. tests/infra/chromium.sh
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

# Debian's chromium for the review page's browser test (installed with apt-get when root and missing), unless
# CHECKPOINTING_CHROMIUM names one. When there is none the browser test fails and says how to get one.
chromium_ensure || echo "chromium: none available; the browser test will fail" >&2

dotnet build Checkpointing.sln -c Release -nologo -v minimal || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }

status=0
dotnet test --solution Checkpointing.sln -c Release --no-build "$@" 2>&1 | tee "$results/test.log"
status=${PIPESTATUS[0]}

# The counts of the run's closing summary ("total: / failed: / succeeded: / skipped:"), which covers every test
# assembly of the solution.
read -r passed failed skipped < <(node - "$results/test.log" <<'JS' 2>/dev/null || echo "0 0 0"
const text = require("fs").readFileSync(process.argv[2], "utf8").replace(/\x1b\[[0-9;]*m/g, "");
const summary = text.slice(text.lastIndexOf("Test run summary"));
const count = name => +((new RegExp("^\\s*" + name + ":\\s*(\\d+)", "m").exec(summary) || [0, 0])[1]);
console.log(count("succeeded"), count("failed") + count("error"), count("skipped"));
JS
)
if [ "$status" -ne 0 ] && [ "${failed:-0}" -eq 0 ]; then failed=1; fi
echo "${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped"
exit "$status"
