"""Newton–Schulz: Newton's method on ``f(X) = X^{-1} - A``, for the inverse, solves and the
pseudo-inverse.

The iteration ``X <- X (2I - A X)`` (Schulz 1933) squares the residual ``R = I - A X`` at every step,
``R_{k+1} = R_k^2``, so it converges quadratically as soon as ``||R|| < 1``. It starts from one
gradient step on ``1/2 ||A X - I||_F^2`` from ``X = 0``, i.e. ``X0 = alpha A^H`` with
``alpha ||A||_2^2 < 2``, so that every eigenvalue ``lambda`` of ``A X0`` lies in ``(0, 2)``. An
eigenvalue moves as ``lambda -> 1 - (1 - lambda)^2``: a small one doubles per step, so the number of
iterations is about ``log2(cond(A)^2)`` plus a handful of quadratic steps.

Every kernel here works on a flattened batch ``(B, n, n)`` whose matrices the public wrapper has
scaled to entries of order one (``scaling.py``), and every member has its own step size, stopping
test and best iterate: a member that has converged stops, so the others can neither spoil it nor
hold it back.

**Inverse.** The iteration stops where rounding stops the quadratic decrease, and the answer is
judged against what that arithmetic can reach: ``||I - A X||_F / sqrt(n) <= (2 sqrt(n) cond(A) + 4n) u``
(``tolerances.inverse``), with ``cond(A) = ||A||_2 ||X||_2`` estimated by power iteration. A matrix
is reported singular only when no step brings ``||I - A X||_F`` below 1/2, i.e. when not even the
leading digit of the inverse can be trusted; the error says the condition number exceeds ``1/u``.
For ``n >= 256`` the doubling phase is skipped when it can be: the start ``X0 = (A^H A)^{-1} A^H``,
with the Gram inverse by recursive Schur complements (``schur.py``: 0.75 to 2.6 products' worth of
flops, measured), has ``||I - A X0||`` of order ``cond(A)^2 u`` or more, so a step or two of the
quadratic phase finish (up to ``cond(A)`` of about ``5e5``; beyond, the start is not used).

**Solve.** ``X = inv(A)`` followed by fixed-precision iterative refinement, ``x <- x + X (b - A x)``
with the residual in working precision: each step multiplies the error by ``||I - X A||``, which is
of order ``cond(A) u``, so two or three steps make the solution backward stable (Higham 2002,
ch. 12) for any ``cond(A)`` well below ``1/u`` — ``1e12`` in float64, ``1e5`` in float32 — at the cost
of a few matrix-vector products. For ``n >= 256`` the approximate inverse is first the implicit
``(A^H A)^{-1} A^H`` in single precision, far cheaper than any inverse when ``cond(A)`` is small
enough for it to contract. CG on the normal equations (``method="cgls"``) squares the
condition number and loses about ``cond(A)^2 u``; LAPACK's LU with partial pivoting is backward
stable without refinement.

**Pseudo-inverse.** On a rank-deficient ``A`` the same iteration converges to the Moore–Penrose
pseudo-inverse (Ben-Israel & Cohen 1966), but it cannot tell a tiny singular value from rounding
noise: with ``alpha ||A||_2^2 <= 1`` the eigenvalue of ``A X_k`` belonging to ``sigma`` is
``f_k(sigma) = 1 - (1 - alpha sigma^2)^(2^k)``, a smooth step that moves down by a factor sqrt(2) in
``sigma`` per iteration. The kernel chooses ``alpha`` and the number of steps ``K`` so that
``f_K(tau) = 1/2`` exactly at the cut-off ``tau = max(atol, rtol sigma_1)`` of
:func:`torch.linalg.pinv`. Along the way ``tr(A X_k) = sum_i f_k(sigma_i)`` counts the singular
values already inverted: it climbs a staircase whose flat stretches are the gaps of the spectrum.
The kernel keeps the iterate at the start of the last flat stretch (where everything above the cut
has just converged and the noise below it has not yet grown), sharpens ``P = A X`` into the
projector ``Pi`` onto the kept singular vectors by ``P <- 3P^2 - 2P^3``, and finishes the kept part
exactly: ``X <- X (P + I - Pi)^{-1} Pi``. Singular values above the cut are inverted fully, those
below are dropped; it costs about ``2 log2(sigma_1 / tau)`` steps (90 in float64 for the default
cut), which is why ``pinv``'s default computes the SVD instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from . import residuals, scaling, schur, tolerances
from .checks import SingularMatrixError
from .estimates import gaussian, norm2, norm_1, norm_inf
from .outcome import Outcome, hermitian_part, judge, summarise
from .polar import sharpen_projector
from .residuals import fro
from .result import Recorder


def _sigma1_squared(A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(est, bound)`` per matrix, float64: an estimate of ``||A||_2^2`` (power iteration, from
    below; for tiny matrices :func:`_tiny_norm2`) and the guaranteed bound
    ``||A||_1 ||A||_inf >= ||A||_2^2``."""
    bound = (norm_1(A) * norm_inf(A)).to(torch.float64)
    est = (_tiny_norm2(A) if A.shape[-1] <= _CLOSED_FORM else norm2(A)).to(torch.float64).square()
    return est, bound


