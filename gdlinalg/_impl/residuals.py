"""The true residual of each operation, one definition shared by every method.

Each function returns a float: the largest residual over the batch. They are always computed from
the returned solution itself, never from a recursively updated quantity (which can report 1e-14
while the true residual is 1e-7).
"""

from __future__ import annotations

import math

import torch


def _fro(X: torch.Tensor) -> torch.Tensor:
    return torch.linalg.matrix_norm(X, ord="fro")


def _safe_max(x: torch.Tensor) -> float:
    return float(x.max()) if x.numel() else 0.0


def inverse(A: torch.Tensor, X: torch.Tensor, *, AX: torch.Tensor | None = None) -> float:
    """``||I - A X||_F / sqrt(n)``: the root-mean-square entry of ``I - A X``.

    An iteration that has the product ``A X`` already passes it as ``AX``.
    """
    n = A.shape[-1]
    R = -(A @ X if AX is None else AX)
    R.diagonal(dim1=-2, dim2=-1).add_(1)
    return _safe_max(_fro(R)) / math.sqrt(max(n, 1))


def solve(A: torch.Tensor, X: torch.Tensor, B: torch.Tensor) -> float:
    """``max_j ||A x_j - b_j|| / ||b_j||`` over the columns of ``B`` (absolute where ``b_j = 0``)."""
    r = torch.linalg.vector_norm(A @ X - B, dim=-2)
    b = torch.linalg.vector_norm(B, dim=-2)
    return _safe_max(r / torch.where(b > 0, b, torch.ones_like(b)))


def pinv(A: torch.Tensor, X: torch.Tensor, *, AX: torch.Tensor | None = None) -> float:
    """Penrose residual ``||A X A - A||_F / ||A||_F`` (``AX``: the product ``A X``, if at hand)."""
    a = _fro(A)
    AX = A @ X if AX is None else AX
    return _safe_max(_fro(AX @ A - A) / torch.where(a > 0, a, torch.ones_like(a)))


def svd(A: torch.Tensor, U: torch.Tensor, S: torch.Tensor, Vh: torch.Tensor) -> float:
    """Relative reconstruction error ``||U diag(S) Vh - A||_F / ||A||_F``."""
    a = _fro(A)
    R = (U * S.to(U.dtype).unsqueeze(-2)) @ Vh - A
    return _safe_max(_fro(R) / torch.where(a > 0, a, torch.ones_like(a)))


def eigh(A: torch.Tensor, w: torch.Tensor, V: torch.Tensor) -> float:
    """``||A V - V diag(w)||_F / ||A||_F``."""
    a = _fro(A)
    R = A @ V - V * w.to(V.dtype).unsqueeze(-2)
    return _safe_max(_fro(R) / torch.where(a > 0, a, torch.ones_like(a)))


def truncated_svd(A: torch.Tensor, U: torch.Tensor, S: torch.Tensor, Vh: torch.Tensor, *,
                  AV: torch.Tensor | None = None) -> float:
    """``max_i ||A v_i - s_i u_i|| / s_1`` over the computed triplets (``AV``: ``A V``, if at hand)."""
    R = (A @ Vh.mH if AV is None else AV) - U * S.to(U.dtype).unsqueeze(-2)
    r = torch.linalg.vector_norm(R, dim=-2).amax(dim=-1)
    s1 = S[..., 0]
    return _safe_max(r / torch.where(s1 > 0, s1, torch.ones_like(s1)))


def truncated_eigh(A: torch.Tensor, w: torch.Tensor, V: torch.Tensor, scale: torch.Tensor | float, *,
                   AV: torch.Tensor | None = None) -> float:
    """``max_i ||A v_i - w_i v_i|| / scale`` with ``scale`` an estimate of ``||A||_2`` (``AV``: ``A V``,
    if at hand)."""
    R = (A @ V if AV is None else AV) - V * w.to(V.dtype).unsqueeze(-2)
    r = torch.linalg.vector_norm(R, dim=-2).amax(dim=-1)
    scale = torch.as_tensor(scale, dtype=r.dtype)
    return _safe_max(r / torch.where(scale > 0, scale, torch.ones_like(scale)))


def orthogonality(Q: torch.Tensor) -> float:
    """``max |Q^H Q - I|`` elementwise."""
    k = Q.shape[-1]
    E = Q.mH @ Q - torch.eye(k, dtype=Q.dtype, device=Q.device)
    return _safe_max(E.abs().amax(dim=(-2, -1))) if E.numel() else 0.0
