#!/usr/bin/env bash
# Installs headless Chromium and its WebDriver (Debian packages `chromium` and
# `chromium-driver`) for the console's browser test (crates/derbes/tests/browser.rs).
# Idempotent: does nothing when both are already on the PATH. Needs root (apt-get).
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if have chromium && have chromedriver; then
  exit 0
fi
if ! have apt-get; then
  echo "FAIL: chromium/chromedriver are missing and apt-get is not available; install Chromium and its driver by hand." >&2
  exit 1
fi
echo "Installing chromium and chromium-driver (Debian)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >&2
have chromium && have chromedriver || {
  echo "FAIL: chromium or chromedriver still missing after apt-get install." >&2
  exit 1
}
