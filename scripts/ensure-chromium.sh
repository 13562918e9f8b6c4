#!/bin/sh
# Makes sure a Chromium exists for the web console's browser tests (test/web/browser.test.ts,
# driven by playwright-core with its executablePath). CI machines are fresh Debian, run as root and
# reach Debian's packages: install `chromium` there. Does nothing when it is already present.
set -eu

have_chromium() {
  for path in "${CHROMIUM_PATH:-}" /usr/bin/chromium /usr/bin/chromium-browser /usr/lib/chromium/chromium; do
    if [ -n "$path" ] && [ -x "$path" ]; then
      echo "Chromium found at $path" >&2
      return 0
    fi
  done
  return 1
}

if have_chromium; then exit 0; fi

if [ "$(id -u)" != "0" ]; then
  echo "Chromium is missing; run as root, or install it: sudo apt-get install chromium (or set CHROMIUM_PATH)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Chromium is missing and apt-get is not available; install Chromium yourself and set CHROMIUM_PATH" >&2
  exit 1
fi

echo "installing Debian's chromium package for the browser tests" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends chromium >&2
have_chromium
