#!/usr/bin/env bash
# Build the libFuzzer targets (clang, ASan + UBSan, tests/fuzz/) into
# build-fuzz and run each for a bounded time; fail on any crash, leak,
# sanitizer report, hang or differential mismatch.  Prints executions per
# target and appends them to build-fuzz/fuzz-history.txt.
#
#   scripts/fuzz.sh                 60 s per target (what CI runs)
#   scripts/fuzz.sh 600             10 minutes per target
#   scripts/fuzz.sh 120 diff npy    only these targets
#
# The working corpus grows in build-fuzz/corpus/<target> between local
# runs; tests/fuzz/corpus/<target> is the small committed seed set.  A
# failure leaves its input in build-fuzz/artifacts/ and prints the command
# that replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(parse plan npy diff repl)
jobs=${FUZZ_JOBS:-$(nproc)}
cc=${FUZZ_CC:-clang}

CC=$cc cmake -S . -B build-fuzz -DEIN_FUZZ=ON -DEIN_BUILD_TESTS=OFF \
    -DEIN_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}")

mkdir -p build-fuzz/artifacts/previous build-fuzz/logs
# Inputs that failed in an earlier run are kept aside, so the replay lines
# below name only this run's.
for t in "${targets[@]}"; do
    for a in build-fuzz/artifacts/"$t"-*; do
        [ -e "$a" ] && mv "$a" build-fuzz/artifacts/previous/
    done
done
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

run_one() {
    local t=$1 dir=build-fuzz/corpus/$1
    mkdir -p "$dir"
    # New inputs go to the first directory; the seeds are only read.  The
    # outer timeout is a backstop: -max_total_time stops libFuzzer itself.
    timeout --kill-after=30 $((secs + 120)) \
        "build-fuzz/tests/fuzz/fuzz_$t" "$dir" "tests/fuzz/corpus/$t" \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
        -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$t-" \
        >"build-fuzz/logs/$t.log" 2>&1
}

declare -A rc
pids=()
names=()
for t in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do sleep 1; done
    run_one "$t" &
    pids+=($!)
    names+=("$t")
done
for i in "${!pids[@]}"; do
    if wait "${pids[$i]}"; then rc[${names[$i]}]=0; else rc[${names[$i]}]=$?; fi
done

fail=0
total=0
printf '%-8s %12s %8s %10s %8s  %s\n' target executions seconds exec/s corpus result
for t in "${targets[@]}"; do
    log=build-fuzz/logs/$t.log
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    corpus=$(find "build-fuzz/corpus/$t" -type f | wc -l)
    result=ok
    if [ "${rc[$t]}" -ne 0 ]; then
        result="FAILED (exit ${rc[$t]})"
        fail=1
    fi
    total=$((total + ${execs:-0}))
    printf '%-8s %12s %8s %10s %8s  %s\n' "$t" "${execs:-?}" "$secs" "${rate:-?}" "$corpus" "$result"
    echo "$(date -u +%FT%TZ) $t execs=${execs:-0} secs=$secs result=$result" \
        >>build-fuzz/fuzz-history.txt
done
echo "total executions: $total"
if [ $fail -ne 0 ]; then
    for t in "${targets[@]}"; do
        [ "${rc[$t]}" -eq 0 ] && continue
        echo "== $t: last lines of build-fuzz/logs/$t.log"
        grep -E 'ERROR|runtime error|SUMMARY|^case |^  |Test unit written|element' \
            "build-fuzz/logs/$t.log" | tail -30 || tail -30 "build-fuzz/logs/$t.log"
        for a in build-fuzz/artifacts/"$t"-*; do
            [ -e "$a" ] && echo "replay: build-fuzz/tests/fuzz/fuzz_$t $a"
        done
    done
    exit 1
fi
