"""Subspace iteration with Chebyshev filtering and Rayleigh–Ritz, for a few extreme pairs.

Gradient ascent of ``tr(Q^H A A^H Q)`` over orthonormal ``Q`` with the Euclidean gradient, an
infinitely long step and a QR retraction is ``Q <- orth(A A^H Q)``: block power iteration. With
``l = k + p`` columns (``p`` extra, "oversampling") the error of the ``i``-th wanted pair falls by the
factor ``(s[l+1] / s[i])^2`` per multiplication by ``A A^H`` (Golub & Van Loan §8.2.4; Halko,
Martinsson & Tropp 2011). Replacing the power ``M^d`` by the degree-``d`` Chebyshev polynomial that
is smallest on the unwanted interval ``[a, b]`` of the spectrum (Rutishauser 1970; Zhou & Saad 2007)
amplifies the wanted end far more for the same ``d`` products: the factor per product becomes
``exp(-acosh(x))`` with ``x = (2 lambda_i - a - b) / (b - a)``, so one filter of degree 6 does the
work of many more power steps. After each filter a Rayleigh–Ritz projection extracts the best
approximations from the subspace: the small matrix ``Q^H A`` (or ``Q^H A Q``) is decomposed by the
package's own Jacobi method and the basis is rotated onto the Ritz vectors; the smallest Ritz
value kept then serves as the new ``b``.

Every member of a batch iterates until its own residual stops improving, and keeps its best
iterate.
"""

from __future__ import annotations

import math

import torch

from . import residuals, tolerances
from .estimates import gaussian, hermitian_extreme
from .jacobi import jacobi_eigh, jacobi_svd
from .outcome import Outcome, summarise
from .result import Recorder

EighResult = torch.return_types.linalg_eigh
SVDResult = torch.return_types.linalg_svd


def _orth(Y: torch.Tensor) -> torch.Tensor:
    # QR as a re-orthonormalisation of the block: it decomposes nothing we return.
    return torch.linalg.qr(Y).Q


def _defaults(A: torch.Tensor, tol: float | None, max_iter: int | None) -> tuple[float, float, int]:
    u = tolerances.machine_epsilon(A.dtype)
    target = 10 * math.sqrt(max(A.shape[-2:])) * u if tol is None else tol
    accept = 100 * math.sqrt(max(A.shape[-2:])) * u if tol is None else tol
    return target, accept, (1000 if max_iter is None else max_iter)


#: Iterations without progress (neither the residual nor the Ritz values) before a member stops.
_PATIENCE = 20
#: The filter degree doubles, up to this, whenever an iteration gains less than a factor 4: the
#: convergence factor per iteration is about exp(-2 d sqrt(gap / spread)), so a small relative gap
#: calls for a higher degree, while the Rayleigh–Ritz step costs the same for any degree.
_MAX_DEGREE = 96


def _chebyshev(apply, Y: torch.Tensor, degree: int, a: torch.Tensor, b: torch.Tensor,
               top: torch.Tensor) -> torch.Tensor:
    """``p(M) Y`` with ``p`` the degree-``degree`` Chebyshev polynomial of ``[a, b]``, scaled to 1 at
    ``top > b`` (the three-term recurrence of Zhou & Saad 2007, Algorithm 3.2, mirrored to the
    upper end). ``apply(Y)`` computes ``M Y``; ``a``, ``b``, ``top`` have shape ``(B, 1, 1)``."""
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


def _filter(apply, Y: torch.Tensor, degree: int, a: torch.Tensor, b: torch.Tensor,
            top: torch.Tensor) -> torch.Tensor:
    """Chebyshev filter where the unwanted interval is well defined, a plain power step for the
    members where it has collapsed (the Ritz values are not yet separated)."""
    fine = ((b - a) > 1e-12 * top.abs()) & (top > b)
    if bool(fine.all()):
        return _chebyshev(apply, Y, degree, a, b, top)
    safe_b = torch.where(fine, b, a + 0.5 * (top - a).clamp_min(0))
    filtered = _chebyshev(apply, Y, degree, a, safe_b, torch.where(fine, top, safe_b + 1))
    return torch.where(fine, filtered, apply(Y))


