"""The true residual of each operation, one definition shared by every method.

The ``*_members`` functions return one value per matrix of a batch (float64, shape ``(B,)`` for a
batch flattened to ``(B, m, n)``); the plain functions return the largest as a float. They are
always computed from the returned solution itself, never from a recursively updated quantity (which
can report 1e-14 while the true residual is 1e-7). Every measure is relative, so it does not
change when a matrix is scaled by a power of two, and its norms neither overflow nor underflow
(``scaling.norm``), so it holds for a matrix whose entries span the whole float range.
"""

from __future__ import annotations

import math

import torch

from .estimates import norm2
from .scaling import norm


def fro(X: torch.Tensor) -> torch.Tensor:
    """Frobenius norm of each matrix of ``X``, in float64 (the type every residual is kept in),
    without overflow or underflow."""
    return norm(X, dim=(-2, -1)).to(torch.float64)


def _safe_max(x: torch.Tensor) -> float:
    return float(x.max()) if x.numel() else 0.0


def _ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    return num / torch.where(den > 0, den, torch.ones_like(den))


def inverse_members(A: torch.Tensor, X: torch.Tensor, *, AX: torch.Tensor | None = None) -> torch.Tensor:
    """``||I - A X||_F / sqrt(n)``: the root-mean-square entry of ``I - A X``."""
    n = A.shape[-1]
    R = -(A @ X if AX is None else AX)
    R.diagonal(dim1=-2, dim2=-1).add_(1)
    return fro(R) / math.sqrt(max(n, 1))


def inverse(A: torch.Tensor, X: torch.Tensor, *, AX: torch.Tensor | None = None) -> float:
    """Largest ``||I - A X||_F / sqrt(n)`` over the batch (``AX``: the product, if at hand)."""
    return _safe_max(inverse_members(A, X, AX=AX))


def backward_error(A: torch.Tensor, X: torch.Tensor, B: torch.Tensor,
                   norm: torch.Tensor | None = None) -> torch.Tensor:
    """Normwise backward error of each column of ``A X = B``,
    ``||A x_j - b_j|| / (||A||_2 ||x_j|| + ||b_j||)``, shape ``(*, k)`` float64.

    ``norm`` is an estimate of ``||A||_2`` per matrix (``(*,)``); by default a power-iteration
    estimate, which approaches it from below and so errs on the side of a larger backward error."""
    if norm is None:
        norm = norm2(A)
    r = torch.linalg.vector_norm(A @ X - B, dim=-2).to(torch.float64)
    x = torch.linalg.vector_norm(X, dim=-2).to(torch.float64)
    b = torch.linalg.vector_norm(B, dim=-2).to(torch.float64)
    return _ratio(r, norm.to(torch.float64).unsqueeze(-1) * x + b)


def solve(A: torch.Tensor, X: torch.Tensor, B: torch.Tensor, norm: torch.Tensor | None = None) -> float:
    """Largest normwise backward error over the columns and the batch (see :func:`backward_error`)."""
    return _safe_max(backward_error(A, X, B, norm))


def penrose_members(A: torch.Tensor, X: torch.Tensor, *, AX: torch.Tensor | None = None) -> torch.Tensor:
    """The first Penrose condition, ``||A X A - A||_F / ||A||_F`` (``AX``: the product, if at hand)."""
    AX = A @ X if AX is None else AX
    return _ratio(fro(AX @ A - A), fro(A))


def pinv_members(A: torch.Tensor, X: torch.Tensor, *, tau: torch.Tensor | None = None) -> torch.Tensor:
    """How far ``X`` is from the pseudo-inverse of ``A`` with singular values at or below ``tau``
    (``(B,)``; default 0) dropped: ``max(p1, p2)`` with

    * ``p2 = ||X A X - X||_F / ||X||_F``, which every truncated pseudo-inverse satisfies exactly
      and which sees a half-inverted singular value (``X A X - X`` is then of the size of
      ``1/sigma``);
    * ``p1 = max(0, ||A X A - A||_F - sqrt(d) tau) / ||A||_F``: ``A - A X A`` is exactly the part
      of ``A`` that was dropped, and ``d`` dropped singular values at or below ``tau`` weigh at most
      ``sqrt(d) tau`` (``d`` = ``min(m, n)`` minus the rank ``tr(A X)`` of the kept part).

    Like ``I - A X`` for an inverse, both are of order ``cond u`` even for the exact answer rounded
    to working precision, so they are judged against ``tolerances.inverse``.
    """
    m, n = A.shape[-2:]
    AX = A @ X
    kept = torch.diagonal(AX, dim1=-2, dim2=-1).sum(-1).real.to(torch.float64).round().clamp(0, min(m, n))
    dropped = (min(m, n) - kept).clamp_min(0)
    tau = torch.zeros_like(kept) if tau is None else tau.to(torch.float64)
    p1 = (fro(AX @ A - A) - dropped.sqrt() * tau).clamp_min(0)
    p1 = _ratio(p1, fro(A))
    p2 = _ratio(fro(X @ AX - X), fro(X))
    return torch.maximum(p1, p2)


