"""Newton–Schulz: Newton's method on ``f(X) = X^{-1} - A``, for the inverse and the pseudo-inverse.

The iteration ``X <- X (2I - A X)`` (Schulz 1933) squares the residual ``R = I - A X`` at every step,
``R_{k+1} = R_k^2``, so it converges quadratically as soon as ``||R|| < 1``. It is started from
one gradient step on ``1/2 ||A X - I||_F^2`` from ``X = 0``, i.e. ``X0 = alpha A^H``, with
``alpha <= 1 / ||A||_2^2`` so that every eigenvalue of ``A X0`` lies in ``(0, 1]``. An eigenvalue
``lambda`` of ``A X`` moves as ``lambda -> 1 - (1 - lambda)^2``: a small one doubles per step, so the
number of iterations is about ``log2(cond(A)^2)`` plus a handful of quadratic steps.

On a rank-deficient ``A`` the same iteration converges to the Moore–Penrose pseudo-inverse
(Ben-Israel & Cohen 1966), but the components along the numerical null space, tiny rounding
perturbations, also double at every step and eventually swamp the answer. The pseudo-inverse
kernel therefore stops as soon as the Penrose residual ``||A X A - A|| / ||A||`` stops falling
quadratically and returns the best iterate.
"""

from __future__ import annotations

import math

import torch

from . import residuals
from .checks import SingularMatrixError, eps
from .outcome import Outcome
from .result import Recorder


