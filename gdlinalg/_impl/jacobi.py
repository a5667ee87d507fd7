"""One-sided (Hestenes) Jacobi: the SVD as exact coordinate descent.

Rotating two columns ``a_p, a_q`` of ``W = A V`` by the plane rotation that makes them orthogonal is
the exact minimiser of the off-diagonal mass ``off(W^H W)`` over that coordinate pair (a
block-coordinate descent step with an exact line search). A *sweep* visits every pair once; the
off-diagonal mass then falls quadratically once it is small (Hestenes 1958; Golub & Van Loan §8.6).

The pairs of one round are disjoint, so all ``n/2`` rotations of a round are applied at once as
vectorised tensor operations; a round-robin ("circle") schedule covers every pair in ``n - 1``
rounds. Columns are kept in a pair layout ``[top | bottom]`` and moved between rounds by one fixed
permutation, so a round costs one gather instead of four gathers and scatters.

When the columns of ``W`` are mutually orthogonal to ``tol``, ``S`` are the column norms,
``U = W / S`` and ``V`` the accumulated rotations.
"""

from __future__ import annotations

import math

import torch

from . import residuals
from .checks import eps, real_dtype
from .completion import complete_orthonormal
from .outcome import Outcome
from .result import Recorder

EighResult = torch.return_types.linalg_eigh
SVDResult = torch.return_types.linalg_svd


def _round_robin_permutation(n: int, device: torch.device) -> torch.Tensor:
    """Permutation of the pair layout ``[top | bottom]`` that moves to the next round.

    Circle method: element 0 stays put, everything else moves one seat clockwise
    (top[1] <- top[2] <- ... <- top[h-1] <- bottom[h-1] <- ... <- bottom[0] <- top[1]).
    """
    h = n // 2
    seats = list(range(h)) + list(range(n - 1, h - 1, -1))  # the circle, as layout indices
    new_from_old = list(range(n))
    ring = seats[1:]
    # the element at ring[i] moves to ring[i - 1]
    for i, seat in enumerate(ring):
        new_from_old[ring[i - 1]] = seat
    return torch.tensor(new_from_old, device=device)


def _sweeps(W: torch.Tensor, V: torch.Tensor, tol: float, max_sweeps: int, rec: Recorder | None,
            residual_fn=None):
    """Run Jacobi sweeps on ``W`` (``(*, m, n)``, n even) accumulating rotations into ``V``.

    ``W`` and ``V`` undergo the same column rotations, so they are stored together, transposed, as
    the rows of one matrix ``X = [W; V]^T``: a column of ``W`` and its column of ``V`` form one
    contiguous row, a round updates both with one set of operations, and the round-robin
    permutation moves whole rows.
    """
    m, n = W.shape[-2:]
    h = n // 2
    perm = _round_robin_permutation(n, W.device)
    rdtype = real_dtype(W.dtype)
    tiny = torch.finfo(rdtype).tiny
    X = torch.cat([W, V], dim=-2).mT.contiguous()  # (*, n, m + n)
    sweeps = 0
    converged = False
    for sweeps in range(1, max_sweeps + 1):
        worst = torch.zeros((), dtype=rdtype, device=W.device)
        for _ in range(n - 1):
            P, Q = X[..., :h, :], X[..., h:, :]
            Pw, Qw = P[..., :m], Q[..., :m]
            a = torch.linalg.vector_norm(Pw, dim=-1).square()
            b = torch.linalg.vector_norm(Qw, dim=-1).square()
            g = (Pw.conj() * Qw).sum(-1)
            ag = g.abs()
            cos = ag / torch.sqrt(a * b).clamp_min(tiny)
            worst = torch.maximum(worst, cos.max())
            # Rotation that zeroes the (p, q) entry of the 2x2 Gram matrix [[a, g], [g*, b]]:
            # zeta = (b - a) / (2|g|), t = sign(zeta) / (|zeta| + sqrt(1 + zeta^2)); pairs that are
            # already orthogonal to tol are left alone.
            zeta = (b - a) / (2 * ag.clamp_min(tiny))
            t = torch.where(zeta >= 0, 1.0, -1.0) / (zeta.abs() + torch.sqrt(1 + zeta * zeta))
            t = torch.where(cos > tol, t, torch.zeros_like(t))
            c = torch.rsqrt(1 + t * t)
            s = c * t
            # e = e^{-i phi} with g = |g| e^{i phi} (sign(g) for real input): the rotation
            # [[c, s], [-s e, c e]] diagonalises the 2x2 Gram matrix.
            e = torch.where(ag > 0, g.conj() / ag.clamp_min(tiny).to(g.dtype), torch.ones_like(g))
            c_ = c.unsqueeze(-1).to(X.dtype)
            s_ = s.unsqueeze(-1).to(X.dtype)
            e_ = e.unsqueeze(-1)
            X = torch.cat([c_ * P - (s_ * e_) * Q, s_ * P + (c_ * e_) * Q], dim=-2).index_select(-2, perm)
        worst_f = float(worst)
        if rec is not None:
            rec.record(worst_f, residual_fn(X[..., :m].mT, X[..., m:].mT))
        if worst_f <= tol:
            converged = True
            break
    return X[..., :m].mT, X[..., m:].mT, sweeps, converged


