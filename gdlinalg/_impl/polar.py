"""The polar decomposition and the matrix sign function by scaled Newton–Schulz: matrix products only.

Every matrix ``A`` (``m >= n``) factors as ``A = U H`` with ``U`` orthonormal and ``H`` Hermitian
positive semidefinite; for a Hermitian ``A`` the polar factor is the matrix sign function, which
maps every eigenvalue to its sign. Newton's method for ``U^H U = I`` written without an inverse is
the Newton–Schulz iteration (Higham 2008, ch. 8):

    X <- X (3 I - X^H X) / 2,

which acts on every singular value of ``X`` independently as ``x -> x (3 - x^2) / 2``: it converges
to 1 quadratically near 1, but a small singular value grows only by a factor 3/2 per step. The
scaled iteration of Chen & Chow (2014) first multiplies by ``alpha = sqrt(3 / (1 + l + l^2))``,
where ``[l, 1]`` holds every singular value; then the map sends both ends of the interval to the
same point, ``l <- alpha l (3 - alpha^2 l^2) / 2``, and small singular values grow by up to
``3 sqrt(3) / 2 = 2.6`` per step. From ``l = 1e-3`` it reaches 1 in 12 steps, each two matrix
products. ``l`` only needs to be a lower bound: a singular value below it is still
multiplied by about 2.6 per step while the scaling lasts. When it ends with singular values still
short of 1 (``n - tr(X^H X)`` counts them), unscaled steps follow; the SVD splits such singular
values off and decomposes them on their own scale (``spectral.py``), and divide and conquer
splits elsewhere: an eigenvalue that close to the split point is better avoided.

The start must have every singular value at most ``sqrt 3``; one unscaled step, which maps
``(0, sqrt 3)`` into ``(0, 1]``, comes first, because the scaled map sends ``x > 1`` towards 0.
"""

from __future__ import annotations

import math

import torch

from . import progress, tolerances
from .estimates import norm2, norm_1, norm_inf
from .outcome import hermitian_part


def start_scale(A: torch.Tensor) -> torch.Tensor:
    """Per matrix, a divisor ``c`` with ``||A||_2 / c < sqrt(3)``: ``min(sqrt(||A||_1 ||A||_inf),
    1.5 x a power-iteration estimate)``; the first is a guaranteed bound, the second keeps the
    smallest singular values from being needlessly small (it is safe while the estimate is within
    a factor 1.15 of ``||A||_2``, which ten power steps nearly always achieve; the split and the
    factorization are checked afterwards in any case). Shape ``(B,)``, float64."""
    bound = torch.sqrt(norm_1(A) * norm_inf(A)).to(torch.float64)
    c = torch.minimum(bound, 1.5 * norm2(A, steps=10).to(torch.float64))
    return torch.where(c > 0, c, torch.ones_like(c))


def newton_schulz(X: torch.Tensor, *, hermitian: bool, lower: float = 1e-3, max_iter: int = 100,
                  settle: int | None = None) -> tuple[torch.Tensor, int]:
    """Scaled Newton–Schulz on every matrix of ``X`` (``(B, m, n)``, ``m >= n``, singular values
    at most ``sqrt 3``).

    With ``hermitian=True`` ``X`` is Hermitian, ``X^H X = X^2``, and the result is the sign
    function. The batch shares one schedule of scalings; after it, each member steps on until
    its trace ``t = tr(X^H X)`` (the sum of the squared singular values, each at most 1 after the
    first step) is within ``1e-4`` of ``n`` (then two more quadratic steps take every singular
    value to rounding level) or has stopped changing, and then leaves the batch: in a batch of
    thousands of small matrices, the few with an eigenvalue near the split point would otherwise
    keep all the others stepping (a member that has converged is not disturbed by more steps, but
    pays for them). ``settle`` caps the unscaled steps after the scaled phase: singular values
    still short of 1 then grow only by 3/2 per step, together with their rounding errors, and a
    caller that has another way for them (``spectral.polar``) need not wait. Returns
    ``(U, steps)``, ``steps`` the largest number any member took.
    """
    n = X.shape[-1]
    u = tolerances.unit_roundoff(X.dtype)
    l, first, steps = float(lower), True, 0
    last_t = None
    plain = 0
    out = X.new_empty(X.shape)
    alive = torch.arange(X.shape[0], device=X.device)     # the batch members still stepping
    closing = torch.zeros(X.shape[0], dtype=torch.bool, device=X.device)
    while steps < max_iter and X.shape[0]:
        a = 1.0 if first else math.sqrt(3 / (1 + l + l * l))
        G = X @ X if hermitian else X.mH @ X
        t = torch.diagonal(G, dim1=-2, dim2=-1).real.sum(-1).to(torch.float64)
        # X (1.5 a I - 0.5 a^3 G) = 1.5 a X - 0.5 a^3 X G, in one product and one fused update.
        X = torch.add(X @ G, X, alpha=-3 / a**2).mul_(-0.5 * a**3)
        steps += 1
        # Progress: how far the iterate's singular values are from 1, 1 - tr(X^H X) / n (before the step).
        progress.step(float(((n - t).abs() / n).max()))
        l = 0.5 * l * (3 - l * l) if first else 0.5 * a * l * (3 - a * a * l * l)
        first = False
        if l <= 1 - 1e-4:
            last_t = t
            continue
        plain += 1
        # t belongs to the iterate before this step. A member that was within 1e-4 one step ago
        # has now had its two quadratic steps and leaves; one within 1e-4 now takes one more step.
        # A t that no longer moves means the rest are stuck at 0; and after `settle` unscaled
        # steps the rest are left to the caller.
        done = closing
        closing = ((n - t) <= 1e-4) & ~done
        stuck = ~done & ~closing
        if bool(stuck.any()):
            stalled = last_t is not None and bool(((t - last_t).abs()[stuck] <= 8 * u * n).all())
            if stalled or (settle is not None and plain > settle):
                done = done | stuck
        last_t = t
        if bool(done.any()):
            out[alive[done]] = X[done]
            if bool(done.all()):
                X = X[:0]
                break
            keep = ~done
            X, alive, closing = X[keep], alive[keep], closing[keep]
            last_t = None if last_t is None else last_t[keep]
    if X.shape[0]:
        out[alive] = X
    if hermitian:
        out = hermitian_part(out)
    return out, steps



