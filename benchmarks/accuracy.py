"""Largest error of every default over the test-matrix classes, per operation and dtype.

    python benchmarks/accuracy.py

Prints one row per (operation, dtype): the worst value, over the matrices below, of the quantity
the accuracy contract of issue 2 bounds (all elementwise maxima; relative ones are divided by
``max |A|``), next to the same quantity for ``torch.linalg`` on the same matrices.
Matrices: ``with_condition_number`` with cond 10 and 1e3 (float32/complex64: cond 10 only),
n in {4, 30, 100}, a rank-deficient matrix for pinv, and the blog's matrices.
"""

from __future__ import annotations

import argparse

import torch

import gdlinalg
from gdlinalg import matrices

DTYPES = [torch.float32, torch.float64, torch.complex64, torch.complex128]


def _single(dtype: torch.dtype) -> bool:
    return dtype in (torch.float32, torch.complex64)


def _cases(dtype: torch.dtype, square: bool):
    conds = [10.0] if _single(dtype) else [10.0, 1e3]
    for n in (4, 30, 100):
        for cond in conds:
            m = n if square else n + n // 2
            yield f"cond {cond:g} {m}x{n}", matrices.with_condition_number(m, n, cond, seed=n, dtype=dtype)
    if not dtype.is_complex:
        for name, A in matrices.blog_svd_matrices(dtype=dtype).items():
            if not square or A.shape[0] == A.shape[1]:
                yield f"blog {name}", A
        if square:
            for name, A in matrices.blog_inverse_matrices(dtype=dtype).items():
                yield f"blog {name}", A


def _max(x: torch.Tensor) -> float:
    return float(x.abs().max())


def inv_err(A, X):
    return _max(A @ X - torch.eye(A.shape[-1], dtype=A.dtype))


def measure(dtype: torch.dtype):
    rows = []
    worst = {}

    def keep(op, ours, ref, case):
        prev = worst.get(op)
        if prev is None or ours > prev[0]:
            worst[op] = (ours, ref, case)
        elif prev is not None:
            worst[op] = (prev[0], max(prev[1], ref), prev[2])

    for case, A in _cases(dtype, square=True):
        keep("inv  max|AX - I|", inv_err(A, gdlinalg.inv(A)), inv_err(A, torch.linalg.inv(A)), case)
        B = torch.ones(A.shape[-1], 3, dtype=dtype)
        keep("solve  max|AX - B|", _max(A @ gdlinalg.solve(A, B) - B), _max(A @ torch.linalg.solve(A, B) - B), case)
        H = A + A.mH
        w, V = gdlinalg.eigh(H)
        wr, Vr = torch.linalg.eigh(H)
        keep("eigh  max|AV - VW|/max|A|", _max(H @ V - V * w.to(dtype)) / _max(H),
             _max(H @ Vr - Vr * wr.to(dtype)) / _max(H), case)
    for case, A in _cases(dtype, square=False):
        U, S, Vh = gdlinalg.svd(A, full_matrices=False)
        Ur, Sr, Vhr = torch.linalg.svd(A, full_matrices=False)
        keep("svd  max|USVh - A|/max|A|", _max((U * S.to(dtype)) @ Vh - A) / _max(A),
             _max((Ur * Sr.to(dtype)) @ Vhr - A) / _max(A), case)
        k = S.shape[-1]
        I = torch.eye(k, dtype=dtype)
        keep("svd  max|U^H U - I|, |V^H V - I|", max(_max(U.mH @ U - I), _max(Vh @ Vh.mH - I)),
             max(_max(Ur.mH @ Ur - I), _max(Vhr @ Vhr.mH - I)), case)
        X, Xr = gdlinalg.pinv(A), torch.linalg.pinv(A)
        keep("pinv  max|AXA - A|/max|A|", _max(A @ X @ A - A) / _max(A), _max(A @ Xr @ A - A) / _max(A), case)
    for r in (3, 20):
        A = matrices.rank_deficient(60, 40, r, seed=r, dtype=dtype)
        X, Xr = gdlinalg.pinv(A), torch.linalg.pinv(A)
        keep("pinv  max|AXA - A|/max|A|", _max(A @ X @ A - A) / _max(A), _max(A @ Xr @ A - A) / _max(A),
             f"rank {r} 60x40")
    for op, (ours, ref, case) in worst.items():
        rows.append((op, str(dtype).replace("torch.", ""), ours, ref, case))
    return rows


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    rows = []
    for dtype in DTYPES:
        rows += measure(dtype)
    rows.sort(key=lambda r: (r[0], r[1]))
    head = f"{'quantity':36} {'dtype':11} {'gdlinalg':>10} {'torch':>10}  worst case"
    print(head)
    print("-" * len(head))
    for op, dt, ours, ref, case in rows:
        print(f"{op:36} {dt:11} {ours:10.2e} {ref:10.2e}  {case}")


if __name__ == "__main__":
    main()