def _reconstruction(A: torch.Tensor):
    """Residual callback: ``||W V^H - A||_F / ||A||_F``, exactly the SVD residual (``U diag(S) = W``)."""
    a = torch.linalg.matrix_norm(A)
    a = torch.where(a > 0, a, torch.ones_like(a))

    def fn(W: torch.Tensor, V: torch.Tensor) -> float:
        return float((torch.linalg.matrix_norm(W @ V.mH - A) / a).max())

    return fn


def default_tol(dtype: torch.dtype, m: int) -> float:
    # The cosine between two computed columns cannot be made smaller than about sqrt(m) * eps.
    return max(math.sqrt(m), 1.0) * eps(dtype)


def jacobi_svd(A: torch.Tensor, tol: float | None = None, max_sweeps: int | None = None,
               rec: Recorder | None = None, residual_fn=None):
    """Reduced SVD of ``A`` (``(*, m, n)``) by one-sided Jacobi.

    Returns ``(U, S, Vh, sweeps, converged)``; ``S`` is real, non-negative and descending.
    """
    m, n = A.shape[-2:]
    if m < n:
        U, S, Vh, sweeps, conv = jacobi_svd(A.mH, tol, max_sweeps, rec, residual_fn)
        return Vh.mH, S, U.mH, sweeps, conv
    tol = default_tol(A.dtype, m) if tol is None else tol
    max_sweeps = 60 if max_sweeps is None else max_sweeps
    batch = A.shape[:-2]
    W = A.clone()
    npad = n + (n % 2)
    if npad != n:
        # A zero column is never rotated (its cosine with anything is 0); it is dropped below.
        W = torch.cat([W, W.new_zeros(*batch, m, 1)], dim=-1)
    # De Rijk: start with the columns in descending norm order, which saves sweeps.
    norms = torch.linalg.vector_norm(W, dim=-2)
    order = torch.argsort(norms, dim=-1, descending=True)
    W = torch.take_along_dim(W, order.unsqueeze(-2), dim=-1)
    V = torch.eye(npad, dtype=A.dtype, device=A.device).expand(*batch, npad, npad)
    V = torch.take_along_dim(V, order.unsqueeze(-2), dim=-1)
    A_pad = A if npad == n else torch.cat([A, A.new_zeros(*batch, m, 1)], dim=-1)
    if rec is not None and residual_fn is None:
        residual_fn = _reconstruction(A_pad)
    W, V, sweeps, converged = _sweeps(W, V, tol, max_sweeps, rec, residual_fn)
    if converged and _orthogonality(V) > 8 * tol:
        # Thousands of rotations make V drift off orthogonality (by ~2e-5 at n = 100 in float32).
        # Re-orthonormalise it, recompute W = A V and let a sweep or two restore the column
        # orthogonality of W: only those last sweeps' rounding stays in V.
        V = _reorthonormalise(V)
        W, V, extra, converged = _sweeps(A_pad @ V, V, tol, max_sweeps, rec, residual_fn)
        sweeps += extra
    S = torch.linalg.vector_norm(W, dim=-2)
    key = S.clone()
    if npad != n:
        # The padding column is never rotated, so it is the one column with V[n, j] != 0.
        pad = V[..., n, :].abs().argmax(dim=-1, keepdim=True)
        key.scatter_(-1, pad, -1.0)
    idx = torch.argsort(key, dim=-1, descending=True)
    S = torch.take_along_dim(S, idx, dim=-1)[..., :n]
    W = torch.take_along_dim(W, idx.unsqueeze(-2), dim=-1)[..., :n]
    V = torch.take_along_dim(V, idx.unsqueeze(-2), dim=-1)[..., :n, :n]
    U = _normalise_columns(W, S)
    return U, S, V.mH, sweeps, converged