def _outside(apply, V: torch.Tensor, w: torch.Tensor, MV: torch.Tensor, floor: torch.Tensor) -> torch.Tensor:
    """An estimate of the top of the spectrum *outside* the block: the largest Rayleigh quotient
    of the Ritz residuals ``M v_i - w_i v_i``, which lie outside ``span(V)`` (``(B, 1, 1)``,
    at least ``floor``).

    The Chebyshev filter damps ``[a, b]``; with ``b`` the block's smallest Ritz value, a cluster
    that fills the whole block would be damped along with everything else and convergence would
    crawl. The largest eigenvalue outside the block is the right ``b``, and the residuals point at
    it. An estimate that is too low only weakens the filter a little; one that is too high is
    prevented by the caller's ``min`` with the smallest Ritz value."""
    R = MV - V * w.unsqueeze(-2).to(V.dtype)
    nr = torch.linalg.vector_norm(R, dim=-2).square()
    MR = apply(R)
    rq = (R.conj() * MR).sum(-2).real / nr.clamp_min(torch.finfo(nr.dtype).tiny)
    rq = torch.where(nr > 0, rq, torch.full_like(rq, -math.inf))
    return torch.maximum(rq.amax(-1).view(-1, 1, 1), floor)


class _Progress:
    """Per-member best iterate and patience counter."""

    def __init__(self, B: int) -> None:
        self.best_r = torch.full((B,), math.inf, dtype=torch.float64)
        self.best_ritz = torch.full((B,), -math.inf, dtype=torch.float64)
        self.since = torch.zeros(B, dtype=torch.int64)
        self.it = torch.zeros(B, dtype=torch.int64)
        self.done = torch.zeros(B, dtype=torch.bool)
        self.last_r = torch.full((B,), math.inf, dtype=torch.float64)
        self.slow = False

    def update(self, idx: torch.Tensor, r: torch.Tensor, ritz: torch.Tensor, tol_ritz: torch.Tensor) -> torch.Tensor:
        """Record the residuals ``r`` and Ritz sums ``ritz`` of members ``idx``; returns which of
        them improved on their best residual (their iterate must be kept)."""
        self.it[idx] += 1
        # A filter that cuts the residual by less than 4x is too weak for this spectrum.
        self.slow = bool((r > 0.25 * self.last_r[idx]).any())
        self.last_r[idx] = r
        better = r < self.best_r[idx]
        progress = (r < 0.99 * self.best_r[idx]) | (ritz > self.best_ritz[idx] + tol_ritz)
        self.best_r[idx] = torch.where(better, r, self.best_r[idx])
        self.best_ritz[idx] = torch.maximum(self.best_ritz[idx], ritz)
        self.since[idx] = torch.where(progress, torch.zeros_like(self.since[idx]), self.since[idx] + 1)
        return better


