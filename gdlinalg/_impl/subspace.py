"""Subspace iteration with Chebyshev filtering and Rayleigh–Ritz, for a few extreme pairs.

Gradient ascent of ``tr(Q^H A A^H Q)`` over orthonormal ``Q`` with an infinitely long step is
``Q <- orth(A A^H Q)``: block power iteration. With ``l = k + p`` columns (``p`` extra,
"oversampling") the error of the ``i``-th wanted pair falls by the factor ``(s[l+1] / s[i])^2`` per
multiplication (Golub & Van Loan §8.2.4; Halko, Martinsson & Tropp 2011). Replacing the power
``M^d`` by the degree-``d`` Chebyshev polynomial that is smallest on the unwanted interval
``[a, b]`` of the spectrum (Rutishauser 1970; Zhou & Saad 2007) amplifies the wanted end far
more for the same ``d`` products: the factor per product becomes ``exp(-acosh(x))`` with
``x = (2 lambda_i - a - b) / (b - a)``. After each filter a Rayleigh–Ritz projection extracts
the best approximations from the subspace: the small matrix ``Q^H A`` (or ``Q^H A Q``) is
decomposed by the package's own Jacobi method and the basis is rotated onto the Ritz vectors; the
smallest Ritz value kept then serves as the new ``b``.
"""

from __future__ import annotations

import math

import torch

from . import residuals
from .checks import eps
from .jacobi import jacobi_eigh, jacobi_svd
from .outcome import Outcome
from .result import Recorder

EighResult = torch.return_types.linalg_eigh
SVDResult = torch.return_types.linalg_svd


def _gaussian(shape: tuple[int, ...], like: torch.Tensor, seed: int) -> torch.Tensor:
    gen = torch.Generator(device="cpu").manual_seed(seed)
    if like.is_complex():
        G = torch.randn(*shape, 2, generator=gen, dtype=torch.float64)
        G = torch.complex(G[..., 0], G[..., 1])
    else:
        G = torch.randn(*shape, generator=gen, dtype=torch.float64)
    return G.to(dtype=like.dtype, device=like.device)


def _orth(Y: torch.Tensor) -> torch.Tensor:
    # QR as a re-orthonormalisation of the block: it decomposes nothing we return.
    return torch.linalg.qr(Y).Q


def _defaults(A: torch.Tensor, tol: float | None, max_iter: int | None) -> tuple[float, float, int]:
    u = eps(A.dtype)
    target = 10 * math.sqrt(max(A.shape[-2:])) * u if tol is None else tol
    accept = math.sqrt(u) if tol is None else tol
    return target, accept, (1000 if max_iter is None else max_iter)


def _chebyshev(apply, Y: torch.Tensor, degree: int, a: torch.Tensor, b: torch.Tensor,
               top: torch.Tensor) -> torch.Tensor:
    """``p(M) Y`` with ``p`` the degree-``degree`` Chebyshev polynomial of ``[a, b]``, scaled to 1 at
    ``top > b`` (the three-term recurrence of Zhou & Saad 2007, Algorithm 3.2, mirrored to the
    upper end). ``apply(Y)`` computes ``M Y``; ``a``, ``b``, ``top`` have shape ``(*, 1, 1)``."""
    e = (b - a) / 2
    c = (b + a) / 2
    sigma = e / (top - c)
    tau = 2 / sigma
    Y1 = (apply(Y) - c.to(Y.dtype) * Y) * (sigma / e).to(Y.dtype)
    for _ in range(2, degree + 1):
        sigma_new = 1 / (tau - sigma)
        Y2 = (apply(Y1) - c.to(Y.dtype) * Y1) * (2 * sigma_new / e).to(Y.dtype) - (sigma * sigma_new).to(Y.dtype) * Y
        Y, Y1, sigma = Y1, Y2, sigma_new
    return Y1


def _filter_or_power(apply, Y: torch.Tensor, degree: int, a: torch.Tensor, b: torch.Tensor,
                     top: torch.Tensor) -> torch.Tensor:
    # Where the unwanted interval has collapsed (the subspace already holds the whole spectrum, or
    # the Ritz values are not yet separated) a plain power step is the safe choice.
    if bool(((b - a) > 1e-12 * top.abs()).all() and (top > b).all()):
        return _chebyshev(apply, Y, degree, a, b, top)
    return apply(Y)


