#!/usr/bin/env bash
# Makes a headless Chromium available for the browser tests; meant to be sourced by test.sh.
#
#   chromium_ensure   finds Debian's chromium (installing it with apt-get when root and missing) and exports
#                     CHECKPOINTING_CHROMIUM with its path; returns non-zero when there is none
#
# The browser tests launch it through Playwright's ExecutablePath; Playwright's own browser download is never used.

chromium_find() {
  local candidate
  for candidate in "${CHECKPOINTING_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser "$(command -v chromium 2>/dev/null)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then CHECKPOINTING_CHROMIUM="$candidate"; return 0; fi
  done
  return 1
}

chromium_ensure() {
  if ! chromium_find; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "chromium: not found, installing Debian's chromium with apt-get" >&2
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) >&2 || return 1
      chromium_find || return 1
    else
      echo "chromium: not found; install it (apt-get install chromium) or set CHECKPOINTING_CHROMIUM to a Chromium binary" >&2
      return 1
    fi
  fi
  export CHECKPOINTING_CHROMIUM
  echo "chromium: $("$CHECKPOINTING_CHROMIUM" --version 2>/dev/null | head -n 1) at $CHECKPOINTING_CHROMIUM" >&2
}