def _orthogonality(V: torch.Tensor) -> float:
    E = V.mH @ V
    E.diagonal(dim1=-2, dim2=-1).sub_(1)
    return float(E.abs().max())


def _reorthonormalise(V: torch.Tensor) -> torch.Tensor:
    """The orthonormal factor of ``V`` closest in column order: QR with the phases of ``R``'s
    diagonal moved back into ``Q``, so a nearly orthonormal ``V`` changes only by its drift."""
    Q, R = torch.linalg.qr(V)
    d = R.diagonal(dim1=-2, dim2=-1)
    phase = torch.where(d.abs() > 0, d / d.abs().clamp_min(torch.finfo(d.abs().dtype).tiny), torch.ones_like(d))
    return Q * phase.unsqueeze(-2)


def _normalise_columns(W: torch.Tensor, S: torch.Tensor) -> torch.Tensor:
    """``U = W / S``, with the columns of (numerically) zero singular values replaced by an
    orthonormal completion: normalising a column of rounding noise would not give a unit vector
    orthogonal to the others."""
    n = W.shape[-1]
    cutoff = S[..., :1] * (max(W.shape[-2:]) * eps(W.dtype))
    good = S > cutoff
    U = W / torch.where(good, S, torch.ones_like(S)).unsqueeze(-2).to(W.dtype)
    if bool(good.all()):
        return U
    # Per matrix: keep the good columns (they come first, S is sorted) and complete the rest.
    Uf = U.reshape(-1, *U.shape[-2:]).clone()
    gf = good.reshape(-1, n)
    for i in range(Uf.shape[0]):
        r = int(gf[i].sum())
        full = complete_orthonormal(Uf[i, :, :r], seed=i)
        Uf[i, :, r:] = full[:, r:n]
    return Uf.reshape(U.shape)


#: Single precision is rotated in double precision (see ``svd``).
_WIDER = {torch.float32: torch.float64, torch.complex64: torch.complex128}


def svd(A: torch.Tensor, *, rec: Recorder, tol: float | None = None, max_iter: int | None = None) -> Outcome:
    """Kernel for ``svd(method="jacobi")``.

    float32/complex64 input is rotated in float64/complex128 and the factors are rounded once at
    the end: each column goes through thousands of rotations, and done in single precision their
    rounding errors add up to several times LAPACK's error (measured at 150 x 100: reconstruction
    1.6e-5 against LAPACK's 9.9e-7) where LAPACK's bidiagonalisation touches each entry far less.
    """
    work = A.to(_WIDER.get(A.dtype, A.dtype))
    U, S, Vh, sweeps, converged = jacobi_svd(work, tol, max_iter, rec)
    U, S, Vh = U.to(A.dtype), S.to(real_dtype(A.dtype)), Vh.to(A.dtype)
    tol_used = default_tol(work.dtype, max(A.shape[-2:])) if tol is None else tol
    res = residuals.svd(A, U, S, Vh)
    return Outcome(SVDResult((U, S, Vh)), converged, res, sweeps, tol_used)


