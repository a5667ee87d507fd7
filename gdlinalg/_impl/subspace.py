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
approximations from the subspace: the small matrix ``Q^H A`` (or ``Q^H A Q``) is decomposed and the
basis is rotated onto the Ritz vectors. While the Ritz vectors are rough the small matrix is
decomposed by the package's own Jacobi method; once they are good it is nearly diagonal, and all
its pairs are rotated at once by first-order formulas, a few steps that converge quadratically
(``_rotate_to_diagonal``), which on the benchmark's top-10 ``truncated_eigh`` (``n = 1000``,
eigenvalues ``0.9^i``) skipped Jacobi on two of the four small matrices; the smallest Ritz
value kept, or the Ritz residuals' estimate of the spectrum outside the block if lower, then serves
as the new ``b``.

A value repeated (or nearly) more often than the block has room for puts the block's last Ritz
values, and with them ``b``, inside the k-th value's cluster: the filter then damps the wanted part
of the cluster as much as everything below it, and the iteration stalls. Three things keep it going:

* ``b`` comes from the residuals' estimate of the spectrum *below* the cluster (``_outside``), so
  the filter separates the cluster from the rest; for an exactly repeated value that is all it
  takes, since any basis of its eigenspace is a correct answer (the residual is what counts);
* a cluster that is merely close (spread above the tolerance) has to be resolved: when an
  iteration gains little and the last Ritz value sits in the k-th one's cluster, the block is
  widened (more random vectors, twice as many extra as before) until it reaches below the cluster;
* the degree is capped so that the filter never amplifies the top of the block by more than
  about ``1 / sqrt(u)`` relative to the k-th wanted vector (beyond that, the k-th vector is rounding
  noise); when that cap binds, the converged leading vectors are locked, and the rest of the block
  is filtered at full degree with them deflated.

The widened block is at most ``_MAX_WIDENING`` times the initial one: a near-repeated cluster wider
than that is reported by the ``ConvergenceWarning``, not chased at O(l^3) per step.

