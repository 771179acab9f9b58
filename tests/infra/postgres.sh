#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the tests; meant to be sourced by test.sh.
#
#   pg_start   initdb + start on a free port on 127.0.0.1, export CHECKPOINTING_POSTGRES; returns non-zero on failure
#   pg_stop    stop the cluster by its data directory and delete it (safe to call twice, or when nothing started)
#   pg_halt    stop the server of PG_TMP but keep its data (an outage); pg_resume starts it again on the same port
#
# A test that needs an outage of its own starts a private cluster in a subshell and passes PG_TMP back in:
#   bash -c '. tests/infra/postgres.sh && pg_start && echo "$PG_TMP"'
#   bash -c '. tests/infra/postgres.sh && PG_TMP=<dir> && pg_halt'     (pg_resume, pg_stop alike)
#
# As root the server runs as the "postgres" user (created when missing) through runuser, because PostgreSQL refuses
# to run as root; otherwise as the current user. Missing binaries are installed with apt-get when root.

PG_TMP=""
PG_BIN=""

pg_find_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then PG_BIN="$dir"; return 0; fi
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    PG_BIN="$(dirname "$(command -v initdb)")"; return 0
  fi
  return 1
}

pg_as() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();});'
}

pg_start() {
  if ! pg_find_bin; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "postgres: binaries missing, installing with apt-get" >&2
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) >&2 || return 1
      pg_find_bin || return 1
    else
      echo "postgres: no PostgreSQL binaries found (looked in /usr/lib/postgresql/*/bin and PATH); install PostgreSQL or set CHECKPOINTING_POSTGRES" >&2
      return 1
    fi
  fi

  # Under /tmp, not $TMPDIR: the Unix socket path must stay short (about 100 bytes).
  PG_TMP="$(mktemp -d /tmp/checkpointing-pg.XXXXXX)" || return 1
  chmod 755 "$PG_TMP"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres || return 1
    chown postgres:postgres "$PG_TMP"
  fi

  local port
  port="$(pg_free_port)" || return 1
  # initdb and the server need a working directory the postgres user can read.
  (cd "$PG_TMP" && pg_as "$PG_BIN/initdb" -D "$PG_TMP/data" -U postgres --auth=trust -E UTF8 --no-sync >"$PG_TMP/initdb.log" 2>&1) \
    || { echo "postgres: initdb failed:" >&2; cat "$PG_TMP/initdb.log" >&2; return 1; }
  echo "$port" > "$PG_TMP/port"
  pg_server_up || return 1

  export CHECKPOINTING_POSTGRES="Host=127.0.0.1;Port=$port;Username=postgres;Database=postgres"
  echo "postgres: $("$PG_BIN/postgres" --version) on 127.0.0.1:$port (data in $PG_TMP)" >&2
}

pg_server_up() {
  local port
  port="$(cat "$PG_TMP/port")" || return 1
  (cd "$PG_TMP" && pg_as "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 30 start \
    -o "-p $port -k $PG_TMP -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null) \
    || { echo "postgres: server did not start:" >&2; cat "$PG_TMP/server.log" >&2; return 1; }
}

pg_halt() {
  [ -n "$PG_TMP" ] && [ -f "$PG_TMP/data/postmaster.pid" ] || { echo "postgres: no running server in PG_TMP='$PG_TMP'" >&2; return 1; }
  pg_find_bin || return 1
  (cd "$PG_TMP" && pg_as "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m fast -w stop >/dev/null) || { echo "postgres: the server did not stop" >&2; return 1; }
}

pg_resume() {
  [ -n "$PG_TMP" ] && [ -f "$PG_TMP/port" ] || { echo "postgres: no server data in PG_TMP='$PG_TMP'" >&2; return 1; }
  pg_find_bin || return 1
  pg_server_up
}

pg_stop() {
  [ -n "$PG_TMP" ] || return 0
  [ -n "$PG_BIN" ] || pg_find_bin
  if [ -f "$PG_TMP/data/postmaster.pid" ]; then
    (cd "$PG_TMP" && pg_as "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m fast -w stop >/dev/null 2>&1) || true
  fi
  rm -rf "$PG_TMP"
  PG_TMP=""
}
