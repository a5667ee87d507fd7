"""Exact rescaling by powers of two, so that every kernel sees entries of order one.

Squared norms overflow above ``sqrt(max)`` (1e154 in float64, 1.8e19 in float32) and underflow
below ``sqrt(tiny)``, and a matrix scaled by ``1e78`` would otherwise come out of a Jacobi sweep or a
Newton–Schulz start with the wrong answer. Every public function therefore divides each matrix of a
batch by the power of two nearest its largest entry before calling a kernel and multiplies the
answer back. Multiplying by a power of two changes only the exponent, so it is exact (short of
overflow or the subnormal range): ``f(2^j A)`` is computed from the very same normalised matrix as
``f(A)``, and its answer scales *exactly*, bit for bit.

**The whole range.** Dividing by the largest entry flushes every entry more than ``2^1022`` (float64;
``2^126`` in float32) below it to zero: ``diag(2^540, 2^-540)`` would become ``diag(0.5, 0)``. The
methods that keep relative accuracy (one-sided Jacobi, and the SVD, eigendecomposition and
pseudo-inverse built on it) therefore get ``normalise(A, keep_range=True)``: while the entries span
at most ``2^RANGE[dtype]``, the same normalisation; beyond that the matrix is scaled so that its
smallest nonzero entry is about ``2^-RANGE`` instead, and its largest entry may exceed 1 (up to
``2^RANGE``). No entry is flushed for spans up to ``2^(2 RANGE)`` (``2^2000``, about ``1e602``, in
float64; ``2^224`` in float32). The exponent still moves with the input's, ``e(2^j A) = e(A) + j``,
so power-of-two scaling stays exact. Those kernels compute their norms with :func:`norm`, which
neither overflows nor underflows.
"""

from __future__ import annotations

import torch


#: The span of binary exponents a normalised matrix keeps (see "The whole range" above): float64
#: entries down to ``2^-1000`` of the largest are kept as they are; float32, ``2^-112``.
RANGE = {torch.float64: 1000, torch.float32: 112}


def _parts(A: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
    """The real entries of ``A`` (real and imaginary parts for complex) and the dimensions of one matrix."""
    if A.is_complex():
        return torch.view_as_real(A.resolve_conj()), (-3, -2, -1)
    return A, (-2, -1)


def max_exponent(A: torch.Tensor) -> torch.Tensor:
    """Per matrix of ``A`` (``(*, m, n)``), the exponent ``e`` with ``max |a_ij| = f 2^e``, ``f`` in
    ``[0.5, 1)`` (``max(|re|, |im|)`` for complex entries); 0 for a zero or empty matrix.
    Shape ``(*,)``, int64."""
    R, dims = _parts(A)
    if A.numel() == 0:
        return torch.zeros(A.shape[:-2], dtype=torch.int64, device=A.device)
    top = R.abs().amax(dim=dims)
    _, e = torch.frexp(top)
    return torch.where(top > 0, e.to(torch.int64), torch.zeros_like(e, dtype=torch.int64))


def column_exponents(A: torch.Tensor) -> torch.Tensor:
    """:func:`max_exponent` of every column of ``A`` (``(*, m, n)``): shape ``(*, n)``."""
    return max_exponent(A.mT.unsqueeze(-1))


def scale_columns(A: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """``A`` with column ``j`` multiplied by ``2**e[..., j]`` exactly (``e`` of shape ``(*, n)``)."""
    return scale(A.mT, e, trailing=1).mT


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


def min_exponent(A: torch.Tensor) -> torch.Tensor:
    """Per matrix, the exponent of its smallest nonzero entry (real or imaginary part), in the sense
    of :func:`max_exponent`; the largest entry's exponent for a zero matrix. Shape ``(*,)``, int64."""
    R, dims = _parts(A)
    top = max_exponent(A)
    if A.numel() == 0:
        return top
    a = R.abs()
    low = torch.where(a > 0, a, torch.full_like(a, torch.inf)).amin(dim=dims)
    _, e = torch.frexp(torch.where(torch.isfinite(low), low, torch.ones_like(low)))
    return torch.where(torch.isfinite(low), e.to(torch.int64), top)


def range_exponent(A: torch.Tensor) -> torch.Tensor:
    """Per matrix, the exponent ``e`` of ``normalise(A, keep_range=True)``: the largest entry's
    exponent, lowered by as much as the span of the entries exceeds ``RANGE`` (by at most
    ``RANGE``), so that the smallest nonzero entry of ``A * 2**-e`` is at least ``2^-(RANGE + 1)``."""
    top = max_exponent(A)
    span = RANGE[A.real.dtype if A.is_complex() else A.dtype]
    excess = (top - min_exponent(A) - span).clamp(0, span)
    return top - excess


def normalise(A: torch.Tensor, *, keep_range: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """``(A * 2**-e, e)``: every matrix of the batch scaled so that its largest entry lies in
    ``[0.5, 1)``; with ``keep_range``, so that no entry is flushed to zero (see "The whole range"
    above: the largest entry may then exceed 1)."""
    e = range_exponent(A) if keep_range else max_exponent(A)
    return scale(A, -e), e


def ldexp(x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """``x * 2**e`` elementwise (``e`` a real tensor of integers broadcast against ``x``), exact
    short of overflow or the subnormal range: the factor is applied in two halves, each of them
    representable."""
    rdtype = x.real.dtype if x.is_complex() else x.dtype
    e = e.to(rdtype)
    e1 = torch.floor(e / 2)
    two = torch.tensor(2.0, dtype=rdtype, device=x.device)
    return x * torch.pow(two, e1) * torch.pow(two, e - e1)


def norm(X: torch.Tensor, dim: int | tuple[int, ...] = -1, keepdim: bool = False) -> torch.Tensor:
    """Euclidean norm of ``X`` over ``dim`` that neither overflows nor underflows
    (``torch.linalg.vector_norm`` squares its entries: it returns inf for ``[1e200, 1e200]`` and 0
    for ``[1e-200, 1e-200]``). Where the plain norm lies in ``[2^-b, 2^b]`` (``b`` = 500 in float64,
    52 in float32) it is exact to rounding and is returned; elsewhere each slice is first divided
    by the power of two of its largest entry."""
    plain = torch.linalg.vector_norm(X, dim=dim, keepdim=True)
    bound = 2.0 ** (500 if plain.dtype == torch.float64 else 52)
    safe = (plain >= 1 / bound) & (plain <= bound)
    if not bool(safe.all()):
        top = X.abs().amax(dim=dim, keepdim=True)
        _, e = torch.frexp(top)
        e = e.to(top.dtype)
        scaled = torch.linalg.vector_norm(ldexp(X, -e), dim=dim, keepdim=True)
        plain = torch.where(safe, plain, ldexp(scaled, e))
    if not keepdim:
        dims = (dim,) if isinstance(dim, int) else dim
        for d in sorted((d % X.dim() for d in dims), reverse=True):
            plain = plain.squeeze(d)
    return plain