def pinv(A: torch.Tensor, X: torch.Tensor, *, tau: torch.Tensor | None = None) -> float:
    """Largest :func:`pinv_members` over the batch."""
    return _safe_max(pinv_members(A, X, tau=tau))


def svd_members(A: torch.Tensor, U: torch.Tensor, S: torch.Tensor, Vh: torch.Tensor) -> torch.Tensor:
    """Relative reconstruction error ``||U diag(S) Vh - A||_F / ||A||_F``."""
    R = (U * S.to(U.dtype).unsqueeze(-2)) @ Vh - A
    return _ratio(fro(R), fro(A))


def svd(A: torch.Tensor, U: torch.Tensor, S: torch.Tensor, Vh: torch.Tensor) -> float:
    return _safe_max(svd_members(A, U, S, Vh))


def eigh_members(A: torch.Tensor, w: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """``||A V - V diag(w)||_F / ||A||_F``."""
    R = A @ V - V * w.to(V.dtype).unsqueeze(-2)
    return _ratio(fro(R), fro(A))


def eigh(A: torch.Tensor, w: torch.Tensor, V: torch.Tensor) -> float:
    return _safe_max(eigh_members(A, w, V))


def truncated_svd_members(A: torch.Tensor, U: torch.Tensor, S: torch.Tensor, Vh: torch.Tensor, *,
                          AV: torch.Tensor | None = None) -> torch.Tensor:
    """``max_i ||A v_i - s_i u_i|| / s_1`` over the computed triplets (``AV``: ``A V``, if at hand)."""
    R = (A @ Vh.mH if AV is None else AV) - U * S.to(U.dtype).unsqueeze(-2)
    r = torch.linalg.vector_norm(R, dim=-2).amax(dim=-1).to(torch.float64)
    return _ratio(r, S[..., 0].to(torch.float64))


def truncated_svd(A: torch.Tensor, U: torch.Tensor, S: torch.Tensor, Vh: torch.Tensor, *,
                  AV: torch.Tensor | None = None) -> float:
    return _safe_max(truncated_svd_members(A, U, S, Vh, AV=AV))


def truncated_eigh_members(A: torch.Tensor, w: torch.Tensor, V: torch.Tensor, scale: torch.Tensor | float, *,
                           AV: torch.Tensor | None = None) -> torch.Tensor:
    """``max_i ||A v_i - w_i v_i|| / scale`` with ``scale`` an estimate of ``||A||_2`` (``AV``: ``A V``,
    if at hand)."""
    R = (A @ V if AV is None else AV) - V * w.to(V.dtype).unsqueeze(-2)
    r = torch.linalg.vector_norm(R, dim=-2).amax(dim=-1).to(torch.float64)
    scale = torch.as_tensor(scale, dtype=torch.float64, device=r.device)
    return _ratio(r, scale)


def truncated_eigh(A: torch.Tensor, w: torch.Tensor, V: torch.Tensor, scale: torch.Tensor | float, *,
                   AV: torch.Tensor | None = None) -> float:
    return _safe_max(truncated_eigh_members(A, w, V, scale, AV=AV))


def polar_members(A: torch.Tensor, U: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    """``||A - U H||_F / ||A||_F``."""
    return _ratio(fro(A - U @ H), fro(A))


def orthogonality_members(Q: torch.Tensor) -> torch.Tensor:
    """``max |Q^H Q - I|`` elementwise, per matrix."""
    k = Q.shape[-1]
    if Q.numel() == 0:
        return torch.zeros(Q.shape[:-2], dtype=torch.float64)
    E = Q.mH @ Q - torch.eye(k, dtype=Q.dtype, device=Q.device)
    return E.abs().amax(dim=(-2, -1)).to(torch.float64)


def orthogonality(Q: torch.Tensor) -> float:
    return _safe_max(orthogonality_members(Q))