Every member of a batch iterates until its own residual reaches the tolerance or stops improving,
and keeps its best iterate.
"""

from __future__ import annotations

import math

import torch

from . import residuals, tolerances
from .checks import real_dtype
from .estimates import gaussian, hermitian_extreme
from .jacobi import jacobi_eigh, jacobi_svd
from .outcome import EighResult, Outcome, SVDResult, hermitian_part, summarise
from .result import Recorder


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
#: The block is widened when an iteration gains less than a factor 4 and the gap between the
#: k-th Ritz value and the last, relative to the damped interval, ``(w[k] - w[l]) / (w[l] - a)``,
#: is below this: the block's extra vectors then lie in the k-th value's cluster (repeated, or
#: nearly so), and no filter with the bound ``b = w[l]`` separates the wanted values from the rest.
_CLUSTER_GAP = 1e-3
#: Offset of the seeds of the vectors a widening adds.
_WIDEN_SEED = 100
#: A widened block holds at most this many times the initial ``k + oversample`` vectors: each
#: Rayleigh–Ritz step costs O(l^3), and a cluster wider than that is reported, not chased.
_MAX_WIDENING = 4


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


def _degree(degree: int, b: torch.Tensor, top: torch.Tensor, wk: torch.Tensor, u: float) -> int:
    """The filter degree for this iteration: ``degree``, lowered so that the filter amplifies the
    top of the block by at most ``1 / sqrt(u)`` more than the k-th wanted value, for every member
    (``b``, ``top``, ``wk``: the damped interval's upper end, the largest and the k-th Ritz value,
    shifted so that the interval's lower end is 0; shape ``(B, 1, 1)``).

    The filter maps ``lambda`` to ``T_d(x)``, ``x = (2 lambda - b) / b``. Each filtered column is
    dominated by the top eigenvector, and the rounding errors of the recurrence, relative to that
    component, come out in every direction: the k-th eigenvector's part of a column survives to
    relative accuracy ``u T_d(x_top) / T_d(x_k)``. Past ``1 / u`` the block forgets everything but its
    top vectors (and with ``b`` at a repeated value, everything below the top is rounding noise).
    """
    b, top, wk = (t.to(torch.float64).reshape(-1) for t in (b, top, wk))
    ok = (b > 0) & (top > b)
    if not bool(ok.any()):
        return degree
    b, top, wk = b[ok], top[ok], wk[ok]
    xt = (2 * top - b) / b
    xk = ((2 * wk - b) / b).clamp_min(1.0)
    spread = float((torch.acosh(xt) - torch.acosh(xk)).max())
    if not spread > 0 or not math.isfinite(spread):
        return degree
    return max(1, min(degree, int(0.5 * math.log(1 / u) / spread)))


def _locked(nr: torch.Tensor, k: int, limit: torch.Tensor) -> torch.Tensor:
    """How many leading Ritz vectors of each member have converged: their residuals ``nr``
    (``(B, l)``) are within ``limit`` (``(B, k)``, per vector); at most ``k``. Shape ``(B,)``."""
    ok = nr[:, :k].to(torch.float64) <= limit.to(torch.float64)
    return ok.to(torch.int64).cumprod(-1).sum(-1)


def _step(apply, Q: torch.Tensor, w: torch.Tensor, b: torch.Tensor, k: int, degree: int, u: float,
          locked: torch.Tensor) -> torch.Tensor:
    """The filtered, re-orthonormalised block: ``orth(p(M) Q)`` with ``p`` the Chebyshev filter of
    ``[0, b]``, where ``apply(Y)`` computes ``M Y`` and ``w`` (``(B, l, 1)``) are the block's Ritz
    values, descending, all shifted so that the damped interval starts at 0.

    The degree is capped (``_degree``) so that the top of the block does not drown the k-th wanted
    vector. When that cap binds and the leading ``locked`` Ritz vectors (``(B,)``) have converged,
    the rest of the block is filtered apart from them: with ``M`` deflated, ``P M P`` with
    ``P = I - L L^H`` (``L`` the locked vectors), whose top is the first unlocked Ritz value, and
    at the degree that allows. The locked vectors themselves still get the capped filter, so that
    they keep improving: every other Ritz vector is orthogonal to them, and a locked vector off by
    ``delta`` tilts them by about ``delta`` towards it, which ``A^H`` then amplifies.
    """
    top, wk, zero = w[:, :1, :], w[:, k - 1:k, :], torch.zeros_like(b)
    d = _degree(degree, b, top, wk, u)
    if d >= degree or not bool((locked > 0).any()):
        return _orth(_filter(apply, Q, d, zero, b, top))
    l = Q.shape[-1]
    keep = torch.arange(l, device=Q.device) < locked.view(-1, 1)
    c = int(locked.max())
    # Among the locked vectors only their own spread limits the degree.
    last = torch.gather(w, 1, (locked - 1).clamp_min(0).view(-1, 1, 1))
    head = _filter(apply, Q[..., :c], _degree(degree, b, top, last, u), zero, b, top)
    top_rest = torch.gather(w, 1, locked.clamp_max(l - 1).view(-1, 1, 1))
    L = Q * keep.unsqueeze(-2).to(Q.dtype)

    def project(Y: torch.Tensor) -> torch.Tensor:
        return Y - L @ (L.mH @ Y)

    Y = _filter(lambda Y: project(apply(project(Y))), Q, _degree(degree, b, top_rest, wk, u), zero, b, top_rest)
    Y[..., :c] = torch.where(keep[:, None, :c], head, Y[..., :c])
    return _orth(Y)


def _clustered(w: torch.Tensor, k: int) -> torch.Tensor:
    """Which members' blocks end inside the k-th value's cluster: ``w`` are the Ritz values,
    descending and shifted so that the damped interval starts at 0 (``(B, l)``)."""
    w = w.to(torch.float64)
    wl = w[:, -1]
    gap = (w[:, k - 1] - wl) / wl.clamp_min(torch.finfo(torch.float64).tiny)
    # w[l] <= 0 (rank below l): nothing to separate from; the filter falls back to a power step.
    return (wl > 0) & (gap < _CLUSTER_GAP)


def _wider(l: int, k: int, N: int) -> int:
    """The block size after widening: twice as many extra vectors, at most ``N`` (the caller's
    cap)."""
    return min(N, k + 2 * max(l - k, 1))


def _outside(apply, V: torch.Tensor, w: torch.Tensor, MV: torch.Tensor, k: int,
             floor: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """An estimate of the top of the unwanted spectrum *outside* the block: the largest Rayleigh
    quotient of the Ritz residuals ``M v_i - w_i v_i``, which lie outside ``span(V)``, among those
    below the k-th Ritz value's cluster (``(B, 1, 1)``, at least ``floor``, the lower end of the
    spectrum; ``inf`` where there is none); and the norms of those residuals (``(B, l)``).

    The Chebyshev filter damps ``[a, b]``. With ``b`` the block's smallest Ritz value, a cluster
    (a repeated value, or nearly) that fills the rest of the block puts ``b`` inside the cluster:
    the wanted part of the cluster is then damped as much as everything below it, and the error,
    made of eigenvectors below the cluster, is not reduced at all. The right ``b`` is the largest
    eigenvalue outside the block *below* the cluster, and the residuals point at it: a Ritz vector
    ``c + e`` (``c`` in the cluster, ``e`` its error) has the residual ``(M - w) e + O(|e|^2)``,
    made of the eigenvectors the filter must damp. Quotients within the cluster (other vectors of
    the repeated value, which any basis may hold) and residuals at rounding level (noise spread
    over the whole spectrum) are left out. An estimate that is too low only weakens the filter a
    little; one that is too high is prevented by the caller's ``min`` with the smallest Ritz
    value."""
    R = MV - V * w.unsqueeze(-2).to(V.dtype)
    nr = torch.linalg.vector_norm(R, dim=-2).square()
    MR = apply(R)
    rq = (R.conj() * MR).sum(-2).real / nr.clamp_min(torch.finfo(nr.dtype).tiny)
    # Rounding in M v - w v is about u sqrt(n) ||M||; keep the residuals well above it.
    noise = 10 * torch.finfo(nr.dtype).eps * math.sqrt(V.shape[-2]) * w.abs().amax(-1, keepdim=True)
    # Below the cluster of w_k: (w_k - rq) / (rq - floor) >= _CLUSTER_GAP.
    lo = floor.view(-1, 1)
    below = (rq - lo) * (1 + _CLUSTER_GAP) <= w[:, k - 1:k] - lo
    rq = torch.where((nr > noise.square()) & below, rq, torch.full_like(rq, -math.inf))
    best = rq.amax(-1).view(-1, 1, 1)
    best = torch.where(torch.isfinite(best), torch.maximum(best, floor), torch.full_like(best, math.inf))
    return best, nr.sqrt()


def _rounding_floor(M: torch.Tensor) -> torch.Tensor:
    """``l u ||M||_F`` per matrix of ``M`` (``(B, l, l)``), shape ``(B, 1, 1)``: about the rounding
    error of one product of the small matrices, below which an off-diagonal entry counts as zero."""
    return M.shape[-1] * tolerances.machine_epsilon(M.dtype) * torch.linalg.matrix_norm(M).view(-1, 1, 1)


def _rotate_to_diagonal(H: torch.Tensor, *, steps: int = 4) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Eigenpairs ``(w, Y)`` (``w`` in the order of the diagonal) of nearly diagonal Hermitian
    matrices ``H`` (``(B, l, l)``) by simultaneous first-order rotations, or ``None`` where that does
    not apply.

    With ``H = D + E`` (``D`` its diagonal), the eigenvector of ``d_j`` is ``e_j + sum_i F_ij e_i`` to
    first order, ``F_ij = E_ij / (d_j - d_i)`` (skew-Hermitian): every pair is rotated at once,
    ``Z = orth(I + F)`` (a QR factorisation used as an orthonormalisation), ``H <- Z^H H Z``. The
    off-diagonal entries fall from ``|E|`` to about ``|E|^2 / gap`` per step: quadratically, like
    a Jacobi sweep, but in about ten operations on the small matrices instead of a sweep's
    ``l - 1`` rounds of about thirty. It is used for the Rayleigh–Ritz matrices of subspace
    iteration after the first: their basis is the previous Ritz vectors, filtered, so their
    off-diagonal entries are of the size of the Ritz residuals.

    It gives up (``None``: the caller uses Jacobi) as soon as an entry above ``l u ||H||_F`` (about
    the rounding error of one product of the small matrices) is not small against its gap
    (``|E_ij| > |d_i - d_j| / 4``: a cluster, or a block far from diagonal), or after ``steps``
    steps. Once every entry is within ``l u ||H||_F``, one more step on those above ``u ||H||_F``
    (except pairs whose gap is too small: they are already within the bound) squares them down to
    the rounding of that step. The test is relative to the whole matrix, which is what the Ritz
    residuals, relative to ``||A||``, need.
    """
    l = H.shape[-1]
    if l < 2:
        return None
    rd = real_dtype(H.dtype)
    eye = torch.eye(l, dtype=H.dtype, device=H.device)
    floor = _rounding_floor(H)
    Y = eye.expand_as(H)
    polish = False
    for _ in range(steps + 2):
        d = torch.diagonal(H, dim1=-2, dim2=-1).real
        if polish:
            return d, Y
        off = H - torch.diag_embed(d).to(H.dtype)
        gap = (d.unsqueeze(-2) - d.unsqueeze(-1)).to(rd)  # d_j - d_i at (i, j)
        separated = 4 * off.abs() < gap.abs()
        big = off.abs() > floor
        if not bool(big.any()):
            polish = True
            big = (off.abs() > floor / l) & separated
            if not bool(big.any()):
                return d, Y
        elif bool((big & ~separated).any()):
            return None
        F = torch.where(big, off / torch.where(big, gap, torch.ones_like(gap)).to(H.dtype), torch.zeros_like(off))
        Z = torch.linalg.qr(eye + F).Q
        Y = Y @ Z
        H = hermitian_part(Z.mH @ H @ Z)
    return None


