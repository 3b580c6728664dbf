#!/usr/bin/env bash
# The whole test suite: release build + all tests, then the decoders and parsers
# again under AddressSanitizer + UndefinedBehaviorSanitizer, the threaded paths
# under ThreadSanitizer, then a short run of every libFuzzer target on its seed
# corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
jobs=$(nproc)

echo "== release build and tests"
scripts/build.sh
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== ASan+UBSan build: decoder, parser, container and file tests"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPITH_SANITIZE=ON -DPITH_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs" --target pith test_common test_entropy test_read test_store test_cli
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -L 'common|entropy|read|store|cli'

echo "== TSan build: the threaded pipeline (store) and the CLI's threaded commands"
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPITH_TSAN=ON -DPITH_BENCH=OFF >/dev/null
cmake --build build-tsan -j"$jobs" --target pith test_store test_cli
TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan --output-on-failure -j"$jobs" -L 'store|cli'

if [[ -f fuzz/CMakeLists.txt ]]; then
  echo "== fuzz smoke run (${PITH_FUZZ_SECONDS:=20}s per target)"
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPITH_FUZZ=ON -DPITH_TESTS=OFF -DPITH_BENCH=OFF >/dev/null
  cmake --build build-fuzz -j"$jobs"
  fuzz/run.sh build-fuzz "$PITH_FUZZ_SECONDS"
fi
