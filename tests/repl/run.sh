#!/bin/sh
# run.sh EINSUM SCRIPT.ein EXPECTED.out — pipe the script into `einsum` on
# standard input (script mode: no prompt, no colours) in a scratch
# directory and compare stdout and stderr, merged, exactly; a non-zero
# exit status appears as a last line "[exit N]".
set -u
einsum=$1 script=$2 expected=$3
dir=$(mktemp -d) || exit 2
trap 'rm -rf "$dir"' EXIT
( cd "$dir" && "$einsum" < "$script" > out.txt 2>&1; st=$?
  [ "$st" -ne 0 ] && echo "[exit $st]" >> out.txt; exit 0 )
if ! diff -u "$expected" "$dir/out.txt"; then
    echo "run.sh: $script: output differs from $expected (diff above: - expected, + actual)"
    exit 1
fi
