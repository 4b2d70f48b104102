#!/usr/bin/env bash
# One command from a fresh clone to a working workspace: on a machine without a GPU, Mesa's
# software WebGPU driver (Debian/Ubuntu); then pnpm (pinned in package.json) and the dependencies
# from the lockfile. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -r /etc/debian_version ]; then
  bash scripts/install-software-gpu.sh
else
  echo "setup: not Debian/Ubuntu; skipping the software WebGPU driver (a real GPU, or the CPU backend, will be used)"
fi
want=$(node -p "require('./package.json').packageManager.split('@')[1]")
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version)" != "$want" ]; then
  npm install -g "pnpm@$want" --no-fund --no-audit
fi
pnpm install --frozen-lockfile
echo "setup: done. Try: pnpm example hi"