def truncated_svd(A: torch.Tensor, k: int, *, rec: Recorder, tol: float | None = None,
                  max_iter: int | None = None, oversample: int = 10, seed: int = 0,
                  degree: int = 6) -> Outcome:
    """Kernel for ``truncated_svd(method="subspace")``: Chebyshev-filtered subspace iteration on
    ``A A^H``, whose unwanted spectrum ``[0, s[l]^2]`` has the exact lower end 0."""
    Bn, m, n = A.shape
    target, accept, max_iter = _defaults(A, tol, max_iter)
    u = tolerances.machine_epsilon(A.dtype)
    l = min(k + oversample, m, n)
    U = _orth(A @ gaussian((Bn, n, l), A, seed))
    S2 = torch.zeros(Bn, l, 1, dtype=torch.float64)
    Bout = torch.zeros(Bn, 1, 1, dtype=A.real.dtype if A.is_complex() else A.dtype)
    best_U = A.new_zeros(Bn, m, k)
    best_S = torch.zeros(Bn, k, dtype=U.real.dtype if U.is_complex() else U.dtype)
    best_Vh = A.new_zeros(Bn, k, n)
    prog = _Progress(Bn)
    first = True
    while True:
        active = (~prog.done).nonzero().squeeze(-1)
        if active.numel() == 0:
            break
        Aa = A[active]
        Q = U[active]
        if not first:
            s2 = S2[active].to(A.real.dtype if A.is_complex() else A.dtype)
            b = torch.minimum(s2[:, -1:, :], Bout[active])
            Q = _orth(_filter(lambda Y: Aa @ (Aa.mH @ Y), Q, degree, torch.zeros_like(s2[:, :1, :]),
                              b, s2[:, :1, :]))
        # Rayleigh–Ritz on span(Q): Q^H A = Ub diag(S) Vb^H, so A V ~ Q Ub diag(S). The l x n
        # matrix is first reduced by a QR factorisation of its transpose, (Q^H A)^H = Q2 R, and
        # Jacobi runs on the l x l R^H (Drmac & Veselic 2008): rotations of short columns, and
        # fewer sweeps, since R^H is already nearly column-orthogonal when its rows are graded.
        Q2, Rt = torch.linalg.qr((Q.mH @ Aa).mH)
        Ub, S, Vr, _, _ = jacobi_svd(Rt.mH)
        Vh = Vr @ Q2.mH
        Ua = Q @ Ub
        AV = Aa @ Vh[:, :k, :].mH
        r = residuals.truncated_svd_members(Aa, Ua[..., :k], S[..., :k], Vh[:, :k, :], AV=AV)
        ritz = S[..., :k].square().sum(-1).to(torch.float64)
        better = prog.update(active, r, ritz, u * ritz.abs() * k)
        if prog.slow and not first:
            degree = min(2 * degree, _MAX_DEGREE)
        if bool(better.any()):
            keep = active[better]
            best_U[keep], best_S[keep], best_Vh[keep] = Ua[better, :, :k], S[better, :k], Vh[better, :k, :]
        # Ritz pairs of A A^H: (u_i, s_i^2), with A A^H u_i = A (A^H u_i) = A v_i s_i.
        AAU = Aa @ (Vh.mH * S.unsqueeze(-2).to(Vh.dtype))
        Bout[active] = _outside(lambda Y: Aa @ (Aa.mH @ Y), Ua, S.square(), AAU,
                                torch.zeros_like(Bout[active])).to(Bout.dtype)
        U[active] = Ua
        S2[active] = S.square().unsqueeze(-1).to(torch.float64)
        first = False
        prog.done |= (prog.best_r <= target) | (prog.it >= max_iter) | (prog.since >= _PATIENCE)
        if rec is not None:
            worst = float(prog.best_r.max())
            rec.record(-float(best_S.square().sum(-1).max()), worst)
    tols = torch.full((Bn,), float(accept), dtype=torch.float64)
    return summarise(SVDResult((best_U, best_S, best_Vh)), prog.best_r, tols, prog.it)


def _lower_bound(M: torch.Tensor) -> torch.Tensor:
    """A guaranteed lower bound on the smallest eigenvalue of each Hermitian ``M``: the larger of
    Gershgorin's ``min_i (m_ii - sum_{j != i} |m_ij|)`` and ``-||M||_F``. Shape ``(B, 1, 1)``."""
    d = torch.diagonal(M, dim1=-2, dim2=-1).real
    radius = M.abs().sum(-1) - d.abs()
    gersh = (d - radius).amin(-1)
    fro = torch.linalg.matrix_norm(M)
    return torch.maximum(gersh, -fro).unsqueeze(-1).unsqueeze(-1)


