"""Exact rescaling by powers of two, so that every kernel sees entries of order one.

Squared norms overflow above ``sqrt(max)`` (1e154 in float64, 1.8e19 in float32) and underflow
below ``sqrt(tiny)``, and a matrix scaled by ``1e78`` would otherwise come out of a Jacobi sweep or a
Newton–Schulz start with the wrong answer. Every public function therefore divides each matrix of a
batch by the power of two nearest its largest entry before calling a kernel and multiplies the
answer back. Multiplying by a power of two changes only the exponent, so it is exact (short of
overflow or the subnormal range): ``f(2^j A)`` is computed from the very same normalised matrix as
``f(A)``, and its answer scales *exactly*, bit for bit.
"""

from __future__ import annotations

import torch


def max_exponent(A: torch.Tensor) -> torch.Tensor:
    """Per matrix of ``A`` (``(*, m, n)``), the exponent ``e`` with ``max |a_ij| = f 2^e``, ``f`` in
    ``[0.5, 1)`` (``max(|re|, |im|)`` for complex entries); 0 for a zero or empty matrix.
    Shape ``(*,)``, int64."""
    R = torch.view_as_real(A.resolve_conj()) if A.is_complex() else A
    dims = (-3, -2, -1) if A.is_complex() else (-2, -1)
    if A.numel() == 0:
        return torch.zeros(A.shape[:-2], dtype=torch.int64, device=A.device)
    top = R.abs().amax(dim=dims)
    _, e = torch.frexp(top)
    return torch.where(top > 0, e.to(torch.int64), torch.zeros_like(e, dtype=torch.int64))


def scale(X: torch.Tensor, e: torch.Tensor | int, *, trailing: int = 2) -> torch.Tensor:
    """``X * 2**e`` exactly, with ``e`` broadcast over the batch dimensions of ``X`` (its last
    ``trailing`` dimensions are the matrix, vector or scalar of one member).

    The factor is applied in two halves so that each half is representable even when ``2**e`` is
    not (e.g. lifting a subnormal matrix by ``2**1070``)."""
    e = torch.as_tensor(e, dtype=torch.int64, device=X.device)
    if not bool((e != 0).any()):
        return X
    e = e.reshape(e.shape + (1,) * trailing)
    rdtype = X.real.dtype if X.is_complex() else X.dtype
    e1 = torch.div(e, 2, rounding_mode="floor")
    e2 = e - e1
    two = torch.tensor(2.0, dtype=rdtype, device=X.device)
    return X * torch.pow(two, e1.to(rdtype)) * torch.pow(two, e2.to(rdtype))


def normalise(A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(A * 2**-e, e)``: every matrix of the batch scaled so that its largest entry lies in
    ``[0.5, 1)``."""
    e = max_exponent(A)
    return scale(A, -e), e
