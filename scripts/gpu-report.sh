#!/usr/bin/env bash
# One command for a machine with a GPU (or any WebGPU adapter): fills the autotuner's table
# for the adapter it finds, times the tuner's choices against every candidate, then runs
# `pnpm bench` with tuning off and with the table, and writes everything to one file.
#   bash scripts/gpu-report.sh [out-file]      (default gpu-report-<UTC time>.txt)
# Extra arguments for `pnpm bench` go in $BENCH_ARGS (e.g. BENCH_ARGS=--no-tfjs).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-gpu-report-$(date -u +%Y%m%dT%H%M%SZ).txt}
args=${BENCH_ARGS:-}
step() {
  printf '\n## %s\n\n' "$1"
  shift
  "$@" 2>&1 || echo "(exit $?)"
}
{
  echo "# wgru report, $(date -u), $(git rev-parse --short HEAD 2>/dev/null), node $(node --version)"
  command -v nvidia-smi >/dev/null && nvidia-smi -L
  step 'the tuning table before' pnpm tune
  step 'pnpm tune --fill' pnpm tune --fill
  step 'pnpm bench --only=tuning' pnpm bench --only=tuning $args
  step 'pnpm bench, WGRU_TUNING=off' env WGRU_TUNING=off pnpm bench $args
  step 'pnpm bench, WGRU_TUNING=cached (the table above)' env WGRU_TUNING=cached pnpm bench $args
  step 'pnpm bench --only=tuned (the table vs the built-in plans, alternating)' pnpm bench --only=tuned
  step 'pnpm tune --json' pnpm tune --json
} | tee "$out"
echo "wrote $out" >&2
