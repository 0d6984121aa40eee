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
# forced tables below also run the whole suite as a machine without
# AVX-512 (avx2), or without either (generic), would.  On a CPU that lacks
# a table, EIN_ARCH falls back to the best it has.
for arch in avx2 generic; do
    echo "== whole suite with EIN_ARCH=$arch"
    EIN_ARCH=$arch ctest --test-dir build --output-on-failure -j"$jobs"
done