def _tiny_norm2(A: torch.Tensor) -> torch.Tensor:
    """``||A||_2`` per matrix of a tiny ``A`` (``n <= 3``), from the largest eigenvalue of the
    Gram matrix ``G = A^H A`` (zero-padded to 3 x 3) by the trigonometric formula for 3 x 3
    Hermitian matrices (Smith 1961): ``q = tr(G)/3``, ``p^2 = ||G - qI||_F^2 / 6``,
    ``lambda_max = q + 2p cos(acos(det((G - qI)/p)/2)/3)``. A dozen operations on ``(B,)``
    vectors where power iteration takes sixty batched ones (on 3 x 3 matrices one batched product
    costs as much as LAPACK's inverse); computed in double precision, ``G`` scaled to trace 1."""
    n = A.shape[-1]
    W = A.to(torch.complex128 if A.is_complex() else torch.float64)
    G = W.mH @ W
    if n < 3:
        G = torch.nn.functional.pad(G, (0, 3 - n, 0, 3 - n))
    # The six entries as vectors: on (B, 3) slices every reduction costs as much as a product.
    d0, d1, d2 = G[:, 0, 0].real, G[:, 1, 1].real, G[:, 2, 2].real
    t = d0 + d1 + d2
    t = torch.where(t > 0, t, torch.ones_like(t))
    # Trace 1: no under- or overflow below (a division, not a reciprocal: t may be subnormal).
    d0, d1, d2 = d0 / t, d1 / t, d2 / t
    g01, g02, g12 = G[:, 0, 1] / t, G[:, 0, 2] / t, G[:, 1, 2] / t
    a01, a02, a12 = g01.abs().square(), g02.abs().square(), g12.abs().square()
    q = (d0 + d1 + d2) / 3
    b0, b1, b2 = d0 - q, d1 - q, d2 - q
    p = ((b0 * b0 + b1 * b1 + b2 * b2 + 2 * (a01 + a02 + a12)) / 6).sqrt()
    ps = torch.where(p > 0, p, torch.ones_like(p))
    det = b0 * b1 * b2 + 2 * (g01 * g12 * g02.conj()).real - b0 * a12 - b1 * a02 - b2 * a01
    c = (det / (2 * ps * ps * ps)).clamp(-1, 1)
    lam = q + 2 * p * torch.cos(torch.acos(c) / 3)
    return (t * lam.clamp_min(0)).sqrt()


def _step_size(est: torch.Tensor, bound: torch.Tensor) -> torch.Tensor:
    """``alpha = 1 / min(1.5 est, bound)``: ``alpha ||A||_2^2 < 2`` (the condition for convergence)
    whenever the power estimate is within a factor 3 of ``||A||_2^2``; if it is not, the iteration
    diverges visibly and is restarted from the guaranteed ``1 / bound``."""
    s = torch.minimum(1.5 * est, bound)
    return 1.0 / torch.where(s > 0, s, torch.ones_like(s))


def _lanczos_smallest(M: torch.Tensor, steps: int) -> torch.Tensor:
    """Smallest Ritz value of each Hermitian positive semidefinite ``M`` (``(B, n, n)``) after
    ``steps`` Lanczos steps with full reorthogonalisation, shape ``(B,)`` float64.

    A Ritz value never lies below the smallest eigenvalue, so this is an estimate from above. The
    smallest eigenvalue of the small tridiagonal matrix is bracketed by Sturm counts
    (``_tridiagonal_smallest``), which costs far less than a full eigensolver.
    """
    n = M.shape[-1]
    steps = min(steps, n)
    tiny = torch.finfo(M.real.dtype if M.is_complex() else M.dtype).tiny
    q = gaussian((*M.shape[:-2], n, 1), M, seed=1)
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
    return _tridiagonal_smallest(a, b)


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


# ------------------------------------------------------------------------------------------------
# inverse
# ------------------------------------------------------------------------------------------------


@dataclass
class Inverse:
    """Per-member outcome of :func:`inverse` (``B`` = batch size)."""

    X: torch.Tensor            # (B, n, n), the best iterate of each member
    residual: torch.Tensor     # (B,) float64, ||I - A X||_F / sqrt(n)
    iterations: torch.Tensor   # (B,) int64
    norm: torch.Tensor         # (B,) float64, estimate of ||A||_2
    kappa: torch.Tensor        # (B,) float64, estimate of ||A||_2 ||X||_2
    failed: torch.Tensor       # (B,) bool: ||I - A X||_F never fell below 1/2 (singular)


#: Single precision of each double-precision dtype, for the first phase of the mixed iteration.
_NARROW = tolerances.NARROWER
_WIDE = tolerances.WIDER
#: Matrices at least this large use the mixed-precision phase and the accelerated steps: below,
#: the products are too cheap for either to repay its overhead.
_LARGE = 256


