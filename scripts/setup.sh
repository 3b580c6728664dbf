#!/usr/bin/env bash
# Installs every Debian 12 package pith needs to build, test, fuzz and benchmark.
# Idempotent: apt-get skips what is already installed.
set -euo pipefail
PKGS=(
  build-essential g++ cmake ninja-build pkg-config
  libzstd-dev libxxhash-dev nlohmann-json3-dev libcli11-dev libfmt-dev libeigen3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  zstd xz-utils bzip2 brotli
  python3 python3-numpy python3-matplotlib python3-faiss
  # FAISS (the benchmark peer) and numpy otherwise run on the reference BLAS:
  # FAISS's PQ training took 10 minutes a codec.
  libopenblas0-serial
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
