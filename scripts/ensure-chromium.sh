#!/usr/bin/env bash
# Debian's Chromium for the Web UI test (test/integration/web-ui.test.ts drives /usr/bin/chromium
# through playwright-core, which downloads no browser). Installed when missing and run as root on
# Debian, as `npm test` does for the other system packages it needs.
set -euo pipefail
chromium=/usr/bin/chromium
[ -x "$chromium" ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "ensure-chromium: installing Debian's chromium (once)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2
fi
[ -x "$chromium" ] || {
  echo "ensure-chromium: $chromium is missing; the Web UI test needs it (Debian: apt-get install chromium)" >&2
  exit 1
}
