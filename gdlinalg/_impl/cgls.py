"""CGLS: conjugate gradients on the normal equations ``A^H A X = A^H B``, without forming ``A^H A``.

Conjugate gradients (Hestenes & Stiefel 1952) minimise the convex quadratic
``1/2 ||A X - B||_F^2`` over growing Krylov subspaces: each step is an exact line search along a
direction conjugate to all previous ones, so in exact arithmetic it ends after at most ``n`` steps
and the error falls at least like ``((cond(A) - 1) / (cond(A) + 1))^k``. Every column of ``B`` has its
own step lengths, so a batch of right-hand sides is solved at once.

The recursively updated residual drifts from the true one in finite precision (in float32 it can
report ``1e-14`` while the truth is ``1e-7``), so the stopping test and the history always use the
true residual ``B - A X``, recomputed at every step.
"""

from __future__ import annotations

import math

import torch

from . import residuals, tolerances
from .checks import SingularMatrixError
from .estimates import norm2
from .outcome import Outcome
from .result import Recorder


def _colnorm2(X: torch.Tensor) -> torch.Tensor:
    return (X.real.square() + (X.imag.square() if X.is_complex() else 0)).sum(-2, keepdim=True)


def solve(A: torch.Tensor, B: torch.Tensor, *, rec: Recorder, tol: float | None = None,
          max_iter: int | None = None) -> Outcome:
    """Kernel for ``solve(method="cgls")`` (one matrix at a time: the wrapper loops over a batch).

    Stops when the normwise backward error of every column, ``||b - A x|| / (||A||_2 ||x|| + ||b||)``,
    is below ``tol`` (by default ``sqrt(n) u``), or when it has not improved for ``stall``
    consecutive steps (the attainable accuracy is reached). The answer is then judged against
    ``tolerances.backward``: CGLS works with ``A^H A`` implicitly, so on an ill-conditioned ``A`` it
    may fall short of that and say so. A residual that stalls far from zero while the
    normal-equation residual ``A^H r`` vanishes means ``B`` is not in the range of ``A``: ``A`` is
    singular.
    """
    n = A.shape[-1]
    u = tolerances.unit_roundoff(A.dtype)
    target = max(math.sqrt(n), 1.0) * u if tol is None else tol
    accept = tolerances.backward(n, A.dtype) if tol is None else tol
    max_iter = max(20 * n, 200) if max_iter is None else max_iter
    stall = max(20, n // 10)
    tiny = torch.finfo(torch.empty((), dtype=A.dtype).real.dtype).tiny
    norm = norm2(A)

    def eta(X: torch.Tensor) -> float:
        return float(residuals.backward_error(A, X, B, norm).amax())

    X = torch.zeros_like(B)
    R = B.clone()
    S = A.mH @ R
    P = S.clone()
    gamma = _colnorm2(S)
    best_X, best_r, best_it = X, eta(X), 0
    it = 0
    while it < max_iter and best_r > target:
        Q = A @ P
        alpha = gamma / _colnorm2(Q).clamp_min(tiny)
        X = X + alpha.to(A.dtype) * P
        R = R - alpha.to(A.dtype) * Q
        S = A.mH @ R
        gamma_new = _colnorm2(S)
        beta = gamma_new / gamma.clamp_min(tiny)
        P = S + beta.to(A.dtype) * P
        gamma = gamma_new
        it += 1
        r = eta(X)
        rec.record(0.5 * float(_colnorm2(B - A @ X).sum()), r)
        if not math.isfinite(r):
            break
        if r < best_r:
            best_X, best_r, best_it = X, r, it
        elif it - best_it >= stall:
            break
        if bool((gamma == 0).all()):
            break
    X, r = best_X, best_r
    if r > accept:
        # Is the residual orthogonal to the range of A, i.e. a least-squares solution of an
        # inconsistent system? Then no X solves A X = B and A must be singular.
        true_R = B - A @ X
        normal = torch.sqrt(_colnorm2(A.mH @ true_R)).amax()
        scale = torch.linalg.matrix_norm(A).amax() * torch.sqrt(_colnorm2(true_R)).amax()
        if float(normal) <= math.sqrt(u) * float(scale):
            raise SingularMatrixError(
                "matrix is singular (numerically rank-deficient): A X = B has no solution; "
                f"the least-squares residual is {float(torch.sqrt(_colnorm2(true_R)).amax()):.3e}"
            )
    return Outcome(X, r <= accept, r, it, accept)