def jacobi_eigh(A: torch.Tensor, tol: float | None = None, max_sweeps: int | None = None,
                rec: Recorder | None = None):
    """Eigendecomposition of a Hermitian ``A`` by one-sided Jacobi on ``A + c I``.

    With ``c >= ||A||_2`` the shifted matrix is positive semidefinite, so its singular values are
    its eigenvalues and its right singular vectors are eigenvectors of ``A``. The eigenvalues are
    then the Rayleigh quotients ``v^H A v`` of the unshifted ``A``, which avoids the cancellation
    in ``(lambda + c) - c``. Returns ``(w ascending, V, sweeps, converged)``.
    """
    # The error of the eigenvectors grows with the shift, so it should be close to ||A||_2:
    # 1.25 times a power-iteration estimate, capped by the Frobenius norm (a guaranteed bound).
    # If the estimate was too low, some lambda + c < 0 shows up in the Rayleigh quotients below
    # and the solve is repeated with the guaranteed bound.
    fro = torch.linalg.matrix_norm(A)
    c = torch.minimum(fro, 1.25 * _spectral_radius_estimate(A))
    w, V, sweeps, converged = _shifted_eigh(A, c, tol, max_sweeps, rec)
    if bool((w[..., 0] + c < 0).any()):
        w, V, more, converged = _shifted_eigh(A, fro, tol, max_sweeps, rec)
        sweeps += more
    return w, V, sweeps, converged


def _spectral_radius_estimate(A: torch.Tensor, steps: int = 20) -> torch.Tensor:
    """Power-iteration estimate (from below) of ``max |lambda|`` per Hermitian matrix, ``(*,)``."""
    gen = torch.Generator(device="cpu").manual_seed(2)
    x = torch.randn(*A.shape[:-1], 1, generator=gen, dtype=torch.float64).to(dtype=A.dtype, device=A.device)
    tiny = torch.finfo(real_dtype(A.dtype)).tiny
    est = torch.zeros(A.shape[:-2], dtype=real_dtype(A.dtype), device=A.device)
    for _ in range(steps):
        x = x / torch.linalg.vector_norm(x, dim=(-2, -1), keepdim=True).clamp_min(tiny)
        x = A @ x
        est = torch.linalg.vector_norm(x, dim=(-2, -1))
    return est


def _shifted_eigh(A: torch.Tensor, c: torch.Tensor, tol, max_sweeps, rec):
    n = A.shape[-1]
    c = torch.where(c > 0, c, torch.ones_like(c))
    B = A.clone()
    B.diagonal(dim1=-2, dim2=-1).add_(c.unsqueeze(-1).to(A.dtype))
    def eigen_residual(W: torch.Tensor, V: torch.Tensor) -> float:
        V = V[..., :n, :]  # the padding column (if any) is zero in these rows
        w = ((V.conj() * (A @ V)).sum(-2)).real
        return residuals.eigh(A, w, V)

    fn = eigen_residual if rec is not None else None
    _, _, Vh, sweeps, converged = jacobi_svd(B, tol, max_sweeps, rec, fn)
    V = Vh.mH
    w = ((V.conj() * (A @ V)).sum(-2)).real
    w, idx = torch.sort(w, dim=-1)
    V = torch.take_along_dim(V, idx.unsqueeze(-2), dim=-1)
    return w, V, sweeps, converged


def eigh(A: torch.Tensor, *, rec: Recorder, tol: float | None = None, max_iter: int | None = None) -> Outcome:
    """Kernel for ``eigh(method="jacobi")``; single precision is rotated in double, as in ``svd``."""
    work = A.to(_WIDER.get(A.dtype, A.dtype))
    w, V, sweeps, converged = jacobi_eigh(work, tol, max_iter, rec)
    w, V = w.to(real_dtype(A.dtype)), V.to(A.dtype)
    res = residuals.eigh(A, w, V)
    tol_used = default_tol(work.dtype, A.shape[-1]) if tol is None else tol
    return Outcome(EighResult((w, V)), converged, res, sweeps, tol_used)
