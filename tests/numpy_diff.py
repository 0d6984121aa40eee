#!/usr/bin/env python3
"""numpy_diff.py: the `einsum` command against numpy.einsum itself.

Random expressions (1 to 4 operands; repeated labels, ellipses that
broadcast, extents 0 and 1, implicit and explicit outputs, f32 and f64
mixed, C and Fortran order, extents large enough to reach the GEMM and
GEMV kernels) are written as .npy files and evaluated by both.  Each
case must agree on:

  - success or failure: where numpy raises, `einsum` exits 1 with a
    message on stderr and writes no output file; where numpy succeeds,
    `einsum` succeeds;
  - the result's shape, and its dtype under numpy 2's promotion (NEP 50:
    a 0-d float64 operand makes the result float64; numpy 1.x's
    value-based casting would keep float32, so the reference casts every
    operand to the promoted dtype first);
  - every element, within the rounding error a sum of that many products
    can have: |ours - numpy's| <= 2 (terms + 2) eps * einsum(|operands|),
    terms being how many products the element sums.

Deterministic for a given seed.  Usage:
  numpy_diff.py EINSUM_CLI WORKDIR [--seed S] [--cases N]
Exit status 0 when every case agrees; 1 with each disagreement printed
(expression, shapes, dtypes, what differed) otherwise.
"""
import argparse
import os
import random
import subprocess
import sys

import numpy as np

LABELS = "abcdefgAB"


def random_case(rng):
    """Returns (expression, list of arrays)."""
    big = rng.random() < 0.3
    nops = rng.choice([1, 1, 2, 2, 2, 3, 3] if big else [1, 1, 2, 2, 2, 3, 3, 4])
    extent = {}
    for c in LABELS:
        if rng.random() < 0.15:
            extent[c] = rng.choice([0, 1, 1, 2, 3])
        elif big:
            extent[c] = rng.choice([1, 7, 16, 17, 33, 40])
        else:
            extent[c] = rng.choice([1, 2, 3, 4, 5])
    ellipsis = rng.random() < 0.3
    ell_shape = [rng.choice([1, 2, 3]) for _ in range(rng.choice([0, 1, 2]))]
    subs, arrays = [], []
    for _ in range(nops):
        rank = rng.choice([1, 2, 2, 3] if big else [0, 1, 2, 2, 3, 3, 4])
        alphabet = LABELS[: rng.choice([3, 5, len(LABELS)])]
        labels = [rng.choice(alphabet) for _ in range(rank)]
        shape = [extent[c] for c in labels]
        sub = "".join(labels)
        if ellipsis and rng.random() < 0.7:
            at = rng.randint(0, rank)
            nd = rng.randint(0, len(ell_shape))
            eshape = [1 if rng.random() < 0.2 else e
                      for e in ell_shape[len(ell_shape) - nd:]]
            sub = "".join(labels[:at]) + "..." + "".join(labels[at:])
            shape = shape[:at] + eshape + shape[at:]
        dtype = rng.choice([np.float32, np.float64])
        gen = np.random.default_rng(rng.randrange(1 << 30))
        a = gen.standard_normal(shape).astype(dtype)
        if a.ndim >= 2 and rng.random() < 0.3:
            a = np.asfortranarray(a)
        subs.append(sub)
        arrays.append(a)
    expr = ",".join(subs)
    if rng.random() < 0.6:   # explicit output: some of the labels, any order
        present = sorted({c for s in subs for c in s if c != "."})
        out = [c for c in present if rng.random() < 0.5]
        rng.shuffle(out)
        out = "".join(out)
        if ellipsis and rng.random() < 0.7:
            at = rng.randint(0, len(out))
            out = out[:at] + "..." + out[at:]
        if out and rng.random() < 0.03:
            out += out[0]   # a repeated output label: an error in numpy
        expr += "->" + out
    return expr, arrays


def run_case(cli, workdir, expr, arrays):
    """Returns (None when the two agree, else a description; whether
    numpy raised)."""
    shapes = [a.shape for a in arrays]
    dtypes = [a.dtype.name for a in arrays]
    where = f"{expr!r} shapes {shapes} dtypes {dtypes}"
    files = []
    for k, a in enumerate(arrays):
        f = os.path.join(workdir, f"in{k}.npy")
        np.save(f, a)
        files.append(f)
    out_file = os.path.join(workdir, "out.npy")
    if os.path.exists(out_file):
        os.remove(out_file)
    promoted = np.result_type(*[a.dtype for a in arrays])
    try:
        ref = np.asarray(np.einsum(expr, *[a.astype(promoted) for a in arrays]))
        ref_error = None
    except Exception as e:   # numpy raises ValueError, sometimes TypeError
        ref, ref_error = None, str(e)
    p = subprocess.run([cli, expr, *files, "-o", out_file],
                       capture_output=True, text=True, timeout=120)
    if ref_error is not None:
        if p.returncode != 1 or not p.stderr.strip() or os.path.exists(out_file):
            return (f"{where}: numpy raises ({ref_error}) but einsum exited "
                    f"{p.returncode}, stderr {p.stderr.strip()!r}, output file "
                    f"{'written' if os.path.exists(out_file) else 'absent'}"), True
        return None, True
    return compare(where, p, out_file, expr, arrays, ref), False


def compare(where, p, out_file, expr, arrays, ref):
    if p.returncode != 0:
        return f"{where}: numpy succeeds but einsum exited {p.returncode}: {p.stderr.strip()}"
    got = np.load(out_file)
    if got.shape != ref.shape or got.dtype != ref.dtype:
        return (f"{where}: result {got.shape} {got.dtype.name}, numpy's "
                f"{ref.shape} {ref.dtype.name}")
    if ref.size == 0:
        return None
    eps = np.finfo(ref.dtype).eps
    # products summed into each element, and the sum of their magnitudes
    terms = np.asarray(np.einsum(expr, *[np.ones(a.shape) for a in arrays]))
    scale = np.asarray(np.einsum(expr, *[np.abs(a).astype(np.float64) for a in arrays]))
    bound = 2.0 * (terms + 2) * eps * scale
    err = np.abs(got.astype(np.float64) - ref.astype(np.float64))
    if not np.all(err <= bound):
        i = np.unravel_index(np.argmax(err - bound), err.shape)
        return (f"{where}: element {tuple(int(x) for x in i)} is {got[i]!r}, numpy's "
                f"{ref[i]!r} (difference {err[i]:.3g}, bound {bound[i]:.3g})")
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cli")
    ap.add_argument("workdir")
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--cases", type=int, default=600)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    rng = random.Random(args.seed)
    failures, raised = 0, 0
    for n in range(args.cases):
        expr, arrays = random_case(rng)
        msg, numpy_raised = run_case(args.cli, args.workdir, expr, arrays)
        raised += numpy_raised
        if msg:
            failures += 1
            print(f"case {n}: {msg}")
    print(f"numpy_diff: {args.cases} cases (seed {args.seed}), {raised} of them "
          f"errors in numpy, {failures} disagreements")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
