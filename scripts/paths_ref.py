#!/usr/bin/env python3
"""paths_ref.py -- the numpy reference figures for `einsum-bench --paths`.

Reads the suite from `einsum-bench --paths --dump-cases` (name, expression,
shapes per line), asks numpy.einsum_path for its 'greedy' path (every case)
and its 'optimal' path (7 operands or fewer: numpy's optimal enumerates
every order), both without numpy's default memory limit (numpy otherwise
caps intermediates at the largest input), and scores each path with
opt_einsum's FLOP count -- per step the product of the extents of every
label involved, times (terms - 1, at least 1) plus 1 when a label is
summed -- the same count the library reports.  numpy's own printed total
adds 1 to the sum, so it is not used.  numpy's greedy implements
opt_einsum's greedy heuristic (pick the pair whose result shrinks the
total size most, ties by FLOPs).

Usage: scripts/paths_ref.py BUILD/bench/einsum-bench > bench/paths_ref.tsv
Needs numpy; run locally, never in CI (the output is committed).
"""
import subprocess
import sys

import numpy as np

OPTIMAL_MAX = 7


def score(inputs, output, ext, path):
    """FLOPs (opt_einsum's count) and largest intermediate (elements)."""
    terms = [set(t) for t in inputs]
    flops = 0
    largest = 0
    for step in path:
        pos = sorted(step, reverse=True)
        picked = [terms.pop(p) for p in pos]
        union = set().union(*picked)
        rest = set(output).union(*terms) if terms else set(output)
        keep = union & rest
        size = 1
        for l in union:
            size *= ext[l]
        inner = 1 if union - keep else 0
        flops += size * (max(1, len(picked) - 1) + inner)
        ksize = 1
        for l in keep:
            ksize *= ext[l]
        if terms:  # the last step writes the output, not an intermediate
            largest = max(largest, ksize)
        terms.append(keep)
    return flops, largest


def main():
    bench = sys.argv[1]
    dump = subprocess.run([bench, "--paths", "--dump-cases"], check=True,
                          capture_output=True, text=True).stdout
    print("# numpy %s einsum_path, scored with opt_einsum's FLOP count "
          "(scripts/paths_ref.py)" % np.__version__)
    print("# case\talgo\tflops\tlargest_elements\tpath")
    for line in dump.splitlines():
        name, expr, shapes = line.split("\t")
        ins, out = expr.split("->")
        inputs = ins.split(",")
        shp = [tuple(int(x) for x in s.split("x")) for s in shapes.split(",")]
        ext = {}
        for t, s in zip(inputs, shp):
            for l, e in zip(t, s):
                ext[l] = e
        arrays = [np.empty(s) for s in shp]
        algos = ["greedy"] + (["optimal"] if len(inputs) <= OPTIMAL_MAX else [])
        for algo in algos:
            path = np.einsum_path(expr, *arrays, optimize=(algo, 1e30))[0][1:]
            flops, largest = score(inputs, out, ext, path)
            print("%s\t%s\t%d\t%d\t%s" % (name, algo, flops, largest,
                                          ";".join(",".join(map(str, p)) for p in path)))


if __name__ == "__main__":
    main()
