"""Seeded random starts and cheap norm estimates, shared by every kernel.

Every random draw of the package goes through :func:`gaussian`, from a private generator with a
fixed seed, so a kernel never touches the global random state and two runs give the same numbers.
Norm estimates are power iterations: they approach ``||A||_2`` from below, typically within a few
per cent after a handful of steps; where a *guaranteed* bound is needed the caller combines them
with ``||A||_1 ||A||_inf >= ||A||_2^2`` or the Frobenius norm.
"""

from __future__ import annotations

import torch

from .checks import real_dtype
from .scaling import ldexp, norm, normalise


def gaussian(shape: tuple[int, ...], like: torch.Tensor, seed: int) -> torch.Tensor:
    """Standard normal draws of ``like``'s dtype and device (complex: independent real and
    imaginary parts), drawn in double precision from a generator seeded with ``seed``."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    if like.is_complex():
        G = torch.randn(*shape, 2, generator=gen, dtype=torch.float64)
        G = torch.complex(G[..., 0], G[..., 1])
    else:
        G = torch.randn(*shape, generator=gen, dtype=torch.float64)
    return G.to(dtype=like.dtype, device=like.device)


def _unit(x: torch.Tensor) -> torch.Tensor:
    tiny = torch.finfo(x.real.dtype if x.is_complex() else x.dtype).tiny
    return x / norm(x, dim=(-2, -1), keepdim=True).clamp_min(tiny)


def norm_1(A: torch.Tensor) -> torch.Tensor:
    """``||A||_1``, the largest column sum of ``|a_ij|``, per matrix of ``A`` (``(*, m, n)``).
    Written out: ``torch.linalg.matrix_norm(A, ord=1)`` costs 5-7 times as much on batches of
    small matrices (7.8 ms against 1.4 ms on 2,000 x 32x32, measured)."""
    return _abs_sum(A, -2).amax(-1)


def norm_inf(A: torch.Tensor) -> torch.Tensor:
    """``||A||_inf``, the largest row sum of ``|a_ij|``, per matrix (see :func:`norm_1`)."""
    return _abs_sum(A, -1).amax(-1)


def _abs_sum(A: torch.Tensor, dim: int) -> torch.Tensor:
    # On a large batch, a reduction over a dimension of 2 to 4 entries is ten times slower than
    # adding its slices (0.31 against 0.04 ms on 10,000 x 3x3, measured); on a single small
    # matrix the one reduction is the fewer operations.
    a = A.abs()
    if a.shape[dim] > 4 or a.numel() <= 4096:
        return a.sum(dim)
    parts = a.unbind(dim)
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    return total


#: Up to this size (the smaller side), :func:`norm2` works on the Gram matrix by repeated squaring.
_SQUARING = 32


def norm2(A: torch.Tensor, *, steps: int = 8, seed: int = 0) -> torch.Tensor:
    """Power-iteration estimate of ``||A||_2`` for each matrix of ``A`` (``(*, m, n)``), from below:
    ``steps`` steps of ``x <- A^H A x``, or more. Shape ``(*,)``, real.

    When the smaller side is at most ``_SQUARING`` the steps are taken on the small Gram matrix
    ``G`` (``A^H A`` or ``A A^H``) by repeated squaring: ``G^(2^j)`` (each power scaled to unit
    Frobenius norm) with ``2^j >= steps - 1``, applied to the random start, then one step more,
    ``||G y|| / ||y||``, which is at most ``||G|| = ||A||_2^2``. That is at least as many steps as
    asked, in about ``3 j + 8`` operations instead of about ``8 steps``: on tiny matrices each
    operation costs the same whatever its size. ``A`` is first scaled by a power of two (exactly)
    so that ``G`` neither overflows nor loses its largest entries to underflow.
    """
    if min(A.shape[-2:]) <= _SQUARING and A.numel() > 0:
        return _norm2_squaring(A, steps, seed)
    x = _unit(gaussian((*A.shape[:-2], A.shape[-1], 1), A, seed))
    est = torch.zeros(A.shape[:-2], dtype=x.real.dtype, device=A.device)
    for _ in range(steps):
        y = A @ x
        est = norm(y, dim=(-2, -1))
        # y divided by the power of two nearest its norm (exactly), so that A^H y cannot overflow
        # when ||A|| is near 1e300; the direction, and so x, is the same to the last bit.
        _, k = torch.frexp(est)
        x = _unit(A.mH @ ldexp(y, -k.to(est.dtype).view(*k.shape, 1, 1)))
    return est


def hermitian_extreme(apply, shape: tuple[int, ...], like: torch.Tensor, *, steps: int = 20,
                      seed: int = 0) -> torch.Tensor:
    """Power-iteration estimate (from below) of the largest ``|lambda|`` of the Hermitian operator
    ``apply`` (acting on ``(*, n, 1)`` blocks), as the growth ``||M x|| / ||x||``. Shape ``(*,)``,
    real. (Not the Rayleigh quotient: when ``lambda`` and ``-lambda`` are both extreme it averages
    them towards 0.)"""
    x = _unit(gaussian(shape, like, seed))
    est = torch.zeros(shape[:-2], dtype=x.real.dtype, device=like.device)
    for _ in range(steps):
        y = apply(x)
        est = norm(y, dim=(-2, -1))
        x = _unit(y)
    return est


def _norm2_squaring(A: torch.Tensor, steps: int, seed: int) -> torch.Tensor:
    rd = real_dtype(A.dtype)
    W, e = normalise(A)                                  # exact: a power of two per matrix
    G = W.mH @ W if A.shape[-1] <= A.shape[-2] else W @ W.mH
    P = G
    for _ in range(max(steps - 1, 1).bit_length()):      # 2^j >= steps - 1
        P = P / torch.linalg.matrix_norm(P).clamp_min(torch.finfo(rd).tiny).unsqueeze(-1).unsqueeze(-1).to(P.dtype)
        P = P @ P
    y = P @ gaussian((*A.shape[:-2], G.shape[-1], 1), A, seed)
    ny = torch.linalg.vector_norm(y, dim=(-2, -1))
    lam = torch.linalg.vector_norm(G @ y, dim=(-2, -1)) / ny.clamp_min(torch.finfo(rd).tiny)
    return ldexp(lam.sqrt(), e.to(rd))