def truncated_svd(A: torch.Tensor, k: int, *, rec: Recorder, tol: float | None = None,
                  max_iter: int | None = None, oversample: int = 10, seed: int = 0,
                  degree: int = 6) -> Outcome:
    """Kernel for ``truncated_svd(method="subspace")``: Chebyshev-filtered subspace iteration on
    ``A A^H``, whose unwanted spectrum ``[0, s[l]^2]`` has the exact lower end 0."""
    m, n = A.shape[-2:]
    target, accept, max_iter = _defaults(A, tol, max_iter)
    stall = 10
    l = min(k + oversample, m, n)
    Q = _orth(A @ _gaussian((*A.shape[:-2], n, l), A, seed))

    def apply(Y: torch.Tensor) -> torch.Tensor:
        return A @ (A.mH @ Y)

    best = None
    it = 0
    while True:
        it += 1
        # Rayleigh–Ritz on span(Q): Q^H A = Ub diag(S) Vb^H, so A V ~ Q Ub diag(S).
        Ub, S, Vh, _, _ = jacobi_svd(Q.mH @ A)
        U = Q @ Ub
        AV = A @ Vh.mH
        Uk, Sk, Vhk = U[..., :k], S[..., :k], Vh[..., :k, :]
        r = residuals.truncated_svd(A, Uk, Sk, Vhk, AV=AV[..., :k])
        rec.record(-float(Sk.square().sum()), r)
        if best is None or r < best[0]:
            best = (r, it, (Uk, Sk, Vhk))
        if r <= target or it >= max_iter or it - best[1] >= stall:
            break
        S2 = S.square().unsqueeze(-1)
        Q = _orth(_filter_or_power(apply, U, degree, torch.zeros_like(S2[..., :1, :]),
                                   S2[..., -1:, :], S2[..., :1, :]))
    r, _, (Uk, Sk, Vhk) = best
    return Outcome(SVDResult((Uk, Sk, Vhk)), r <= accept, r, it, accept)


def _spectrum_bounds(A: torch.Tensor, seed: int, steps: int = 30) -> tuple[torch.Tensor, torch.Tensor]:
    """Estimates of ``||A||_2`` and of the smallest eigenvalue, each of shape ``(*, 1, 1)``.

    ``rho`` bounds the spectrum from above (Frobenius norm); power iteration on ``rho I - A``
    then finds ``lambda_min`` from above, which is all the shift below needs.
    """
    rho = torch.linalg.matrix_norm(A).unsqueeze(-1).unsqueeze(-1)
    x = _gaussian((*A.shape[:-2], A.shape[-1], 1), A, seed + 1)
    mu = torch.zeros_like(rho)
    for _ in range(steps):
        x = x / torch.linalg.vector_norm(x, dim=(-2, -1), keepdim=True)
        y = rho.to(A.dtype) * x - A @ x
        mu = (x.conj() * y).sum(dim=(-2, -1), keepdim=True).real
        x = y
    return rho, rho - mu


def truncated_eigh(A: torch.Tensor, k: int, *, largest: bool = True, rec: Recorder,
                   tol: float | None = None, max_iter: int | None = None, oversample: int = 10,
                   seed: int = 0, degree: int = 6) -> Outcome:
    """Kernel for ``truncated_eigh(method="subspace")``.

    Works on ``M = A`` (largest) or ``M = -A`` (smallest), shifted by a lower bound ``a`` of its
    spectrum (power iteration on ``rho I - M`` approaches ``lambda_min`` from above, so ``a`` sits
    1 % of the spread below that estimate). The Chebyshev filter then damps ``[0, w[l] - a]``, the
    part of the shifted spectrum below the block's smallest Ritz value.
    """
    n = A.shape[-1]
    target, accept, max_iter = _defaults(A, tol, max_iter)
    stall = 10
    l = min(k + oversample, n)
    sign = 1.0 if largest else -1.0
    M = sign * A
    rho, low = _spectrum_bounds(M, seed)
    # The filter must not amplify the bottom of the spectrum: start the unwanted interval a little
    # below the power-iteration estimate of lambda_min (which approaches it from above).
    a = low - 0.01 * (rho - low)

    def shifted(Y: torch.Tensor) -> torch.Tensor:
        return M @ Y - a.to(Y.dtype) * Y

    Q = _orth(M @ _gaussian((*A.shape[:-2], n, l), A, seed))
    best = None
    it = 0
    while True:
        it += 1
        MQ = M @ Q
        w, Y, _, _ = jacobi_eigh(Q.mH @ MQ)
        # Most extreme first: descending eigenvalues of M.
        w, Y = w.flip(-1), Y.flip(-1)
        V = Q @ Y
        MV = MQ @ Y
        wk, Vk = w[..., :k], V[..., :k]
        # Scale by the largest |eigenvalue| seen, an estimate of ||A||_2; the residual of M = +-A
        # has the norm of A's.
        scale = torch.maximum(w.abs().amax(-1), low.abs().squeeze(-1).squeeze(-1))
        r = residuals.truncated_eigh(M, wk, Vk, scale, AV=MV[..., :k])
        rec.record(-float(sign * wk.sum()), r)
        if best is None or r < best[0]:
            best = (r, it, (sign * wk, Vk))
        if r <= target or it >= max_iter or it - best[1] >= stall:
            break
        # On the shifted, positive semidefinite operator M - a I the unwanted interval is
        # [0, w[l] - a]; the plain power step of the fallback is then safe too.
        wl = w.unsqueeze(-1) - a
        Q = _orth(_filter_or_power(shifted, V, degree, torch.zeros_like(a), wl[..., -1:, :], wl[..., :1, :]))
    r, _, (wk, Vk) = best
    return Outcome(EighResult((wk, Vk)), r <= accept, r, it, accept)