def inverse(A: torch.Tensor, *, rec: Recorder | None, tol: float | None = None,
            max_iter: int | None = None, accelerate: bool | None = None,
            mixed: bool | None = None) -> Inverse:
    """Newton–Schulz inverse of every matrix of ``A``, from a good start or in mixed precision
    where it pays.

    For ``n >= 256`` the iteration first tries the start ``X0 = (A^H A)^{-1} A^H``, with the Gram
    inverse by recursive Schur complements (:mod:`.schur`: matrix products only, 0.75 to 2.6
    products' worth of flops). Its residual is ``cond(A)^2 u`` or more, so for ``cond(A)`` up to
    about ``5e5`` (measured at ``n = 300``) the doubling phase is skipped and two or three
    quadratic steps finish. If any member
    of the batch gets no start with ``||I - A X0||_F < 1``, the whole batch takes the general route:
    for double precision the iteration then runs in single precision, where a product costs about
    half as much, from the scaled start to single-precision accuracy (``cond u_32``), and continues
    in double precision from there; a member whose single-precision phase did not bring
    ``||I - A X||_F`` below 1 (``cond(A) > 1e5`` or so) starts afresh in double precision. The
    single-precision phase is capped at 45 steps, enough for any ``cond <= 1e5``.
    """
    n = A.shape[-1]
    if n <= _BLOCK_START:
        # Small matrices: a direct start (the adjugate formula for n <= 3, 2 x 2 block elimination
        # above) is accurate to about cond(A) u for most members, so Newton–Schulz only confirms
        # it (one to three steps) instead of doubling its way up for 2 log2(cond) steps. A member
        # whose start is not within ||I - A X0||_F < 1 (an ill-conditioned leading block, det(A)
        # ~ 0, under- or overflow) starts cold in the same loop.
        return _inverse(A, rec=rec, tol=tol, max_iter=max_iter, accelerate=False, X0=block_inverse(A))
    if n >= _LARGE:
        # In single precision the start may need the wider type (cond(A)^2 u_32 > 1 from
        # cond(A) of a few hundred); it is still far cheaper than the doubling phase.
        for dtype in _gram_types(A.dtype, single_first=False):
            Aw = A.to(dtype)
            # A Gram matrix that is not numerically positive definite gives a non-finite X0, which
            # fails the warm-start test (||I - A X0||_F < 1) and moves on to the next precision.
            X0 = (gram_inverse(Aw) @ Aw.mH).to(A.dtype)
            res = _inverse(A, rec=rec, tol=tol, max_iter=max_iter, accelerate=False, X0=X0, only_warm=True)
            if res is not None:
                return res
    mixed = (A.dtype in _NARROW and n >= _LARGE) if mixed is None else mixed
    if not mixed:
        return _inverse(A, rec=rec, tol=tol, max_iter=max_iter, accelerate=accelerate)
    low = _inverse(A.to(_NARROW[A.dtype]), rec=rec, max_iter=45, accelerate=accelerate)
    res = _inverse(A, rec=rec, tol=tol, max_iter=max_iter, accelerate=accelerate, X0=low.X.to(A.dtype))
    res.iterations += low.iterations
    return res


#: Columns whose largest entries differ by more than this power of two are equilibrated.
_GRADED_COLUMNS = 10


#: Up to this size the inverse starts from the adjugate formula; up to the next, from block
#: elimination down to it.
_CLOSED_FORM = 3
_BLOCK_START = 32


def block_inverse(A: torch.Tensor) -> torch.Tensor:
    """A start for Newton–Schulz on small ``(B, n, n)``: 2 x 2 block elimination without pivoting,

        A = [[P, Q], [R, S]],  C = S - R P^{-1} Q  (the Schur complement),
        A^{-1} = [[P^{-1} + P^{-1} Q C^{-1} R P^{-1}, -P^{-1} Q C^{-1}], [-C^{-1} R P^{-1}, C^{-1}]],

    recursively, with :func:`closed_form_inverse` for blocks of size 3 or less: about eight batched
    products per level. Without pivoting a nearly singular leading block spoils a member's start;
    Newton–Schulz's warm-start test (``||I - A X0||_F < 1``) catches it, and that member starts
    cold."""
    n = A.shape[-1]
    if n <= _CLOSED_FORM:
        return closed_form_inverse(A)
    h = n // 2
    P, Q, R, S = A[:, :h, :h], A[:, :h, h:], A[:, h:, :h], A[:, h:, h:]
    Pi = block_inverse(P)
    PiQ, RPi = Pi @ Q, R @ Pi
    Ci = block_inverse(S - R @ PiQ)
    top_right = -(PiQ @ Ci)
    bottom_left = -(Ci @ RPi)
    top_left = Pi - top_right @ RPi
    return torch.cat([torch.cat([top_left, top_right], -1), torch.cat([bottom_left, Ci], -1)], -2)


def closed_form_inverse(A: torch.Tensor) -> torch.Tensor:
    """``adj(A) / det(A)`` for ``(B, n, n)`` with ``n <= 3`` (cofactors: products and sums only).
    A start for Newton–Schulz, not an answer: it is accurate to about ``cond(A) u`` when ``det(A)``
    neither under- nor overflows (``A`` arrives normalised), and non-finite when ``det(A) = 0``."""
    n = A.shape[-1]
    if n == 1:
        X = 1 / A
    elif n == 2:
        a, b, c, d = A[:, 0, 0], A[:, 0, 1], A[:, 1, 0], A[:, 1, 1]
        adj = torch.stack([torch.stack([d, -b], -1), torch.stack([-c, a], -1)], -2)
        X = adj / (a * d - b * c).view(-1, 1, 1)
    else:
        # 3 x 3: the cofactors C_ij = (-1)^(i+j) M_ij, written out on the entries as (B,) vectors
        # (on 3 x 3 slices every roll and reduction costs as much as LAPACK's whole inverse);
        # the adjugate is C^T and det(A) = sum_j A_0j C_0j.
        (a, b, c), (d, e, f), (g, h, i) = [[A[:, r, k] for k in range(3)] for r in range(3)]
        c00, c01, c02 = e * i - f * h, f * g - d * i, d * h - e * g
        c10, c11, c12 = c * h - b * i, a * i - c * g, b * g - a * h
        c20, c21, c22 = b * f - c * e, c * d - a * f, a * e - b * d
        adj = torch.stack([c00, c10, c20, c01, c11, c21, c02, c12, c22], -1).view(-1, 3, 3)
        det = a * c00 + b * c01 + c * c02
        X = adj / det.view(-1, 1, 1)
    return X + 0.0          # -0.0 + 0.0 = +0.0: the zeros of an exact inverse print as LAPACK's


