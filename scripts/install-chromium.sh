#!/usr/bin/env bash
# Installs Debian's Chromium (/usr/bin/chromium) for the playground's end-to-end test, which
# drives it through playwright-core. Never a browser downloaded by a test tool: Debian's package.
# Idempotent and non-interactive; quick when Chromium is already there.
set -euo pipefail

chromium_version() {
  # Debian's /usr/bin/chromium wrapper may print a shell warning on stderr; keep stdout only.
  /usr/bin/chromium --version 2>/dev/null | head -n 1
}

if [ -x /usr/bin/chromium ] && chromium_version >/dev/null; then
  echo "install-chromium: already installed ($(chromium_version))"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: no apt-get here; install Chromium yourself and set WGRU_CHROMIUM to its path" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
echo "install-chromium: installed ($(chromium_version))"
