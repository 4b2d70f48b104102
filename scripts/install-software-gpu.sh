#!/usr/bin/env bash
# Installs Mesa's software Vulkan driver (lavapipe) so that WebGPU (Dawn) runs on the CPU of a
# machine with no GPU. Debian 12's Mesa 22 is too old for Dawn, so Mesa comes from
# bookworm-backports, added on the same mirror apt already uses (no address is written here).
# Idempotent and non-interactive; quick when the driver is already there.
set -euo pipefail

have_lavapipe() {
  ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 &&
    dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | grep -qvE '^22\.'
}

if have_lavapipe; then
  echo "install-software-gpu: lavapipe already installed ($(dpkg-query -W -f='${Version}' mesa-vulkan-drivers))"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

. /etc/os-release
codename="${VERSION_CODENAME:-bookworm}"
target=""
if [ "$ID" = "debian" ] && [ "$codename" = "bookworm" ]; then
  uri=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
  fi
  if [ -n "$uri" ]; then
    echo "deb $uri bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/backports.list >/dev/null
    target="-t bookworm-backports"
  fi
fi

$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq $target libvulkan1 mesa-vulkan-drivers >/dev/null
echo "install-software-gpu: installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