def equilibrated_inverse(A: torch.Tensor, **kwargs) -> Inverse:
    """:func:`inverse` of ``A``, through ``A D^{-1}`` when its columns are graded.

    ``D`` scales each column by the power of two of its largest entry, for the members whose
    columns span more than ``2^10``: then ``A^{-1} = D^{-1} (A D^{-1})^{-1}`` exactly, and the right
    residual is unchanged, ``I - A X = I - (A D^{-1}) (D X)``. Column scaling changes no digit (the
    scale factors are powers of two) but the condition number the iteration sees: the inverse of
    ``diag(1e200, 1, 1e-100)`` is exact instead of singular to working precision, as LAPACK's is.
    ``kappa`` is then that of ``A D^{-1}`` and ``norm`` that of ``A``."""
    e = scaling.column_exponents(A)
    lo, hi = torch.aminmax(e, dim=-1)            # int64 amin over a short last dimension is slow
    graded = (hi - lo) > _GRADED_COLUMNS
    if not bool(graded.any()):
        return inverse(A, **kwargs)
    e = torch.where(graded.unsqueeze(-1), e - e.amax(-1, keepdim=True), torch.zeros_like(e))
    res = inverse(scaling.scale_columns(A, -e), **kwargs)
    res.X = scaling.scale(res.X, -e, trailing=1)
    res.norm = torch.where(graded, norm2(A).to(torch.float64), res.norm)
    return res


def _gram_types(dtype: torch.dtype, *, single_first: bool) -> list[torch.dtype]:
    """The precisions to try the Gram route in, cheapest first: for the solve, whose refinement
    repairs a rough preconditioner, single precision first; for the inverse the working one."""
    if dtype in _NARROW:
        return [_NARROW[dtype], dtype] if single_first else [dtype]
    return [dtype, _WIDE[dtype]] if dtype in _WIDE else [dtype]


def gram_inverse(A: torch.Tensor) -> torch.Tensor:
    """``(A^H A)^{-1}`` by recursive Schur complements, for the start and the preconditioner."""
    return schur.hpd_inverse(A.mH @ A)


def _residual_norm(R: torch.Tensor) -> torch.Tensor:
    """``||R||_F`` per matrix of a residual ``I - A X`` in float64, without :func:`fro`'s scaling
    against over- and underflow: a residual that matters lies between ``u`` and ``sqrt(n)``, where
    the plain sum of squares is exact to rounding; one that overflows has diverged (and is treated
    so), one that underflows is below any tolerance. (On a batch of 3 x 3 matrices the scaled
    norm cost a fifth of the whole inverse.)"""
    return torch.linalg.vector_norm(R, dim=(-2, -1)).to(torch.float64)


