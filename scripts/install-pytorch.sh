#!/usr/bin/env bash
# Installs PyTorch for Debian's system Python (/usr/bin/python3), from Debian's own packages:
# python3-torch (CPU build) and libopenblas0-pthread (its BLAS). Used by the PyTorch cross-check
# (scripts/pytorch-fixtures.py, which writes packages/nn/test/fixtures/pytorch/) and by the
# benchmarks that compare against PyTorch. CI does not need it: the fixtures are committed.
# Run the scripts that use it with /usr/bin/python3, not whatever python3 is first on PATH.
# Idempotent and non-interactive; quick when torch already imports.
set -euo pipefail

PY=/usr/bin/python3

if "$PY" -c 'import torch' >/dev/null 2>&1; then
  echo "install-pytorch: torch $("$PY" -c 'import torch; print(torch.__version__)') already installed for $PY"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

# Only one apt-get may hold the dpkg lock at a time: wait for it rather than fail.
apt_get() {
  local tries=0
  until $SUDO apt-get -o DPkg::Lock::Timeout=600 "$@"; do
    tries=$((tries + 1))
    if [ "$tries" -ge 5 ]; then return 1; fi
    echo "install-pytorch: apt-get $1 failed, retrying in 30 s ($tries/5)" >&2
    sleep 30
  done
}

apt_get update -qq
apt_get install -y -qq --no-install-recommends python3-torch libopenblas0-pthread

"$PY" -c 'import torch; print("install-pytorch: torch", torch.__version__, "for", __import__("sys").executable)'
