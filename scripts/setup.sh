#!/usr/bin/env bash
# Install what the build needs (Debian 12), build, and run the demo.
# Usage: scripts/setup.sh   (as root, or with sudo available)
set -euo pipefail
cd "$(dirname "$0")/.."

# libedit-dev: line editing in the REPL; clang and libclang-rt-14-dev:
# libFuzzer for scripts/fuzz.sh; python3-numpy: the reference of
# tests/numpy_diff.py
pkgs=(build-essential cmake re2c libcriterion-dev pkg-config libopenblas-dev libedit-dev
      clang libclang-rt-14-dev python3-numpy)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
./build/einsum-demo
# The same example from the REPL: three ways side by side, their plans and
# timings (examples/motivating.ein).
./build/einsum examples/motivating.ein
