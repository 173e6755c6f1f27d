#!/usr/bin/env bash
# Installs the Debian 12 packages codedge builds against, only those missing.
# Idempotent and silent when everything is already there.
set -euo pipefail

packages=(
  build-essential cmake make pkg-config
  libeigen3-dev libopenblas-dev
  libabsl-dev libspdlog-dev libfmt-dev
  catch2
  protobuf-compiler libprotobuf-dev protobuf-compiler-grpc libgrpc++-dev
  zlib1g-dev gnuplot-nox docker-compose dataset-fashion-mnist openssl libssl-dev clang
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
