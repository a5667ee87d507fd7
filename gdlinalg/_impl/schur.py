"""The inverse of a Hermitian positive definite matrix by recursive Schur complements.

Split ``M = [[M11, M12], [M12^H, M22]]``; with ``W = M11^{-1} M12`` and the Schur complement
``S = M22 - M12^H W`` (again positive definite),

    M^{-1} = [[M11^{-1} + W S^{-1} W^H, -W S^{-1}], [-S^{-1} W^H, S^{-1}]],

and ``M11^{-1}``, ``S^{-1}`` are found the same way (Strassen 1969); no pivoting is needed because
every block of a positive definite matrix is positive definite. Blocks of at most ``_LEAF`` rows
are inverted by Newton–Schulz from ``X0 = I / ||M||_inf``.

Cost. The block products are four products of half-size blocks per level, at most ``4/3 n^3`` flops
over all levels: two thirds of one ``n x n`` product (``2 n^3`` flops). The leaves come on top: each
Newton–Schulz iteration is two leaf-size products, and a leaf needs about ``log2 cond(leaf)`` doubling
steps plus a few quadratic ones. Measured with PyTorch's flop counter on the Gram matrix of an
``A`` with ``cond(A) = 1e3``, the whole inverse costs 2.6 ``n x n`` products at ``n = 256`` (four
leaves of 64 rows, 15 or 16 iterations each), 1.04 at ``n = 300`` (eight leaves of 37 or 38 rows,
11 to 13 iterations) and 0.75 at ``n = 1000``: not in general fewer flops than one product, and in
time more than its flops say, since the small leaf products run far below the machine's peak.

The package uses it for one job: the start ``X0 = (A^H A)^{-1} A^H`` of the Newton–Schulz inverse
and the preconditioner of iterative refinement for large matrices. The start costs the inverse
above plus two products (``A^H A`` and ``(A^H A)^{-1} A^H``), and one more for its residual. Forming
``A^H A`` squares the condition number, so ``X0`` is at best accurate to about ``cond(A)^2 u``, and the
recursion adds error of its own: measured ``||I - A X0||_F`` is 50 times ``cond(A)^2 u`` at
``cond(A) = 1e3`` and 3000 times at ``1e5`` (``n = 300``), and the start is useless (``||I - A X0||_F >= 1``
or not finite) from ``cond(A) = 1e6`` on, far below the ``u^{-1/2}`` that the squaring alone would
allow. The Newton–Schulz steps that follow, or the refinement, restore the accuracy the arithmetic
allows for ``A`` itself, and a start that is not good enough is simply not used.
"""

from __future__ import annotations

import math

import torch

from . import tolerances
from .estimates import norm_inf
from .outcome import hermitian_part

_LEAF = 64


def hpd_inverse(M: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``M^{-1}`` for a batch of Hermitian positive definite ``M`` (``(B, n, n)``).

    No check of definiteness is made: an ``M`` that is not positive definite to working precision
    gives a meaningless (possibly non-finite) answer, which the caller must detect.
    The blocks are written into ``out`` (a ``(B, n, n)`` view, allocated when ``None``) as they are
    found: ``M11^{-1}`` goes straight into the top left corner, where it is only read before it is
    overwritten, which saves a copy of every block at every level (the small products here are
    bound by overhead, not flops).
    """
    n = M.shape[-1]
    if out is None:
        out = torch.empty_like(M)
    if n <= _LEAF:
        out.copy_(_leaf(M))
        return out
    k = n // 2
    M11, M12, M22 = M[..., :k, :k], M[..., :k, k:], M[..., k:, k:]
    inv11 = hpd_inverse(M11, out[..., :k, :k])
    W = torch.bmm(inv11, M12)
    S = torch.baddbmm(M22, M12.mH, W, alpha=-1)
    invS = hpd_inverse(hermitian_part(S), out[..., k:, k:])
    T = torch.bmm(W, invS)
    top = torch.baddbmm(inv11, T, W.mH)
    out[..., :k, :k] = hermitian_part(top)
    out[..., :k, k:] = T.neg_()
    out[..., k:, :k] = T.mH
    return out


def _leaf(M: torch.Tensor) -> torch.Tensor:
    """Newton–Schulz ``X <- 2X - X (M X)`` from ``X0 = I / ||M||_inf``: ``X`` stays a polynomial
    in ``M``, so ``M X0`` has the eigenvalues ``lambda / ||M||_inf`` in ``(0, 1]`` and the smallest
    doubles per step until the quadratic phase; it stops when a step in that phase fails to halve
    ``||I - M X||_F`` (rounding has taken over), or after the step that squares the residual below
    ``4 n u``, for every member."""
    n = M.shape[-1]
    M = M.reshape(-1, n, n)
    eye = torch.eye(n, dtype=M.dtype, device=M.device)
    scale = norm_inf(M).clamp_min(torch.finfo(M.real.dtype).tiny)
    X = (eye / scale.view(-1, 1, 1).to(M.dtype)).contiguous()
    r = None
    floor = 4 * n * tolerances.unit_roundoff(M.dtype)
    # The smallest eigenvalue that can be told from zero, u / n, needs log2(n / u) doublings.
    for k in range(math.ceil(math.log2(n / tolerances.unit_roundoff(M.dtype))) + 12):
        T = torch.bmm(M, X)
        # The residual is looked at every other step of the doubling phase (a host sync costs
        # as much as a small product), every step of the quadratic one.
        if k % 2 == 0 or max(r) < 0.5:
            rn = torch.linalg.matrix_norm(T - eye).tolist()
            if not all(math.isfinite(v) for v in rn):
                break  # not positive definite to working precision: the caller checks the answer
            if r is not None and max(r) < 0.5 and all(b > 0.5 * a for a, b in zip(r, rn)):
                break
            r = rn
            if max(r) ** 2 < floor:
                # The next step reaches the rounding floor; checking it would cost a step more.
                X = torch.baddbmm(X, X, T, beta=2, alpha=-1)
                break
        X = torch.baddbmm(X, X, T, beta=2, alpha=-1)
    return hermitian_part(X)
