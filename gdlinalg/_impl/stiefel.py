"""Riemannian gradient ascent of the Brockett cost on Stiefel manifolds: exactly orthogonal iterates.

The blog's SVD loss only *penalises* non-orthogonality, so its factors are never orthonormal. Here
the factors live on the Stiefel manifold ``St(m, k) = {U : U^H U = I_k}`` and every iterate is
orthonormal to machine precision. The SVD maximises the Brockett cost

    f(U, V) = Re tr(U^H A V N),    N = diag(k, k-1, ..., 1),

over ``U in St(m, k)``, ``V in St(n, k)``. Its maximisers are the leading singular vectors,
ordered by the distinct weights in ``N`` (unweighted, any rotation of the singular subspaces would
do), and ``f = sum_i (k + 1 - i) s_i`` there. The symmetric eigenproblem maximises
``Re tr(V^H A V N)`` over ``V in St(n, k)`` (``k = n``: the orthogonal or unitary group), whose
maximisers are the eigenvectors of the ``k`` largest eigenvalues in descending order; the
smallest ones are those of ``-A``.

One iteration:

1. Euclidean gradient ``G`` (``A V N`` and ``A^H U N``; ``A V N`` for eigh).
2. Riemannian gradient: ``G`` projected on the tangent space, ``xi = G - X sym(X^H G)``.
3. Step ``X <- qf(X + alpha xi)``, the QR retraction; the signs (phases) of ``R``'s diagonal are
   moved into ``Q`` so that the retraction is continuous (``qf(X) = X`` on the manifold).
4. Step size by Barzilai–Borwein, alternating its two formulas, ``<s, s>/|<s, y>|`` and
   ``|<s, y>|/<y, y>``, clamped to ``[1e-6, 1e6]`` times the first step, and kept from the
   previous iteration when the formulas degenerate (``s`` or ``y`` at rounding level). The first
   step is ``1 / (k ||A||_F)``, a safe fraction of ``1 / L``.

At the end the singular values (eigenvalues) are the diagonal of ``U^H A V`` (``V^H A V``),
sorted; for the SVD, the phase of each diagonal entry is moved into ``u_i`` so that ``S >= 0``.

Convergence: locally linear, with a rate set by the *relative gaps* between consecutive singular
values (eigenvalues) and between the weights of ``N``: the slowest direction contracts like
``1 - c min_i (s_i - s_{i+1}) / s_1``. Small well-separated matrices reach 1e-12 in a few hundred
iterations; close singular values (the blog's M3) need proportionally more; a full SVD of a
100 x 100 matrix does not reach 1e-6 within 30 s (measured), so this is a teaching method, not a
competitor of Jacobi or subspace iteration. Repeated singular values are fine for the residual
(any basis of their subspace maximises ``f`` equally up to the weights), but slow the vectors.

Stopping: with ``tol`` the iteration stops as soon as the true residual (``residuals.py``) is below
it. Without ``tol`` it stops when the residual reaches ``100 eps`` or has not improved by 1 % in
300 iterations, and ``converged`` means ``residual <= sqrt(eps)``. Default ``max_iter`` is 5,000.
"""

from __future__ import annotations

import math

import torch

from . import residuals, tolerances
from .checks import real_dtype
from .outcome import EighResult, Outcome, SVDResult, hermitian_part
from .result import Recorder


_MAX_ITER = 5_000
_PATIENCE = 300


def _retract(Y: torch.Tensor) -> torch.Tensor:
    """QR retraction with the phases of ``diag(R)`` moved into ``Q`` (so ``R`` has a positive diagonal)."""
    Q, R = torch.linalg.qr(Y)
    d = R.diagonal(dim1=-2, dim2=-1)
    mag = d.abs()
    phase = torch.where(mag > 0, d / torch.where(mag > 0, mag, torch.ones_like(mag)), torch.ones_like(d))
    return Q * phase.unsqueeze(-2)