def sharpen_projector(P: torch.Tensor, *, steps: int, rtol: float, floor: float) -> torch.Tensor:
    """The spectral projector of each Hermitian ``P`` (eigenvalues near 0 and 1) onto its
    eigenvalues above 1/2: ``P <- 3P^2 - 2P^3``, the Newton–Schulz sign step above written for
    ``S = 2P - I``, squares the distance of each eigenvalue to 0 or 1. Stops when, for every
    matrix, a step changes ``P`` by at most ``rtol u max(||P||_F, floor)``, or after ``steps``."""
    u = tolerances.unit_roundoff(P.dtype)
    for _ in range(steps):
        P2 = P @ P
        Pn = 3 * P2 - 2 * (P2 @ P)
        Pn = hermitian_part(Pn)
        change = torch.linalg.matrix_norm(Pn - P).to(torch.float64)
        size = torch.linalg.matrix_norm(Pn).to(torch.float64).clamp_min(floor)
        if bool((change <= rtol * u * size).all()):
            return Pn
        P = Pn
    return P

# ------------------------------------------------------------------------------------------------
# QDWH
# ------------------------------------------------------------------------------------------------


def _qdwh_weights(l: float) -> tuple[float, float, float]:
    """The dynamically weighted Halley coefficients ``(a, b, c)`` for the lower bound ``l``
    (Nakatsukasa, Bai & Gygi 2010, eq. 3.6): the rational map ``x (a + b x^2) / (1 + c x^2)`` sends
    ``[l, 1]`` into ``[l', 1]`` with ``l'`` as large as a rational function of that degree allows."""
    l2 = l * l
    gamma = (4 * (1 - l2) / (l2 * l2)) ** (1 / 3)
    a = math.sqrt(1 + gamma) + 0.5 * math.sqrt(8 - 4 * gamma + 8 * (2 - l2) / (l2 * math.sqrt(1 + gamma)))
    b = (a - 1) ** 2 / 4
    return a, b, a + b - 1


def qdwh(X: torch.Tensor, *, lower: float, max_iter: int = 20) -> tuple[torch.Tensor, int]:
    """QR-based dynamically weighted Halley iteration for the polar factor of every matrix of ``X``
    (``(B, m, n)``, ``m >= n``, ``||X||_2 <= 1``, smallest singular value at least ``lower``).

    Each step is one QR factorization of the stacked ``[sqrt(c) X; I]`` (``(m + n) x n``) and one
    product: with ``[Q1; Q2] R = [sqrt(c) X; I]``,
    ``X <- (b / c) X + (a - b / c) / sqrt(c) Q1 Q2^H``. The rational map converges cubically, and
    from any ``lower >= 1e-16`` it needs at most six steps (Nakatsukasa, Bai & Gygi 2010); the
    batch shares one schedule. Returns ``(U, steps)``."""
    Bn, m, n = X.shape
    eye = torch.eye(n, dtype=X.dtype, device=X.device).expand(Bn, n, n)
    u = tolerances.unit_roundoff(X.dtype)
    l, steps = float(lower), 0
    while steps < max_iter:
        a, b, c = _qdwh_weights(min(l, 1 - 1e-15))
        Q, _ = torch.linalg.qr(torch.cat([math.sqrt(c) * X, eye], dim=-2))
        Q1, Q2 = Q[..., :m, :], Q[..., m:, :]
        Xn = (b / c) * X + ((a - b / c) / math.sqrt(c)) * (Q1 @ Q2.mH)
        change = float((torch.linalg.matrix_norm(Xn - X) / math.sqrt(n)).max())
        X = Xn
        steps += 1
        progress.step(change)
        l = l * (a + b * l * l) / (1 + c * l * l)
        if 1 - l < 10 * u and change < 1e3 * u:
            break
    return X, steps
