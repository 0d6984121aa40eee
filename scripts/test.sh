#!/usr/bin/env bash
# Build and run every test twice: an optimized tree, and a tree with
# AddressSanitizer + UndefinedBehaviorSanitizer.  Run scripts/setup.sh
# once first on a fresh machine (it installs the packages).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
phase() { echo "== $1 (${SECONDS} s in)"; }

phase "Release build and suite"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DEIN_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build --output-on-failure -j"$jobs"

phase "AddressSanitizer + UndefinedBehaviorSanitizer build and suite"
# -O1, as the sanitizers' own documentation advises: the suite ran 212 s
# under ctest at -O0 on the 2-vCPU CI machine, 149 s at -O1 (assertions
# stay on: a Debug tree).
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-O1 -g" \
    -DEIN_SANITIZE=ON -DEIN_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs"

# Every kernel table this CPU supports is exercised inside the tests; the
# forced tables below also run the whole suite as a machine without
# AVX-512 (avx2), or without either (generic), would.  On a CPU that lacks
# a table, EIN_ARCH falls back to the best it has.
for arch in avx2 generic; do
    phase "whole suite with EIN_ARCH=$arch"
    EIN_ARCH=$arch ctest --test-dir build --output-on-failure -j"$jobs"
done

# ThreadSanitizer: one plan run from several threads at once, the plan
# cache under contention, the kernels' worker pool (tests/threads.c), with
# each kernel table.  A plain program: Criterion cannot start under TSan.
phase "ThreadSanitizer build"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEIN_TSAN=ON \
    -DEIN_BUILD_BENCH=OFF >/dev/null
cmake --build build-tsan -j"$jobs" --target test_threads
# gcc 12's TSan can fail at start-up ("unexpected memory mapping") on
# kernels that randomise mmap with more bits (vm.mmap_rnd_bits = 32) than
# its shadow layout expects; run it without address randomisation.
norand=()
if setarch "$(uname -m)" -R true 2>/dev/null; then
    norand=(setarch "$(uname -m)" -R)
fi
for arch in "" avx2 generic; do
    phase "ThreadSanitizer: tests/threads.c, EIN_ARCH=${arch:-default}"
    EIN_ARCH=$arch TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
        "${norand[@]}" build-tsan/tests/test_threads
done
phase "tests done"