def _rotate_to_diagonal_svd(C: torch.Tensor, *, steps: int = 4):
    """The SVD ``(U, S descending, Vh)`` of nearly diagonal square matrices ``C`` (``(B, l, l)``) by
    simultaneous first-order rotations on both sides, or ``None`` where that does not apply: the
    singular-value counterpart of :func:`_rotate_to_diagonal`, with the same tests.

    The rows are first phased so that the diagonal ``d`` is real and non-negative (``U`` takes the
    phases). With ``C = D + E``, to first order ``U = I + F`` and ``V = I + G`` with
    ``F_ij = (d_j E_ij + d_i conj(E_ji)) / (d_j^2 - d_i^2)`` and
    ``G_ij = (d_i E_ij + d_j conj(E_ji)) / (d_j^2 - d_i^2)``; both are orthonormalised (QR) and
    ``C <- (I + F)^H C (I + G)``, orthonormalised. "Small against the gap" means ``|F_ij|`` and
    ``|G_ij|`` at most 1/4.
    """
    l = C.shape[-1]
    if l < 2:
        return None
    rd = real_dtype(C.dtype)
    eye = torch.eye(l, dtype=C.dtype, device=C.device)
    floor = _rounding_floor(C)
    U = V = eye.expand_as(C)
    polish = False
    for _ in range(steps + 2):
        d = torch.diagonal(C, dim1=-2, dim2=-1)
        phase = torch.where(d.abs() > 0, d / d.abs().clamp_min(torch.finfo(rd).tiny).to(C.dtype), torch.ones_like(d))
        C = C * phase.conj().unsqueeze(-1)
        U = U * phase.unsqueeze(-2)
        d = torch.diagonal(C, dim1=-2, dim2=-1).real

        def result():
            order = torch.argsort(d, dim=-1, descending=True)
            return (torch.take_along_dim(U, order.unsqueeze(-2), dim=-1), torch.take_along_dim(d, order, dim=-1),
                    torch.take_along_dim(V, order.unsqueeze(-2), dim=-1).mH)

        if polish:
            return result()
        off = C - torch.diag_embed(d).to(C.dtype)
        size = torch.maximum(off.abs(), off.mH.abs())
        di, dj = d.unsqueeze(-1).to(C.dtype), d.unsqueeze(-2).to(C.dtype)
        den = (d.unsqueeze(-2).square() - d.unsqueeze(-1).square()).to(C.dtype)
        Et = off.mH  # conj(E_ji) at (i, j)
        F, G = (dj * off + di * Et) / den, (di * off + dj * Et) / den
        separated = (F.abs() <= 0.25) & (G.abs() <= 0.25)   # False where den = 0 (nan, inf)
        big = size > floor
        if not bool(big.any()):
            polish = True
            big = (size > floor / l) & separated
            if not bool(big.any()):
                return result()
        elif bool((big & ~separated).any()):
            return None
        zero = torch.zeros_like(off)
        ZU = torch.linalg.qr(eye + torch.where(big, F, zero)).Q
        ZV = torch.linalg.qr(eye + torch.where(big, G, zero)).Q
        U, V = U @ ZU, V @ ZV
        C = ZU.mH @ C @ ZV
    return None


