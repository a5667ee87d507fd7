"""Subspace (block power) iteration with Rayleigh–Ritz, for a few extreme singular or eigen pairs.

Gradient ascent of ``tr(Q^H A A^H Q)`` over orthonormal ``Q`` with an infinitely long step is
``Q <- orth(A A^H Q)``: block power iteration. With ``l = k + p`` columns (``p`` extra,
"oversampling") the error of the ``i``-th wanted pair falls by the factor ``(s[l+1] / s[i])^2`` per
iteration (Golub & Van Loan §8.2.4; Halko, Martinsson & Tropp 2011). After each step a
Rayleigh–Ritz projection extracts the best approximations from the subspace: the small
``l x n`` matrix ``Q^H A`` (or ``l x l`` matrix ``Q^H A Q``) is decomposed by the package's own
Jacobi method and the basis is rotated onto the Ritz vectors, which also keeps the next small
problem nearly diagonal, so later Jacobi solves take one or two sweeps.
"""

from __future__ import annotations

import math

import torch

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


def truncated_svd(A: torch.Tensor, k: int, *, rec: Recorder, tol: float | None = None,
                  max_iter: int | None = None, oversample: int = 10, seed: int = 0) -> Outcome:
    """Kernel for ``truncated_svd(method="subspace")``."""
    m, n = A.shape[-2:]
    target, accept, max_iter = _defaults(A, tol, max_iter)
    stall = 10
    l = min(k + oversample, m, n)
    Q = _orth(A @ _gaussian((*A.shape[:-2], n, l), A, seed))
    best = None
    it = 0
    while True:
        it += 1
        # Rayleigh–Ritz on span(Q): Q^H A = Ub diag(S) Vb^H, so A V ~ Q Ub diag(S).
        Ub, S, Vh, _, _ = jacobi_svd(Q.mH @ A)
        U = Q @ Ub
        AV = A @ Vh.mH
        Uk, Sk, Vhk = U[..., :k], S[..., :k], Vh[..., :k, :]
        r = _tsvd_residual(AV[..., :k], Uk, Sk)
        rec.record(-float(Sk.square().sum()), r)
        if best is None or r < best[0]:
            best = (r, it, (Uk, Sk, Vhk))
        if r <= target or it >= max_iter or it - best[1] >= stall:
            break
        # One power step A A^H on the rotated basis: A (A^H Q Ub) = A V diag(S), and the scaling
        # by S does not change the span.
        Q = _orth(AV)
    r, _, (Uk, Sk, Vhk) = best
    return Outcome(SVDResult((Uk, Sk, Vhk)), r <= accept, r, it, accept)


def _tsvd_residual(AVk: torch.Tensor, Uk: torch.Tensor, Sk: torch.Tensor) -> float:
    """``max_i ||A v_i - s_i u_i|| / s_1``, reusing the product ``A V`` the iteration needs anyway."""
    R = AVk - Uk * Sk.to(Uk.dtype).unsqueeze(-2)
    r = torch.linalg.vector_norm(R, dim=-2).amax(dim=-1)
    s1 = Sk[..., 0]
    return float((r / torch.where(s1 > 0, s1, torch.ones_like(s1))).max())


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
                   seed: int = 0) -> Outcome:
    """Kernel for ``truncated_eigh(method="subspace")``.

    Orthogonal iteration needs the wanted eigenvalues to be the largest in magnitude, so it runs on
    ``A - lambda_low I`` (largest) or ``lambda_high I - A`` (smallest), shifted just enough to
    make the operator positive semidefinite: a larger shift would slow the convergence factor
    ``(lambda[l+1] - shift) / (lambda[k] - shift)`` towards 1.
    """
    n = A.shape[-1]
    target, accept, max_iter = _defaults(A, tol, max_iter)
    stall = 10
    l = min(k + oversample, n)
    sign = 1.0 if largest else -1.0
    M = sign * A
    rho, low = _spectrum_bounds(M, seed)
    shift = torch.minimum(low, torch.zeros_like(low)).to(A.dtype)
    Q = _orth(_gaussian((*A.shape[:-2], n, l), A, seed))
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
        R = MV[..., :k] - Vk * wk.to(V.dtype).unsqueeze(-2)
        # Scale by the largest |eigenvalue| seen, an estimate of ||A||_2.
        scale = torch.maximum(w.abs().amax(-1), low.abs().squeeze(-1).squeeze(-1))
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        r = float((torch.linalg.vector_norm(R, dim=-2).amax(-1) / scale).max())
        rec.record(-float(sign * wk.sum()), r)
        if best is None or r < best[0]:
            best = (r, it, (sign * wk, Vk))
        if r <= target or it >= max_iter or it - best[1] >= stall:
            break
        Q = _orth(MV - V * shift)
    r, _, (wk, Vk) = best
    return Outcome(EighResult((wk, Vk)), r <= accept, r, it, accept)
