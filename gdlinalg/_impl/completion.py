"""Completing a set of orthonormal columns to a full orthonormal basis."""

from __future__ import annotations

import torch


def complete_orthonormal(Q: torch.Tensor, *, seed: int = 0) -> torch.Tensor:
    """Extend ``Q`` (``(*, m, k)``, orthonormal columns) to a ``(*, m, m)`` unitary matrix.

    The new columns are a seeded random block with ``Q``'s span projected out twice ("twice is
    enough"), re-orthonormalised by ``torch.linalg.qr``; QR is used here only as a
    re-orthonormalisation, never to compute a decomposition of the input.
    """
    m, k = Q.shape[-2:]
    if k >= m:
        return Q
    gen = torch.Generator(device="cpu").manual_seed(seed)
    G = torch.randn(*Q.shape[:-2], m, m - k, generator=gen, dtype=torch.float64)
    G = G.to(dtype=Q.dtype, device=Q.device)
    for _ in range(2):
        G = G - Q @ (Q.mH @ G)
    W, _ = torch.linalg.qr(G)
    # One more projection after QR keeps the completion orthogonal to Q to machine precision.
    W = W - Q @ (Q.mH @ W)
    W, _ = torch.linalg.qr(W)
    return torch.cat([Q, W], dim=-1)
