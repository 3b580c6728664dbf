#!/usr/bin/env bash
# Configures and builds the release tree in build/ (incremental). The compiler's
# output goes to build/build.log and is shown only when the build fails.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "building pith (release) in build/ ..."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
if ! cmake --build build -j"$(nproc)" >build/build.log 2>&1; then
  cat build/build.log
  exit 1
fi