def _tangent(X: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    """Project ``G`` onto the tangent space of the Stiefel manifold at ``X``."""
    XG = X.mH @ G
    return G - X @ hermitian_part(XG)


def _inner(P: torch.Tensor, Q: torch.Tensor) -> torch.Tensor:
    # Real part of the Frobenius inner product, per batch element, shape (B, 1, 1).
    return (P.conj() * Q).real.sum(dim=(-2, -1), keepdim=True)


def _start(rows: int, k: int, batch: int, gen: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    # Uniform rather than Gaussian entries: a Gaussian start from the same seed would be exactly the
    # singular vectors of gdlinalg.matrices' test matrices, which are built from Gaussian QR factors.
    draw = torch.complex128 if like.is_complex() else torch.float64
    G = 2 * torch.rand(batch, rows, k, generator=gen, dtype=draw) - 1
    return _retract(G.to(dtype=like.dtype, device=like.device))


def _ascend(
    A: torch.Tensor,
    k: int,
    *,
    symmetric: bool,
    residual_fn,
    rec: Recorder,
    tol: float | None,
    max_iter: int | None,
    seed: int,
) -> tuple[list[torch.Tensor], float, int, float]:
    """Brockett ascent on a flattened batch ``A`` of shape ``(B, m, n)``.

    Returns the final factors (``[U, V]``, or ``[V]`` when ``symmetric``), the last residual, the
    iteration count and the tolerance ``converged`` is to be judged against.
    """
    Bsz, m, n = A.shape
    max_iter = _MAX_ITER if max_iter is None else int(max_iter)
    rdt = real_dtype(A.dtype)
    weights = torch.arange(k, 0, -1, dtype=rdt, device=A.device).to(A.dtype)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    AH = A.mH
    if symmetric:
        X = [_start(n, k, Bsz, gen, A)]
    else:
        X = [_start(m, k, Bsz, gen, A), _start(n, k, Bsz, gen, A)]

    def gradients(X: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        if symmetric:
            (V,) = X
            AVN = (A @ V) * weights
            return _inner(V, AVN), [_tangent(V, AVN)]
        U, V = X
        AV = A @ V
        cost = _inner(U, AV * weights)
        return cost, [_tangent(U, AV * weights), _tangent(V, (AH @ U) * weights)]

    norm_A = torch.linalg.matrix_norm(A, ord="fro").reshape(Bsz, 1, 1)
    norm_A = torch.where(norm_A > 0, norm_A, torch.ones_like(norm_A))
    alpha0 = 1.0 / (k * norm_A)
    alpha = alpha0.clone()
    floor = 100 * tolerances.machine_epsilon(A.dtype)
    cost, xi = gradients(X)
    res = residual_fn(X)
    best, since_best = res, 0
    iterations = 0
    while iterations < max_iter:
        if tol is not None and res <= tol:
            break
        if tol is None and (res <= floor or since_best >= _PATIENCE):
            break
        X_new = [_retract(x + alpha * g) for x, g in zip(X, xi)]
        cost, xi_new = gradients(X_new)
        # Barzilai–Borwein on the ambient differences; the gradient of -f is -xi.
        s = [a - b for a, b in zip(X_new, X)]
        y = [b - a for a, b in zip(xi_new, xi)]
        ss = sum(_inner(p, p) for p in s)
        sy = sum(_inner(p, q) for p, q in zip(s, y)).abs()
        yy = sum(_inner(q, q) for q in y)
        bb = ss / sy if iterations % 2 == 0 else sy / yy
        ok = torch.isfinite(bb) & (sy > 0) & (yy > 0)
        alpha = torch.where(ok, bb, alpha).clamp(1e-6 * alpha0, 1e6 * alpha0)
        X, xi = X_new, xi_new
        iterations += 1
        res = residual_fn(X)
        rec.record(float(cost.sum()), res)
        if not math.isfinite(res):
            break
        if res < 0.99 * best:
            best, since_best = res, 0
        else:
            since_best += 1
    target = math.sqrt(tolerances.machine_epsilon(A.dtype)) if tol is None else float(tol)
    return X, res, iterations, target


def _diag(C: torch.Tensor) -> torch.Tensor:
    return C.diagonal(dim1=-2, dim2=-1)


def _svd_factors(A: torch.Tensor, U: torch.Tensor, V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Singular values from ``diag(U^H A V)``, phases moved into ``U``, sorted descending."""
    c = _diag(U.mH @ A @ V)
    mag = c.abs()
    phase = torch.where(mag > 0, c / torch.where(mag > 0, mag, torch.ones_like(mag)), torch.ones_like(c))
    U = U * phase.unsqueeze(-2)
    S, order = torch.sort(mag, dim=-1, descending=True)
    idx = order.unsqueeze(-2)
    U = torch.take_along_dim(U, idx, dim=-1)
    V = torch.take_along_dim(V, idx, dim=-1)
    return U, S, V.mH


def _flat(A: torch.Tensor) -> torch.Tensor:
    return A.reshape(-1, *A.shape[-2:])


def _current_svd(A: torch.Tensor, X: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    U, V = X
    # The signed diagonal gives the same reconstruction as the sign-fixed one, without sorting.
    return U, _diag(U.mH @ A @ V).real, V.mH


def svd(A: torch.Tensor, *, rec: Recorder, tol: float | None = None, max_iter: int | None = None,
        seed: int = 0) -> Outcome:
    """Reduced SVD by Brockett ascent on ``St(m, k) x St(n, k)``, ``k = min(m, n)``."""
    return _svd_impl(A, min(A.shape[-2:]), full=True, rec=rec, tol=tol, max_iter=max_iter, seed=seed)


def truncated_svd(A: torch.Tensor, k: int, *, rec: Recorder, tol: float | None = None,
                  max_iter: int | None = None, seed: int = 0) -> Outcome:
    """The ``k`` leading singular triplets by Brockett ascent on ``St(m, k) x St(n, k)``."""
    return _svd_impl(A, k, full=False, rec=rec, tol=tol, max_iter=max_iter, seed=seed)


def _svd_impl(A: torch.Tensor, k: int, *, full: bool, rec: Recorder, tol: float | None,
              max_iter: int | None, seed: int) -> Outcome:
    batch = tuple(A.shape[:-2])
    m, n = A.shape[-2:]
    Af = _flat(A)
    measure = residuals.svd if full else residuals.truncated_svd

    def residual_fn(X: list[torch.Tensor]) -> float:
        return measure(Af, *_current_svd(Af, X))

    X, res, its, target = _ascend(Af, k, symmetric=False, residual_fn=residual_fn, rec=rec, tol=tol,
                                  max_iter=max_iter, seed=seed)
    U, S, Vh = _svd_factors(Af, *X)
    res = measure(Af, U, S, Vh)
    sol = SVDResult((U.reshape(*batch, m, k), S.reshape(*batch, k), Vh.reshape(*batch, k, n)))
    return Outcome(sol, res <= target, res, its, target)


def eigh(A: torch.Tensor, *, rec: Recorder, tol: float | None = None, max_iter: int | None = None,
         seed: int = 0) -> Outcome:
    """Eigendecomposition of a Hermitian matrix by Brockett ascent on the orthogonal (unitary) group."""
    batch = tuple(A.shape[:-2])
    n = A.shape[-1]
    Af = _flat(A)

    def residual_fn(X: list[torch.Tensor]) -> float:
        (V,) = X
        return residuals.eigh(Af, _diag(V.mH @ Af @ V).real, V)

    X, res, its, target = _ascend(Af, n, symmetric=True, residual_fn=residual_fn, rec=rec, tol=tol,
                                  max_iter=max_iter, seed=seed)
    (V,) = X
    w, order = torch.sort(_diag(V.mH @ Af @ V).real, dim=-1)
    V = torch.take_along_dim(V, order.unsqueeze(-2), dim=-1)
    res = residuals.eigh(Af, w, V)
    sol = EighResult((w.reshape(*batch, n), V.reshape(*batch, n, n)))
    return Outcome(sol, res <= target, res, its, target)


def truncated_eigh(A: torch.Tensor, k: int, *, largest: bool = True, rec: Recorder, tol: float | None = None,
                   max_iter: int | None = None, seed: int = 0) -> Outcome:
    """The ``k`` extreme eigenpairs by Brockett ascent on ``St(n, k)`` (on ``-A`` for the smallest)."""
    batch = tuple(A.shape[:-2])
    n = A.shape[-1]
    Af = _flat(A)
    sign = 1.0 if largest else -1.0
    B = Af if largest else -Af
    # ||A||_2 is at least the largest computed |w| and at least ||A||_F / sqrt(n): a cheap lower
    # bound, so the reported residual errs on the large side.
    fro = torch.linalg.matrix_norm(Af, ord="fro") / math.sqrt(n)

    def measure(w: torch.Tensor, V: torch.Tensor) -> float:
        scale = torch.maximum(w.abs().amax(dim=-1), fro)
        return residuals.truncated_eigh(Af, w, V, scale)

    def residual_fn(X: list[torch.Tensor]) -> float:
        (V,) = X
        return measure(_diag(V.mH @ Af @ V).real, V)

    X, res, its, target = _ascend(B, k, symmetric=True, residual_fn=residual_fn, rec=rec, tol=tol,
                                  max_iter=max_iter, seed=seed)
    (V,) = X
    w = _diag(V.mH @ Af @ V).real
    # Most extreme first: descending for the largest, ascending for the smallest.
    _, order = torch.sort(sign * w, dim=-1, descending=True)
    w = torch.take_along_dim(w, order, dim=-1)
    V = torch.take_along_dim(V, order.unsqueeze(-2), dim=-1)
    res = measure(w, V)
    sol = EighResult((w.reshape(*batch, k), V.reshape(*batch, n, k)))
    return Outcome(sol, res <= target, res, its, target)