def _spectral_bounds(A: torch.Tensor, steps: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """``(scale, top)``, both ``(*, 1, 1)``: a step ``alpha = 1 / scale`` and a bound ``top`` on the
    largest eigenvalue of ``alpha A A^H``.

    Power iteration on ``A^H A`` gives a lower estimate ``est`` of ``||A||_2^2`` that is usually
    within a few percent; ``||A||_1 ||A||_inf`` is a guaranteed upper bound. ``scale =
    min(1.5 est, bound)`` keeps ``alpha ||A||_2^2 < 2`` (the condition for convergence) as long as
    the power estimate is within a factor of 4/3, and loses almost nothing.
    """
    bound = (
        torch.linalg.matrix_norm(A, ord=1) * torch.linalg.matrix_norm(A, ord=float("inf"))
    )
    tiny = torch.finfo(bound.dtype).tiny
    gen = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(*A.shape[:-2], A.shape[-1], 1, generator=gen, dtype=torch.float64)
    x = x.to(dtype=A.dtype, device=A.device)
    est = torch.zeros_like(bound)
    for _ in range(steps):
        y = A.mH @ (A @ x)
        est = torch.linalg.vector_norm(y, dim=(-2, -1)) / torch.linalg.vector_norm(x, dim=(-2, -1)).clamp_min(tiny)
        x = y / torch.linalg.vector_norm(y, dim=(-2, -1), keepdim=True).clamp_min(tiny)
    scale = torch.minimum(1.5 * est, bound)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    top = torch.minimum(bound, 2 * est) / scale
    return scale.unsqueeze(-1).unsqueeze(-1), top.unsqueeze(-1).unsqueeze(-1)


def initial_guess(A: torch.Tensor) -> torch.Tensor:
    """``X0 = alpha A^H``: one gradient step from zero with a safe step ``alpha``."""
    return A.mH / _spectral_bounds(A)[0].to(A.dtype)


def _lanczos_smallest(M: torch.Tensor, steps: int) -> torch.Tensor:
    """Smallest Ritz value of the Hermitian positive semidefinite ``M`` after ``steps`` Lanczos
    steps (with full reorthogonalisation), per matrix: shape ``(*, 1, 1)``.

    A Ritz value never lies below the smallest eigenvalue, so this is an estimate from above. The
    smallest eigenvalue of the small tridiagonal matrix is bracketed by Sturm counts
    (``_tridiagonal_smallest``), which costs far less than a full eigensolver.
    """
    n = M.shape[-1]
    steps = min(steps, n)
    rdtype = torch.empty((), dtype=M.dtype).real.dtype
    tiny = torch.finfo(rdtype).tiny
    gen = torch.Generator(device="cpu").manual_seed(1)
    q = torch.randn(*M.shape[:-2], n, 1, generator=gen, dtype=torch.float64).to(dtype=M.dtype, device=M.device)
    q = q / torch.linalg.vector_norm(q, dim=(-2, -1), keepdim=True)
    Q = [q]
    alphas, betas = [], []
    for j in range(steps):
        w = M @ Q[-1]
        alphas.append((Q[-1].conj() * w).sum(dim=(-2, -1)).real)
        basis = torch.cat(Q, dim=-1)
        for _ in range(2):  # "twice is enough" against the loss of orthogonality
            w = w - basis @ (basis.mH @ w)
        beta = torch.linalg.vector_norm(w, dim=(-2, -1))
        if j == steps - 1 or bool((beta <= 1e3 * tiny).any()):
            break
        betas.append(beta)
        Q.append(w / beta.unsqueeze(-1).unsqueeze(-1).to(M.dtype))
    a = torch.stack(alphas, dim=-1).to(torch.float64)
    b = torch.stack(betas[: a.shape[-1] - 1], dim=-1).to(torch.float64) if a.shape[-1] > 1 else a[..., :0]
    return _tridiagonal_smallest(a, b).unsqueeze(-1).unsqueeze(-1).to(rdtype)


def _sturm_count(a: torch.Tensor, b2: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Number of eigenvalues below each shift ``x`` (``(*, P)``) of the symmetric tridiagonal
    matrices with diagonal ``a`` (``(*, k)``) and squared off-diagonal ``b2`` (``(*, k-1)``)."""
    tiny = torch.finfo(a.dtype).tiny
    count = torch.zeros(x.shape, dtype=torch.int64, device=x.device)
    d = a[..., :1] - x
    for i in range(a.shape[-1]):
        if i:
            d = a[..., i : i + 1] - x - b2[..., i - 1 : i] / d
        # Sylvester's law of inertia: the signs of the LDL^T pivots count the eigenvalues below x.
        d = torch.where(d == 0, torch.full_like(d, -tiny), d)
        count += (d < 0).to(torch.int64)
    return count


def _tridiagonal_smallest(a: torch.Tensor, b: torch.Tensor, points: int = 64) -> torch.Tensor:
    """An upper bound, within about 10 %, on the smallest eigenvalue of each symmetric positive
    semidefinite tridiagonal matrix: Sturm counts on a geometric grid of shifts spanning 30 decades
    below the Gershgorin bound, then on a linear grid inside the bracketing cell. Shape ``(*,)``."""
    b2 = b.square()
    babs = b.abs()
    radius = torch.zeros_like(a)
    radius[..., 1:] += babs
    radius[..., :-1] += babs
    hi = (a + radius).amax(dim=-1, keepdim=True).clamp_min(torch.finfo(a.dtype).tiny)
    grid = torch.logspace(-30, 0, points, dtype=a.dtype, device=a.device)
    x = hi * grid  # (*, P)
    first = (_sturm_count(a, b2, x) >= 1).to(torch.int64).argmax(dim=-1, keepdim=True)
    upper = torch.take_along_dim(x, first, dim=-1)
    lower = torch.take_along_dim(x, (first - 1).clamp_min(0), dim=-1) * (first > 0)
    x = lower + (upper - lower) * torch.linspace(0, 1, points + 1, dtype=a.dtype, device=a.device)[1:]
    first = (_sturm_count(a, b2, x) >= 1).to(torch.int64).argmax(dim=-1, keepdim=True)
    return torch.take_along_dim(x, first, dim=-1).squeeze(-1)


def inv(A: torch.Tensor, *, rec: Recorder, tol: float | None = None, max_iter: int | None = None,
        accelerate: bool | None = None) -> Outcome:
    """Kernel for ``inv(method="newton_schulz")``.

    Acceleration (Pan & Schreiber 1991): if every eigenvalue of ``A X`` lies in ``[lo, hi]``, the
    step ``X <- c X (2I - A X)`` with ``c = 2 / (f_lo + f_hi)`` (``f`` the images of the interval's
    ends under ``f(x) = x (2 - x)``) maps the spectrum into an interval symmetric about 1, so a small
    eigenvalue grows four-fold per step instead of two-fold until the interval closes in on 1, and
    roughly halves the iteration count on ill-conditioned matrices. ``lo`` starts from a
    Lanczos estimate of the smallest eigenvalue of ``alpha A^H A``; an estimate that is too high is
    harmless (eigenvalues below it stay below the interval and keep growing). It is used by default
    for ``n >= 256``: the 40 Lanczos steps and Sturm counts cost about 15 ms, which pays off only
    when one matrix product costs more than that (measured at cond 1e3: n = 100, 5.9 ms plain vs
    13.5 ms accelerated; n = 500, 185 ms vs 166 ms).

    Stopping rule: the residual ``r = ||I - A X||_F / sqrt(n)``. Once ``||R||_F < 1/2`` every
    eigenvalue is in the quadratic regime, so in exact arithmetic the next residual is at most half
    the current one; when rounding stops that from happening the iteration has reached its
    attainable accuracy and returns the best iterate.
    """
    n = A.shape[-1]
    max_iter = 200 if max_iter is None else max_iter
    accelerate = n >= 256 if accelerate is None else accelerate
    accept = math.sqrt(eps(A.dtype))
    scale, top = _spectral_bounds(A)
    X = A.mH / scale.to(A.dtype)
    if accelerate:
        lo = _lanczos_smallest(A.mH @ A / scale.to(A.dtype), steps=min(40, n)).clamp(1e-300, 1.0)
        hi = torch.maximum(top, lo)
    eye = torch.eye(n, dtype=A.dtype, device=A.device)
    AX = A @ X
    R = eye - AX
    r = residuals.inverse(A, X, AX=AX)
    best_X, best_r = X, r
    it = 0
    stagnated = False
    r_new = r
    # Enough steps for the smallest eigenvalue of A X0 that is distinguishable from zero,
    # (eps * ||A||)^2 * alpha, to double up to 1 and converge: beyond that, ||R|| >= 1/2 means
    # A is singular to working precision.
    enough = math.ceil(2 * math.log2(1 / eps(A.dtype))) + 10
    while it < max_iter:
        if tol is not None and r <= tol:
            break
        if it >= enough and r * math.sqrt(n) >= 0.5:
            break
        X = X + X @ R
        if accelerate and bool((lo < 0.5).any()):
            f_lo, f_hi = lo * (2 - lo), hi * (2 - hi)
            new_lo = torch.minimum(f_lo, f_hi)
            new_hi = torch.where((lo < 1) & (hi > 1), torch.ones_like(hi), torch.maximum(f_lo, f_hi))
            c = 2 / (new_lo + new_hi)
            X = X * c.to(A.dtype)
            lo, hi = c * new_lo, c * new_hi
        AX = A @ X
        R = eye - AX
        it += 1
        r_new = residuals.inverse(A, X, AX=AX)
        rec.record(0.5 * (r_new * math.sqrt(n)) ** 2, r_new)
        if not math.isfinite(r_new):
            break
        if r_new < best_r:
            best_X, best_r = X, r_new
        if (r * math.sqrt(n) < 0.5 and r_new > 0.5 * r) or r_new == 0:
            # r_new == 0: exactly inverted (e.g. a 2x2 Hilbert matrix); nothing left to halve.
            stagnated = True
            break
        r = r_new
    X, r = best_X, best_r
    if (stagnated or it >= enough or not math.isfinite(r_new)) and r * math.sqrt(n) >= 0.5:
        raise SingularMatrixError(
            f"matrix is singular (numerically rank-deficient): Newton–Schulz reached "
            f"||I - A X||_F = {r * math.sqrt(n):.3e} after {it} iterations"
        )
    if tol is None:
        converged, tol_used = (stagnated or r <= accept) and r <= accept, accept
    else:
        converged, tol_used = r <= tol, tol
    return Outcome(X, converged, r, it, tol_used)


def solve(A: torch.Tensor, B: torch.Tensor, *, rec: Recorder, tol: float | None = None,
          max_iter: int | None = None, accelerate: bool | None = None) -> Outcome:
    """Kernel for ``solve(method="newton_schulz")``: ``X = inv(A) B``, residual of ``A X = B``."""
    out = inv(A, rec=rec, tol=tol, max_iter=max_iter, accelerate=accelerate)
    X = out.solution @ B
    r = residuals.solve(A, X, B)
    accept = math.sqrt(eps(A.dtype)) if tol is None else tol
    return Outcome(X, r <= accept, r, out.iterations, accept)


def pinv(A: torch.Tensor, *, rec: Recorder, tol: float | None = None, max_iter: int | None = None,
         hermitian: bool = False, stopping_rule: bool = True) -> Outcome:
    """Kernel for ``pinv(method="newton_schulz")``.

    The iterate stays in the column space of ``A^H``. Stopping rule: the Penrose residual
    ``p = ||A X A - A||_F / ||A||_F``; once it is below ``sqrt(eps)`` the converged components are in
    the quadratic regime and the next step must at least halve it, otherwise the only thing left to
    change is the growth of null-space components, so the iteration stops at the best iterate.
    ``stopping_rule=False`` runs all ``max_iter`` steps and returns the last iterate, to show what
    happens without the rule (the null-space error doubles at every step).
    """
    max_iter = 200 if max_iter is None else max_iter
    accept = math.sqrt(eps(A.dtype))
    X = initial_guess(A)
    if hermitian:
        X = 0.5 * (X + X.mH)
    def penrose(X: torch.Tensor) -> tuple[torch.Tensor, float]:
        P = A @ X
        return P, residuals.pinv(A, X, AX=P)

    P, p = penrose(X)
    best_X, best_p = X, p
    it = 0
    stagnated = False
    while it < max_iter:
        if tol is not None and p <= tol:
            break
        X = 2 * X - X @ P
        if hermitian:
            X = 0.5 * (X + X.mH)
        it += 1
        P, p_new = penrose(X)
        rec.record(0.5 * p_new**2, p_new)
        if not math.isfinite(p_new):
            break
        if p_new < best_p:
            best_X, best_p = X, p_new
        if stopping_rule and ((p < accept and p_new > 0.5 * p) or p_new == 0):
            stagnated = True
            break
        p = p_new
    if stopping_rule:
        X, p = best_X, best_p
    else:
        p = p_new if it else p
    if tol is None:
        converged, tol_used = (stagnated or p <= accept) and p <= accept, accept
    else:
        converged, tol_used = p <= tol, tol
    return Outcome(X, converged, p, it, tol_used)