def _ritz_eigh(H: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenpairs ``(w, Y)``, descending, of the Rayleigh–Ritz matrices ``H``: by
    :func:`_rotate_to_diagonal` where they are nearly diagonal, else by Jacobi."""
    fast = _rotate_to_diagonal(H)
    if fast is None:
        w, Y, _, _ = jacobi_eigh(H)
    else:
        w, Y = fast
        order = torch.argsort(w, dim=-1)
        w = torch.take_along_dim(w, order, dim=-1)
        Y = torch.take_along_dim(Y, order.unsqueeze(-2), dim=-1)
    # Most extreme first: descending eigenvalues.
    return w.flip(-1), Y.flip(-1)


def _rotate_to_diagonal_svd(C: torch.Tensor, *, steps: int = 4):
    """The SVD ``(U, S descending, Vh)`` of nearly diagonal square matrices ``C`` (``(B, l, l)``) by
    simultaneous first-order rotations on both sides, or ``None`` where that does not apply: the
    singular-value counterpart of :func:`_rotate_to_diagonal`.

    The rows are first signed so that the diagonal ``d`` is non-negative. With ``C = D + E``, to
    first order ``U = I + F`` and ``V = I + G`` with ``F_ij = (d_j E_ij + d_i conj(E_ji)) / (d_j^2 - d_i^2)``
    and ``G_ij = (d_i E_ij + d_j conj(E_ji)) / (d_j^2 - d_i^2)``; both are orthonormalised (QR) and
    ``C <- U^H C V``. It gives up where an entry above rounding level is not small against its gap
    (``|F_ij|`` or ``|G_ij| > 1/4``) and after ``steps`` steps; converged, as there, after one more
    step once every off-diagonal entry is within ``l u ||C||_F``.
    """
    l = C.shape[-1]
    if l < 2:
        return None
    rd = C.real.dtype if C.is_complex() else C.dtype
    eye = torch.eye(l, dtype=C.dtype, device=C.device)
    floor = (l * tolerances.machine_epsilon(C.dtype)
             * torch.linalg.matrix_norm(C).view(-1, 1, 1))
    U = eye.expand_as(C).clone()
    V = eye.expand_as(C).clone()
    polish = done = False
    for _ in range(steps + 2):
        d = torch.diagonal(C, dim1=-2, dim2=-1)
        # Rows signed (phased) so that the diagonal is real and non-negative; U takes the signs.
        phase = torch.where(d.abs() > 0, d / d.abs().clamp_min(torch.finfo(rd).tiny).to(C.dtype),
                            torch.ones_like(d))
        C = C * phase.conj().unsqueeze(-1)
        U = U * phase.unsqueeze(-2)
        d = torch.diagonal(C, dim1=-2, dim2=-1).real
        off = C - torch.diag_embed(d).to(C.dtype)
        big = (off.abs() > floor) | (off.mH.abs() > floor)
        if polish or not bool(big.any()):
            if not polish:
                # Within rounding of the small products: one more step, on every entry above u.
                polish = True
                big = (off.abs() > floor / l) | (off.mH.abs() > floor / l)
            if polish and (not bool(big.any()) or done):
                order = torch.argsort(d, dim=-1, descending=True)
                return (torch.take_along_dim(U, order.unsqueeze(-2), dim=-1),
                        torch.take_along_dim(d, order, dim=-1),
                        torch.take_along_dim(V, order.unsqueeze(-2), dim=-1).mH)
            done = True
        di, dj = d.unsqueeze(-1).to(C.dtype), d.unsqueeze(-2).to(C.dtype)
        den = (d.unsqueeze(-2) ** 2 - d.unsqueeze(-1) ** 2)
        den = torch.where(big, den, torch.ones_like(den)).to(C.dtype)
        Et = off.mH  # conj(E_ji) at (i, j)
        F = torch.where(big, (dj * off + di * Et) / den, torch.zeros_like(off))
        G = torch.where(big, (di * off + dj * Et) / den, torch.zeros_like(off))
        if bool((F.abs() > 0.25).any() or (G.abs() > 0.25).any()) or not bool(torch.isfinite(F).all() and torch.isfinite(G).all()):
            return None
        ZU = torch.linalg.qr(eye + F).Q
        ZV = torch.linalg.qr(eye + G).Q
        U, V = U @ ZU, V @ ZV
        C = ZU.mH @ C @ ZV
    return None


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
        self.slow_members = torch.zeros(B, dtype=torch.bool)

    def update(self, idx: torch.Tensor, r: torch.Tensor, ritz: torch.Tensor, tol_ritz: torch.Tensor) -> torch.Tensor:
        """Record the residuals ``r`` and Ritz sums ``ritz`` of members ``idx``; returns which of
        them improved on their best residual (their iterate must be kept)."""
        self.it[idx] += 1
        # A filter that cuts the residual by less than 4x is too weak for this spectrum.
        slow = r > 0.25 * self.last_r[idx]
        self.slow = bool(slow.any())
        self.slow_members[idx] = slow
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
    lock = min(target, _defaults(A, None, None)[0])
    u = tolerances.machine_epsilon(A.dtype)
    l = min(k + oversample, m, n)
    N = min(m, n, _MAX_WIDENING * l)
    rd = A.real.dtype if A.is_complex() else A.dtype
    U = _orth(A @ gaussian((Bn, n, l), A, seed))
    S2 = torch.zeros(Bn, l, 1, dtype=torch.float64)
    Bout = torch.zeros(Bn, 1, 1, dtype=rd)
    best_U = A.new_zeros(Bn, m, k)
    best_S = torch.zeros(Bn, k, dtype=rd)
    best_Vh = A.new_zeros(Bn, k, n)
    locked = torch.zeros(Bn, dtype=torch.int64)
    prog = _Progress(Bn)
    fresh = True  # no Ritz values of this block yet: Rayleigh–Ritz without a filter
    widened = 0
    while True:
        active = (~prog.done).nonzero().squeeze(-1)
        if active.numel() == 0:
            break
        Aa = A if active.numel() == Bn else A[active]
        Q = U[active]
        if not fresh:
            s2 = S2[active].to(rd)
            b = torch.minimum(s2[:, -1:, :], Bout[active])
            Q = _step(lambda Y: Aa @ (Aa.mH @ Y), Q, s2, b, k, degree, u, locked[active])
        # Rayleigh–Ritz on span(Q): Q^H A = Ub diag(S) Vb^H, so A V ~ Q Ub diag(S). The l x n
        # matrix is first reduced by a QR factorisation of its transpose, (Q^H A)^H = Q2 R, and
        # Jacobi runs on the l x l R^H (Drmac & Veselic 2008): rotations of short columns, and
        # fewer sweeps, since R^H is already nearly column-orthogonal when its rows are graded.
        Q2, Rt = torch.linalg.qr((Q.mH @ Aa).mH)
        fast = None if fresh else _rotate_to_diagonal_svd(Rt.mH)
        Ub, S, Vr = jacobi_svd(Rt.mH)[:3] if fast is None else fast
        Vh = Vr @ Q2.mH
        Ua = Q @ Ub
        AV = Aa @ Vh[:, :k, :].mH
        r = residuals.truncated_svd_members(Aa, Ua[..., :k], S[..., :k], Vh[:, :k, :], AV=AV)
        ritz = S[..., :k].square().sum(-1).to(torch.float64)
        better = prog.update(active, r, ritz, u * ritz.abs() * k)
        if prog.slow and not fresh:
            degree = min(2 * degree, _MAX_DEGREE)
        if bool(better.any()):
            keep = active[better]
            best_U[keep], best_S[keep], best_Vh[keep] = Ua[better, :, :k], S[better, :k], Vh[better, :k, :]
        # Ritz pairs of A A^H: (u_i, s_i^2), with A A^H u_i = A (A^H u_i) = A v_i s_i.
        AAU = Aa @ (Vh.mH * S.unsqueeze(-2).to(Vh.dtype))
        out, nr = _outside(lambda Y: Aa @ (Aa.mH @ Y), Ua, S.square(), AAU, k, torch.zeros_like(Bout[active]))
        Bout[active] = out.to(Bout.dtype)
        # ||A A^H u_i - s_i^2 u_i|| is about s_i ||A v_i - s_i u_i||: lock the triplets whose
        # residual (relative to s_1) is within the target.
        locked[active] = _locked(nr, k, lock * S[:, :1] * S[:, :k])
        U[active] = Ua
        S2[active] = S.square().unsqueeze(-1).to(torch.float64)
        prog.done |= (prog.best_r <= target) | (prog.it >= max_iter) | (prog.since >= _PATIENCE)
        widen = (not fresh and l < N and prog.slow
                 and bool((_clustered(S2[active, :, 0], k) & prog.slow_members[active] & ~prog.done[active]).any()))
        fresh = False
        if widen:
            # The block ends inside the k-th value's cluster: add vectors until it reaches below.
            new = _wider(l, k, N)
            widened += 1
            U = _orth(torch.cat([U, A @ gaussian((Bn, n, new - l), A, seed + _WIDEN_SEED + widened)], dim=-1))
            S2 = torch.zeros(Bn, new, 1, dtype=torch.float64)
            l, fresh = new, True
            prog.since[active] = 0
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
    then damps ``[0, b - a]``, the part of the shifted spectrum below the block's smallest Ritz
    value ``w[l]`` (or below the k-th value's cluster, where that fills the rest of the block: see
    the module's docstring).
    """
    Bn, n = A.shape[0], A.shape[-1]
    target, accept, max_iter = _defaults(A, tol, max_iter)
    lock = min(target, _defaults(A, None, None)[0])
    u = tolerances.machine_epsilon(A.dtype)
    l = min(k + oversample, n)
    N = min(n, _MAX_WIDENING * l)
    sign = 1.0 if largest else -1.0
    M = A if largest else -A
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
    locked = torch.zeros(Bn, dtype=torch.int64)
    prog = _Progress(Bn)
    fresh = True  # no Ritz values of this block yet: Rayleigh–Ritz without a filter
    widened = 0
    while True:
        active = (~prog.done).nonzero().squeeze(-1)
        if active.numel() == 0:
            break
        # (Indexing copies: the whole matrix only when some member has finished.)
        Ma, aa = M if active.numel() == Bn else M[active], a[active]
        Q = V[active]
        if not fresh:
            wl = W[active] - aa
            b = torch.minimum(wl[:, -1:, :], Bout[active] - aa)
            Q = _step(lambda Y: Ma @ Y - aa.to(Y.dtype) * Y, Q, wl, b, k, degree, u, locked[active])
        MQ = Ma @ Q
        w, Y = _ritz_eigh(hermitian_part(Q.mH @ MQ))
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
        if prog.slow and not fresh:
            degree = min(2 * degree, _MAX_DEGREE)
        if bool(better.any()):
            keep = active[better]
            best_w[keep], best_V[keep] = sign * w[better, :k], Va[better, :, :k]
        Bout[active], nr = _outside(lambda Y: Ma @ Y, Va, w, MV, k, a[active])
        locked[active] = _locked(nr, k, (lock * norm_est[active]).view(-1, 1).expand(-1, k))
        V[active] = Va
        W[active] = w.unsqueeze(-1)
        prog.done |= (prog.best_r <= target) | (prog.it >= max_iter) | (prog.since >= _PATIENCE)
        widen = (not fresh and l < N and prog.slow
                 and bool((_clustered(w - a[active].view(-1, 1), k) & prog.slow_members[active]
                           & ~prog.done[active]).any()))
        fresh = False
        if widen:
            # The block ends inside the k-th value's cluster: add vectors until it reaches below.
            new = _wider(l, k, N)
            widened += 1
            G = gaussian((Bn, n, new - l), A, seed + _WIDEN_SEED + widened)
            V = _orth(torch.cat([V, M @ G - a.to(A.dtype) * G], dim=-1))
            W = torch.zeros(Bn, new, 1, dtype=rd)
            l, fresh = new, True
            prog.since[active] = 0
        if rec is not None:
            rec.record(-float((sign * best_w).sum(-1).max()), float(prog.best_r.max()))
    tols = torch.full((Bn,), float(accept), dtype=torch.float64)
    return summarise(EighResult((best_w, best_V)), prog.best_r, tols, prog.it)