def _inverse(A: torch.Tensor, *, rec: Recorder | None, tol: float | None = None,
             max_iter: int | None = None, accelerate: bool | None = None,
             X0: torch.Tensor | None = None, only_warm: bool = False) -> Inverse | None:
    """Newton–Schulz on every matrix of ``A`` (``(B, n, n)``), each with its own stopping test.

    Acceleration (Pan & Schreiber 1991): if every eigenvalue of ``A X`` lies in ``[lo, hi]``, the
    step ``X <- c X (2I - A X)`` with ``c = 2 / (f_lo + f_hi)`` (``f`` the images of the interval's
    ends under ``f(x) = x (2 - x)``) maps the spectrum into an interval symmetric about 1, so a small
    eigenvalue grows four-fold per step instead of two-fold until the interval closes in on 1.
    ``lo`` starts from a Lanczos estimate of the smallest eigenvalue of ``alpha A^H A``; an estimate
    that is off by a factor ``F`` either way costs about ``log4(F)`` extra steps, never
    correctness. It is used by default for ``n >= 256``, where the 40 Lanczos steps cost less than
    the steps they save (measured: about 25 % fewer iterations at cond 1e3).

    Stopping: once ``||R||_F < 1/2`` every eigenvalue is in the quadratic regime, so in exact
    arithmetic the next residual is at most half the current one; when rounding stops that, the
    member has reached its attainable accuracy and keeps its best iterate. A member whose residual
    grows beyond what any valid step allows (``||R||_F > sqrt(n)``, only possible when the power
    estimate of ``||A||_2`` was too low) restarts from the guaranteed step size.

    ``X0``: a start to continue from, for the members where ``||I - A X0||_F < 1``; with
    ``only_warm``, ``None`` is returned unless that holds for every member.
    """
    Bn, n = A.shape[0], A.shape[-1]
    u = tolerances.unit_roundoff(A.dtype)
    max_iter = 200 if max_iter is None else max_iter
    accelerate = n >= _LARGE if accelerate is None else accelerate
    sqrt_n = math.sqrt(n)
    est, bound = _sigma1_squared(A)
    alpha = _step_size(est, bound)
    eye = torch.eye(n, dtype=A.dtype, device=A.device)

    def start(idx: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return A[idx].mH * a.view(-1, 1, 1).to(A.dtype)

    everyone = torch.arange(Bn, device=A.device)
    X = start(everyone, alpha)
    if X0 is not None:
        # Continue from X0 where ||I - A X0||_F < 1: the next step squares the residual, so it is
        # already in the quadratic regime and needs no acceleration.
        R0 = torch.baddbmm(eye.expand_as(X0), A, X0, alpha=-1)
        f0 = _residual_norm(R0)
        warm = (f0 < 1) & torch.isfinite(f0)
        if bool(warm.all()):
            X, R = X0, R0
        elif only_warm:
            return None
        else:
            X = torch.where(warm.view(-1, 1, 1), X0, X)
            R = torch.baddbmm(eye.expand_as(X), A, X, alpha=-1)
        accelerate = accelerate and not bool(warm.all())
    else:
        R = torch.baddbmm(eye.expand_as(X), A, X, alpha=-1)
    r = _residual_norm(R) / sqrt_n
    if accelerate:
        lo = _lanczos_smallest(A.mH @ A * alpha.view(-1, 1, 1).to(A.dtype), steps=min(40, n)).clamp(1e-300, 1.0)
        # An upper end of 2 would make the scaled step degenerate (f(2) = 0): take the power
        # estimate's top as if it were within a factor 2, as it nearly always is. When it is not,
        # the eigenvalues above hi fall below the interval and grow back; none can diverge.
        hi = torch.maximum(torch.minimum(bound, 2 * est) * alpha, lo).clamp_max(1.9)
    # best_X is never written in place; X may be (a restart), so it starts as a copy.
    best_X, best_r = X, r.clone()
    X = X.clone()
    it = torch.zeros(Bn, dtype=torch.int64)
    done = torch.zeros(Bn, dtype=torch.bool)
    restarted = torch.zeros(Bn, dtype=torch.bool)
    if X0 is not None and tol is None and n <= _CLOSED_FORM:
        # A tiny matrix's direct start is often already at the attainable accuracy; its condition
        # number costs a few operations (_tiny_norm2), so such members take no step at all.
        kappa0 = est.sqrt() * _tiny_norm2(X)
        done = r <= tolerances.inverse(n, kappa0, A.dtype).clamp(max=0.5 / sqrt_n)
    # Enough steps for the smallest eigenvalue of A X0 that is distinguishable from zero,
    # (u ||A||)^2 alpha, to double up to 1 and converge: beyond that, ||R||_F >= 1/2 means A is
    # singular to working precision.
    enough = math.ceil(2 * math.log2(1 / u)) + 10
    while True:
        if tol is not None:
            done |= best_r <= tol
        done |= it >= max_iter
        done |= (it >= enough) & (r * sqrt_n >= 0.5)
        active = (~done).nonzero().squeeze(-1)
        if active.numel() == 0:
            break
        everyone_active = active.numel() == Bn
        Xa, Ra, Aa = (X, R, A) if everyone_active else (X[active], R[active], A[active])
        Xn = torch.baddbmm(Xa, Xa, Ra)
        if accelerate:
            la, ha = lo[active], hi[active]
            # ||R||_F bounds every |1 - lambda|: once it is below 1 it gives a proven interval.
            ra = r[active] * sqrt_n
            la = torch.where(ra < 1, torch.maximum(la, 1 - ra), la)
            ha = torch.where(ra < 1, torch.minimum(ha, 1 + ra), ha)
            on = la < 0.5
            f_lo, f_hi = la * (2 - la), ha * (2 - ha)
            new_lo = torch.minimum(f_lo, f_hi)
            new_hi = torch.where((la < 1) & (ha > 1), torch.ones_like(ha), torch.maximum(f_lo, f_hi))
            c = torch.where(on, 2 / (new_lo + new_hi), torch.ones_like(la))
            Xn = Xn * c.view(-1, 1, 1).to(A.dtype)
            lo[active] = torch.where(on, c * new_lo, new_lo)
            hi[active] = torch.where(on, c * new_hi, new_hi)
        Rn = torch.baddbmm(eye.expand_as(Xn), Aa, Xn, alpha=-1)
        rn = _residual_norm(Rn) / sqrt_n
        ra_old = r[active]
        it[active] += 1
        if everyone_active:
            X, R, r = Xn, Rn, rn.clone()
        else:
            X = X.clone() if X is best_X else X
            X[active], R[active], r[active] = Xn, Rn, rn
        better = rn < best_r[active]
        if bool(better.all()) and everyone_active:
            best_X, best_r = Xn, rn.clone()
        elif bool(better.any()):
            idx = active[better]
            best_X = best_X.clone()
            best_X[idx], best_r[idx] = Xn[better], rn[better]
        # Stop at attainable accuracy: quadratic regime but no halving, or an exact inverse.
        stalled = ((ra_old * sqrt_n < 0.5) & (rn > 0.5 * ra_old)) | (rn == 0)
        # No valid step leaves ||R||_F above sqrt(n): the step size was too large.
        diverged = ~torch.isfinite(rn) | (rn > 1.01)
        retry = diverged & ~restarted[active]
        if bool(retry.any()):
            idx = active[retry]
            alpha[idx] = 1.0 / torch.where(bound[idx] > 0, bound[idx], torch.ones_like(bound[idx]))
            X, R = X.clone(), R.clone()
            X[idx] = start(idx, alpha[idx])
            R[idx] = eye - A[idx] @ X[idx]
            r[idx] = _residual_norm(R[idx]) / sqrt_n
            restarted[idx] = True
            if accelerate:
                lo[idx], hi[idx] = torch.full_like(lo[idx], 1e-300), torch.ones_like(hi[idx])
        done[active[stalled | (diverged & ~retry)]] = True
        if rec is not None:
            worst = float(torch.where(done, best_r, r).max())
            rec.record(0.5 * (worst * sqrt_n) ** 2, worst)
    norm = est.sqrt()
    kappa = norm * (_tiny_norm2(best_X) if n <= _CLOSED_FORM else norm2(best_X)).to(torch.float64)
    # Singular to working precision: kappa(A) u >= 1, seen either as a condition number estimated
    # at 1/u or more, or as a residual that no number of steps brings below 1/2 (which any
    # sigma_min > u ||A|| would allow within `enough` steps).
    failed = ((best_r * sqrt_n >= 0.5) & (it >= enough)) | (kappa * tolerances.unit_roundoff(A.dtype) >= 1)
    return Inverse(best_X, best_r, it, norm, kappa, failed)


def _raise_singular(res: Inverse, dtype: torch.dtype) -> None:
    if not bool(res.failed.any()):
        return
    i = int(res.failed.nonzero()[0])
    u = tolerances.unit_roundoff(dtype)
    where = f" (batch member {i})" if res.X.shape[0] > 1 else ""
    kappa = float(res.kappa[i])
    residual = float(res.residual[i]) * math.sqrt(res.X.shape[-1])
    if kappa * u >= 1:
        evidence = f"its condition number is estimated at {kappa:.1e}, at least 1/u = {1 / u:.1e}"
    else:
        # A failed member did not bring ||R||_F below 1/2 in the steps that any sigma_min > u ||A||
        # needs (see `enough` in _inverse), so its condition number exceeds 1/u.
        evidence = (f"its condition number exceeds 1/u = {1 / u:.1e}, since Newton–Schulz did not bring "
                    f"||I - A X||_F below 1/2 in {int(res.iterations[i])} iterations (best {residual:.3e})")
    raise SingularMatrixError(f"matrix is singular to working precision{where}: {evidence}")


def inv(A: torch.Tensor, *, rec: Recorder, tol: float | None = None, max_iter: int | None = None,
        accelerate: bool | None = None) -> Outcome:
    """Kernel for ``inv(method="newton_schulz")`` on a flattened, normalised batch."""
    res = equilibrated_inverse(A, rec=rec, tol=tol, max_iter=max_iter, accelerate=accelerate)
    _raise_singular(res, A.dtype)
    n = A.shape[-1]
    if tol is None:
        # What the arithmetic allows, and never more than ||I - A X||_F = 1/2, the residual below
        # which X is an inverse at all (above it the matrix is singular to working precision).
        cap = 0.5 / math.sqrt(n)
        tols = tolerances.inverse(n, res.kappa, A.dtype).clamp(max=cap)
    else:
        tols = torch.full_like(res.residual, float(tol))
    return summarise(res.X, res.residual, tols, res.iterations)


def refine(A: torch.Tensor, apply, B: torch.Tensor, norm: torch.Tensor, *, steps: int = 10,
           rec: Recorder | None = None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Iterative refinement of ``A Y = B``: ``Y <- Y + apply(B - A Y)``, ``apply`` an approximate
    inverse of ``A`` (a matrix, or a function of the residual).

    Returns ``(Y, eta, steps)`` with ``eta`` the normwise backward error of each column (``(B, k)``);
    every column keeps its best iterate, and refinement stops once no column halves its error.
    Single-precision systems keep ``Y`` and the residual ``B - A Y`` in double precision (O(n^2 k)
    per step against the inverse's O(n^3)), so the answer is the solution rounded once, whatever
    luck the rounding of a single-precision residual would have.
    """
    if torch.is_tensor(apply):
        X = apply
        apply = lambda R: X @ R.to(X.dtype)  # noqa: E731
    wide = _WIDE.get(A.dtype)
    Aw, Bw = (A, B) if wide is None else (A.to(wide), B.to(wide))

    def error(Y):
        out = Y if wide is None else Y.to(A.dtype)
        return out, residuals.backward_error(Aw, out if wide is None else out.to(wide), Bw, norm)

    Y = apply(B).to(Aw.dtype)
    best_Y, best_eta = error(Y)
    taken = 0
    for _ in range(steps):
        Y = Y + apply(Bw - Aw @ Y).to(Aw.dtype)
        out, eta = error(Y)
        taken += 1
        if rec is not None:
            worst = float(eta.max()) if eta.numel() else 0.0
            rec.record(0.5 * worst ** 2, worst)
        better = eta < 0.5 * best_eta
        if not bool(better.any()):
            break
        best_Y = torch.where(better.unsqueeze(-2), out, best_Y)
        best_eta = torch.where(better, eta, best_eta)
    return best_Y, best_eta, taken


def solve(A: torch.Tensor, B: torch.Tensor, *, rec: Recorder, tol: float | None = None,
          max_iter: int | None = None, accelerate: bool | None = None) -> Outcome:
    """Kernel for ``solve(method="newton_schulz")``: an approximate inverse, then iterative
    refinement of each column to a backward stable solution. The residual is the normwise backward
    error ``||A x - b|| / (||A||_2 ||x|| + ||b||)`` (largest column).

    For ``n >= 256`` the approximate inverse is first ``(A^H A)^{-1} A^H`` in single precision,
    the Gram inverse by recursive Schur complements (about one single-precision product's work,
    never multiplied out into an inverse of ``A``): each refinement step then gains about
    ``-log10(cond(A)^2 u_32)`` digits, which works while ``cond(A)`` is below a few hundred; then
    the same in the working precision (``cond(A)`` up to about ``5e5``). When neither reaches
    the tolerance, the single-precision Newton–Schulz inverse (while ``cond u_32 << 1``), and last
    the full-precision one.
    """
    limit = tolerances.backward(A.shape[-1], A.dtype) if tol is None else float(tol)
    n = A.shape[-1]

    def worst_of(eta):
        return eta.amax(dim=-1) if eta.numel() else torch.zeros(A.shape[0], dtype=torch.float64)

    if n >= _LARGE:
        for dtype in _gram_types(A.dtype, single_first=True):
            low = A.to(dtype)
            # A Gram matrix that is not numerically positive definite gives a non-finite G; its
            # backward errors are then NaN and fail the test below, at no cost to the good case.
            G = gram_inverse(low)
            norm = norm2(A).to(torch.float64)
            Y, eta, steps = refine(A, lambda R: G @ (low.mH @ R.to(dtype)), B, norm, steps=30, rec=rec)
            worst = worst_of(eta)
            if bool((worst <= limit).all()):
                return summarise(Y, worst, torch.full_like(worst, limit), torch.full_like(worst, steps))
    if A.dtype in _NARROW and n >= _LARGE:
        # The single-precision inverse is all refinement needs while cond u_32 << 1: each step
        # then gains about -log10(cond u_32) digits, and the double-precision residual does the rest.
        low = _inverse(A.to(_NARROW[A.dtype]), rec=rec, max_iter=45, accelerate=accelerate)
        if not bool(low.failed.any()):
            Y, eta, _ = refine(A, low.X.to(A.dtype), B, low.norm, steps=30)
            worst = worst_of(eta)
            if bool((worst <= limit).all()):
                return summarise(Y, worst, torch.full_like(worst, limit), low.iterations)
    res = equilibrated_inverse(A, rec=rec, max_iter=max_iter, accelerate=accelerate, mixed=False)
    _raise_singular(res, A.dtype)
    Y, eta, _ = refine(A, res.X, B, res.norm)
    worst = worst_of(eta)
    return summarise(Y, worst, torch.full_like(worst, limit), res.iterations)


# ------------------------------------------------------------------------------------------------
# pseudo-inverse
# ------------------------------------------------------------------------------------------------


def _sharpen_pinv(P: torch.Tensor) -> torch.Tensor:
    return sharpen_projector(P, steps=60, rtol=1e-2, floor=1.0)



def _remainder(A: torch.Tensor, Pi: torch.Tensor, rank: torch.Tensor) -> torch.Tensor:
    """``||A - Q Q^H A||_F`` with ``Q`` an orthonormal basis of the kept left singular subspace:
    a bound on every singular value of ``A`` outside it.

    ``Pi`` comes from ``A X``, which carries errors of order ``cond u``; a basis drawn from it and
    refined by one power step, ``W = orth(A^H Q)``, ``Q = orth(A W)``, is accurate to what the gap
    allows, so that the remainder measures the singular values left out rather than those errors.
    (Each factor of ``A`` is applied and orthonormalised separately: ``A A^H Q`` in one product would
    square the spread of the columns and lose the small ones to rounding.)"""
    out = torch.empty(A.shape[0], dtype=torch.float64)
    for i in range(A.shape[0]):
        r = int(rank[i])
        if r <= 0:
            out[i] = fro(A[i])
            continue
        G = gaussian((A.shape[-2], r), A, seed=3 + i)
        Q = torch.linalg.qr(Pi[i] @ G).Q
        W = torch.linalg.qr(A[i].mH @ Q).Q
        Q = torch.linalg.qr(A[i] @ W).Q
        out[i] = fro(A[i] - Q @ (Q.mH @ A[i]))
    return out


def _finish(X: torch.Tensor, P: torch.Tensor, Pi: torch.Tensor | None = None) -> torch.Tensor:
    """``X (P + I - Pi)^{-1} Pi``: invert the kept part of ``P = A X`` exactly and drop the rest
    (``Pi``: the sharpened projector, if at hand).

    ``P + I - Pi`` has eigenvalues near 1 on both parts, so its inverse is a few quadratic
    Newton–Schulz steps from ``I``. Multiplying by ``Pi`` on the right also removes from ``X`` what
    the rounding errors left in the null space of ``A^H``."""
    m = P.shape[-1]
    eye = torch.eye(m, dtype=P.dtype, device=P.device)
    Pi = _sharpen_pinv(P) if Pi is None else Pi
    M = P + eye - Pi
    Y = eye.expand_as(M).clone()
    for _ in range(40):
        R = eye - M @ Y
        if bool((fro(R) <= tolerances.unit_roundoff(P.dtype)).all()):
            break
        Y = Y + Y @ R
    return X @ (Y @ Pi)


def pinv(A: torch.Tensor, *, rec: Recorder, rtol: torch.Tensor, atol: torch.Tensor,
         hermitian: bool = False, tol: float | None = None, max_iter: int | None = None) -> Outcome:
    """Kernel for ``pinv(method="newton_schulz")`` with torch's cut-off ``max(atol, rtol sigma_1)``
    (``rtol``, ``atol``: per member, ``(B,)`` float64, already in the normalised scale).

    See the module docstring. At every *clean* step (each eigenvalue of ``P = A X`` within 0.11 of 0
    or 1, i.e. ``tr(P) - ||P||_F^2 <= 0.1``) whose count ``round(tr P)`` has held for two steps, the
    member tries to stop: it sharpens ``P`` into the projector ``Pi`` and measures what is left of
    ``A`` outside the kept subspace, ``||(I - Pi) A||_F``, which bounds every singular value not yet
    inverted. At or below the cut-off they are all to be dropped, and the member finishes there,
    before the rounding errors in the null space (which double at every step) have grown. Otherwise
    it goes on, at most to the step ``K`` where the cut-off itself is resolved. ``tol`` does not
    apply and ``max_iter`` caps the steps.
    """
    Bn, m, n = A.shape
    est, bound = _sigma1_squared(A)
    sigma1 = norm2(A, steps=30).to(torch.float64)
    tau = torch.maximum(atol, rtol * sigma1)
    tiny = torch.finfo(torch.float64).tiny
    alpha_max = _step_size(est, bound).clamp_max(1.0 / sigma1.square().clamp_min(tiny))
    # A zero cut-off cannot be resolved; 2^-60 sigma_1 is beyond any singular value that is not noise.
    tau = torch.where(tau > 0, tau, torch.full_like(tau, 2.0**-60) * sigma1.clamp_min(tiny))
    # K steps with f_K(tau) = 1/2: 2^K alpha tau^2 ~ ln 2, alpha <= alpha_max.
    K = torch.ceil(torch.log2(math.log(2) / (alpha_max * tau.square()).clamp_min(tiny))).clamp(0, 400).to(torch.int64)
    if max_iter is not None:
        K = K.clamp_max(int(max_iter))
    alpha = -torch.expm1(-math.log(2) * torch.pow(2.0, -K.to(torch.float64))) / tau.square()
    X = A.mH * alpha.view(-1, 1, 1).to(A.dtype)
    if hermitian:
        X = hermitian_part(X)
    P = A @ X
    out = torch.zeros_like(X)
    it = torch.zeros(Bn, dtype=torch.int64)
    done = torch.zeros(Bn, dtype=torch.bool)
    certified = torch.zeros(Bn, dtype=torch.bool)
    count = torch.full((Bn,), -1, dtype=torch.int64)
    tried = torch.full((Bn,), -1, dtype=torch.int64)
    while True:
        active = (~done & (it < K)).nonzero().squeeze(-1)
        if active.numel() == 0:
            break
        Xa, Pa = X[active], P[active]
        Xn = 2 * Xa - Xa @ Pa
        if hermitian:
            Xn = hermitian_part(Xn)
        # P = A X is Hermitian in exact arithmetic; the iteration uses it as computed (its rounding
        # is what the next step corrects), the spectral tests and the projector its Hermitian part.
        Pn = A[active] @ Xn
        t = torch.diagonal(Pn, dim1=-2, dim2=-1).sum(-1).real.to(torch.float64)
        clean = (t - fro(Pn).square()) <= 0.1  # sum of f (1 - f) over the eigenvalues of P
        c = torch.round(t).to(torch.int64)
        attempt = clean & (c == count[active]) & (c != tried[active])
        X[active], P[active] = Xn, Pn
        it[active] += 1
        count[active] = torch.where(clean, c, torch.full_like(c, -1))
        if bool(attempt.any()):
            idx = active[attempt]
            Pi = _sharpen_pinv(hermitian_part(P[idx]))
            rest = _remainder(A[idx], Pi, count[idx])
            ok = rest <= tau[idx]
            tried[idx] = count[idx]
            if bool(ok.any()):
                fin = idx[ok]
                out[fin] = _finish(X[fin], P[fin], Pi[ok])
                done[fin] = True
                certified[fin] = True
        if rec is not None:
            p1 = float(residuals.penrose_members(A, X, AX=P).max())
            rec.record(0.5 * p1**2, p1)
    # Members that never found a certified gap end at step K, where f_K(tau) = 1/2: the cut-off is
    # exact there, but the null-space rounding has had every step to grow, so only the residual
    # can tell whether the answer is usable.
    rest = (~done).nonzero().squeeze(-1)
    if rest.numel():
        out[rest] = _finish(X[rest], hermitian_part(P[rest]))
    if hermitian:
        out = hermitian_part(out)
    return judge(A, out, it, None, tau=tau)