def truncated_eigh(A: torch.Tensor, k: int, *, largest: bool = True, rec: Recorder,
                   tol: float | None = None, max_iter: int | None = None, oversample: int = 10,
                   seed: int = 0, degree: int = 6) -> Outcome:
    """Kernel for ``truncated_eigh(method="subspace")``.

    Works on ``M = A`` (largest) or ``M = -A`` (smallest), shifted by a lower bound ``a`` of its
    spectrum, so that ``M - a I`` is positive semidefinite and its largest eigenvalues are the
    wanted ones: ``a`` is a power-iteration estimate of the smallest eigenvalue of ``M`` less 2 % of
    the spread, replaced by a guaranteed bound (``_lower_bound``) for a member whose Ritz values
    ever fall below it. The start block is
    ``(M - a I) G`` for a Gaussian ``G``, which leans towards the wanted end; the Chebyshev filter
    then damps ``[0, w[l] - a]``, the part of the shifted spectrum below the block's smallest Ritz
    value.
    """
    Bn, n = A.shape[0], A.shape[-1]
    target, accept, max_iter = _defaults(A, tol, max_iter)
    u = tolerances.machine_epsilon(A.dtype)
    l = min(k + oversample, n)
    sign = 1.0 if largest else -1.0
    M = sign * A
    rd = A.real.dtype if A.is_complex() else A.dtype
    # The residual is relative to ||A||_2: a power-iteration estimate (from below), raised by any
    # larger Ritz value met on the way.
    norm_est = hermitian_extreme(lambda x: A @ x, (Bn, n, 1), A, seed=seed + 1).abs().to(torch.float64)
    # The shift: power iteration on rho I - M (rho = 1.02 ||A||_2 estimated) approaches the
    # smallest eigenvalue of M from above; a margin of 2 % of the spread below that estimate is
    # usually a lower bound of the spectrum, and far tighter than a guaranteed one. Should an
    # eigenvalue lie below it after all, the filter amplifies it until a Ritz value shows up below
    # the shift; the member then switches to the guaranteed bound.
    rho = (1.02 * norm_est).to(rd).view(-1, 1, 1)
    low = rho.view(-1) - hermitian_extreme(lambda x: rho.to(A.dtype) * x - M @ x, (Bn, n, 1), A, seed=seed + 2)
    a = (low - 0.02 * (rho.view(-1) - low)).to(rd).view(-1, 1, 1)
    guaranteed = _lower_bound(M).to(rd)
    G = gaussian((Bn, n, l), A, seed)
    V = _orth(M @ G - a.to(A.dtype) * G)
    W = torch.zeros(Bn, l, 1, dtype=rd)
    Bout = torch.zeros(Bn, 1, 1, dtype=rd)
    best_w = torch.zeros(Bn, k, dtype=rd)
    best_V = A.new_zeros(Bn, n, k)
    prog = _Progress(Bn)
    first = True
    while True:
        active = (~prog.done).nonzero().squeeze(-1)
        if active.numel() == 0:
            break
        Ma, aa = M[active], a[active]
        Q = V[active]
        if not first:
            wl = W[active] - aa
            b = torch.minimum(wl[:, -1:, :], Bout[active] - aa)
            Q = _orth(_filter(lambda Y: Ma @ Y - aa.to(Y.dtype) * Y, Q, degree, torch.zeros_like(aa),
                              b, wl[:, :1, :]))
        MQ = Ma @ Q
        w, Y, _, _ = jacobi_eigh(Q.mH @ MQ)
        # Most extreme first: descending eigenvalues of M.
        w, Y = w.flip(-1), Y.flip(-1)
        Va = Q @ Y
        MV = MQ @ Y
        below = w[..., -1] < a[active].view(-1)
        if bool(below.any()):
            idx = active[below]
            a[idx] = torch.minimum(guaranteed[idx], w[below, -1].view(-1, 1, 1))
        norm_est[active] = torch.maximum(norm_est[active], w.abs().amax(-1).to(torch.float64))
        r = residuals.truncated_eigh_members(Ma, w[..., :k], Va[..., :k], norm_est[active], AV=MV[..., :k])
        ritz = w[..., :k].sum(-1).to(torch.float64)
        better = prog.update(active, r, ritz, u * norm_est[active] * k)
        if prog.slow and not first:
            degree = min(2 * degree, _MAX_DEGREE)
        if bool(better.any()):
            keep = active[better]
            best_w[keep], best_V[keep] = sign * w[better, :k], Va[better, :, :k]
        Bout[active] = _outside(lambda Y: Ma @ Y, Va, w, MV, a[active])
        V[active] = Va
        W[active] = w.unsqueeze(-1)
        first = False
        prog.done |= (prog.best_r <= target) | (prog.it >= max_iter) | (prog.since >= _PATIENCE)
        if rec is not None:
            rec.record(-float((sign * best_w).sum(-1).max()), float(prog.best_r.max()))
    tols = torch.full((Bn,), float(accept), dtype=torch.float64)
    return summarise(EighResult((best_w, best_V)), prog.best_r, tols, prog.it)
