#!/usr/bin/env bash
# Starts a throwaway S3-compatible server for the tests; meant to be sourced by test.sh.
#
#   s3_start   install (npm ci from tests/infra/s3/package-lock.json) and patch the emulator when needed, start it on a
#              free port on 127.0.0.1 with a temporary data directory, export CHECKPOINTING_S3_URL,
#              CHECKPOINTING_S3_ACCESS_KEY and CHECKPOINTING_S3_SECRET_KEY; returns non-zero on failure
#   s3_stop    stop the server by the process id s3_start recorded and delete its directory (safe to call twice)
#
# The emulator is @20minutes/s3rver 5.0.0 with three local fixes in tests/infra/s3/s3rver.patch (see the comments in
# it). node_modules lives under tests/infra/s3 (ignored by git) and is reinstalled when the lockfile or the patch
# changes. Runs as any user: nothing needs root.

S3_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/s3" && pwd)"
S3_TMP=""
S3_PID=""

s3_install() {
  local stamp="$S3_DIR/node_modules/.checkpointing-stamp" want
  want="$(cat "$S3_DIR/package-lock.json" "$S3_DIR/s3rver.patch" | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  echo "s3: installing @20minutes/s3rver with npm ci" >&2
  rm -rf "$S3_DIR/node_modules"
  # The package declares node >= 24 but runs on Node 20; engine-strict stays off so npm only warns.
  (cd "$S3_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2) || { echo "s3: npm ci failed" >&2; return 1; }
  patch -p1 --forward --silent -d "$S3_DIR/node_modules/@20minutes/s3rver" < "$S3_DIR/s3rver.patch" >&2 \
    || { echo "s3: applying s3rver.patch failed" >&2; return 1; }
  echo "$want" > "$stamp"
}

s3_start() {
  command -v node >/dev/null 2>&1 || { echo "s3: node is not installed (Node 20 or newer is needed)" >&2; return 1; }
  s3_install || return 1
  S3_TMP="$(mktemp -d "${TMPDIR:-/tmp}/checkpointing-s3.XXXXXX")" || return 1
  mkdir -p "$S3_TMP/data"
  node "$S3_DIR/server.js" "$S3_TMP/data" >"$S3_TMP/server.out" 2>"$S3_TMP/server.log" &
  S3_PID=$!
  local port="" i
  for i in $(seq 1 100); do
    port="$(sed -n 's/^port=\([0-9][0-9]*\)$/\1/p' "$S3_TMP/server.out" 2>/dev/null)"
    [ -n "$port" ] && break
    kill -0 "$S3_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "s3: the emulator did not start:" >&2; cat "$S3_TMP/server.log" >&2
    s3_stop; return 1
  fi
  export CHECKPOINTING_S3_URL="http://127.0.0.1:$port"
  export CHECKPOINTING_S3_ACCESS_KEY="S3RVER" CHECKPOINTING_S3_SECRET_KEY="S3RVER"
  echo "s3: @20minutes/s3rver on $CHECKPOINTING_S3_URL (pid $S3_PID, data in $S3_TMP)" >&2
}

s3_stop() {
  if [ -n "$S3_PID" ]; then
    kill "$S3_PID" 2>/dev/null && wait "$S3_PID" 2>/dev/null
    S3_PID=""
  fi
  [ -n "$S3_TMP" ] && rm -rf "$S3_TMP"
  S3_TMP=""
  return 0
}
