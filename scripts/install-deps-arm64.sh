#!/usr/bin/env bash
# Installs what cross-compiling codedge for arm64 needs on Debian 12 x86-64:
# the arm64 architecture in dpkg, the plain aarch64 cross compiler (not
# crossbuild-essential-arm64, which cannot sit beside libgrpc++-dev:arm64 on
# Debian 12), the :arm64 -dev libraries, and qemu-user-static to run the
# result. Idempotent and silent when everything is there.
set -euo pipefail

packages=(
  g++-aarch64-linux-gnu qemu-user-static file
  libgrpc++-dev:arm64 libprotobuf-dev:arm64 libabsl-dev:arm64 libspdlog-dev:arm64 libfmt-dev:arm64
  libopenblas-dev:arm64 libssl-dev:arm64 zlib1g-dev:arm64
)

# What is missing first: with everything there, no root (or sudo) is needed.
has_arch=1
dpkg --print-foreign-architectures | grep -qx arm64 || has_arch=0
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && [ $has_arch -eq 1 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps-arm64: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
if [ $has_arch -eq 0 ]; then
  $SUDO dpkg --add-architecture arm64
fi

echo "install-deps-arm64: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps-arm64: done"
