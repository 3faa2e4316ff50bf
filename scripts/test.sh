#!/usr/bin/env bash
# The test command of the README: every test, on SQLite and on PostgreSQL.
# Starts the local PostgreSQL if it is not running, and fails (never skips) if it cannot reach it.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_URL="${DERBES_TEST_PG:-postgres://postgres@127.0.0.1:5432/test}"
export DERBES_TEST_PG="$PG_URL"

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! command -v pg_isready >/dev/null 2>&1; then
  echo "PostgreSQL client tools are missing; installing them (Debian)..." >&2
  (apt-get update -qq && apt-get install -y -qq postgresql-client) >&2 || true
fi
if ! pg_up; then
  echo "PostgreSQL is not running on 127.0.0.1:5432; starting it..." >&2
  if [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start >&2 || true
  fi
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
if ! pg_up; then
  echo "FAIL: PostgreSQL is not reachable at 127.0.0.1:5432; the store tests need it (they never skip)." >&2
  exit 1
fi
psql "$PG_URL" -qAtc 'select 1' >/dev/null || { echo "FAIL: cannot connect to $PG_URL" >&2; exit 1; }

# The console's browser test (crates/derbes/tests/browser.rs) needs headless Chromium and
# chromedriver; it fails (never skips) without them.
./scripts/install-browser.sh

# A watchdog: a test that hangs fails the run with a message instead of holding it until an
# outside limit kills it without one (DERBES_TEST_TIMEOUT, default 50m, includes the build).
limit="${DERBES_TEST_TIMEOUT:-50m}"
status=0
timeout --kill-after=30s "$limit" cargo test --workspace --locked "$@" || status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "FAIL: the tests did not finish within $limit (a test hangs: see the last 'has been running for over 60 seconds' above)" >&2
fi
exit "$status"
