#!/usr/bin/env bash
# Build and run every test twice: an optimized tree, and a tree with
# AddressSanitizer + UndefinedBehaviorSanitizer.  Run scripts/setup.sh
# once first on a fresh machine (it installs the packages).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DEIN_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DEIN_SANITIZE=ON -DEIN_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs"

# Every kernel table this CPU supports is exercised inside the tests; the
# forced fallback below also runs the whole suite on the portable table,
# as a machine without AVX-512 or AVX2 would.
EIN_ARCH=generic ctest --test-dir build --output-on-failure -j"$jobs"
