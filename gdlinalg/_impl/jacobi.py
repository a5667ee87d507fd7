"""One-sided (Hestenes) Jacobi: the SVD as exact coordinate descent.

Rotating two columns ``a_p, a_q`` of ``W = A V`` by the plane rotation that makes them orthogonal is
the exact minimiser of the off-diagonal mass ``off(W^H W)`` over that coordinate pair (a
block-coordinate descent step with an exact line search). A *sweep* visits every pair once; the
off-diagonal mass then falls quadratically once it is small (Hestenes 1958; Golub & Van Loan §8.6).

The pairs of one round are disjoint, so all ``n/2`` rotations of a round are applied at once as
vectorised tensor operations; a round-robin ("circle") schedule covers every pair in ``n - 1``
rounds. Columns are kept in a pair layout ``[top | bottom]`` and moved between rounds by one fixed
permutation, so a round costs one gather instead of four gathers and scatters. Every member of a
batch sweeps until its own columns are orthogonal, and then stops.

**Relative accuracy.** Each rotation is computed from the two columns' own norms and their cosine,
so a column a hundred orders of magnitude smaller than the others is rotated as accurately as a
large one: one-sided Jacobi computes every singular value of a column-graded ``A = B D`` to a
relative accuracy set by ``cond(B)``, not ``cond(A)`` (Demmel & Veselić 1992). Nothing here throws
that away: a small column is normalised like any other, and only a column that is exactly zero (or
too small to normalise) is replaced by an orthonormal completion. The symmetric positive definite
eigenproblem keeps the same property by working on its Cholesky factor (``cholesky.py``) instead of
a shifted matrix.
"""

from __future__ import annotations

import math

import torch

from . import progress, residuals, tolerances
from .checks import real_dtype
from .cholesky import cholesky
from .completion import complete_orthonormal
from .estimates import hermitian_extreme
from .outcome import Outcome, summarise
from .result import Recorder

EighResult = torch.return_types.linalg_eigh
SVDResult = torch.return_types.linalg_svd

#: Single precision is rotated in double precision (see ``svd``).
_WIDER = {torch.float32: torch.float64, torch.complex64: torch.complex128}


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


def _sweep(X: torch.Tensor, m: int, tol: float, perm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One sweep (``n - 1`` rounds) on ``X = [W; V]^T`` (``(B, n, m + n)``); returns the new ``X``
    and, per member, the largest cosine met between two columns of ``W``."""
    n = X.shape[-2]
    h = n // 2
    rdtype = real_dtype(X.dtype)
    tiny = torch.finfo(rdtype).tiny
    worst = torch.zeros(X.shape[0], dtype=rdtype, device=X.device)
    for _ in range(n - 1):
        P, Q = X[..., :h, :], X[..., h:, :]
        Pw, Qw = P[..., :m], Q[..., :m]
        a = torch.linalg.vector_norm(Pw, dim=-1).square()
        b = torch.linalg.vector_norm(Qw, dim=-1).square()
        g = (Pw.conj() * Qw).sum(-1)
        ag = g.abs()
        # sqrt(a) sqrt(b), not sqrt(a b): two columns of norm 1e-160 must not underflow to 0.
        cos = ag / (torch.sqrt(a) * torch.sqrt(b)).clamp_min(tiny)
        worst = torch.maximum(worst, cos.amax(dim=-1))
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
    return X, worst


def _sweeps(W: torch.Tensor, V: torch.Tensor, tol: float, max_sweeps: int, rec: Recorder | None,
            residual_fn=None, done: torch.Tensor | None = None):
    """Run Jacobi sweeps on ``W`` (``(B, m, n)``, n even) accumulating rotations into ``V``, each
    member until its largest cosine is below ``tol``.

    ``W`` and ``V`` undergo the same column rotations, so they are stored together, transposed, as
    the rows of one matrix ``X = [W; V]^T``: a column of ``W`` and its column of ``V`` form one
    contiguous row, a round updates both with one set of operations, and the round-robin
    permutation moves whole rows. Returns ``(W, V, sweeps, converged)`` with per-member counts.
    """
    Bn, m, n = W.shape
    perm = _round_robin_permutation(n, W.device)
    X = torch.cat([W, V], dim=-2).mT.contiguous()  # (B, n, m + n)
    sweeps = torch.zeros(Bn, dtype=torch.int64)
    converged = torch.zeros(Bn, dtype=torch.bool) if done is None else done.clone()
    last = torch.zeros(Bn, dtype=torch.float64)
    for _ in range(max_sweeps):
        active = (~converged).nonzero().squeeze(-1)
        if active.numel() == 0:
            break
        Xa, worst = _sweep(X[active], m, tol, perm)
        X[active] = Xa
        sweeps[active] += 1
        last[active] = worst.to(torch.float64)
        converged[active] = worst <= tol
        if rec is not None:
            rec.record(float(last.max()), residual_fn(X[..., :m].mT, X[..., m:].mT))
        else:
            # Progress for a composite method: the largest cosine between two columns this sweep.
            progress.step(float(last.max()))
    return X[..., :m].mT, X[..., m:].mT, sweeps, converged


def _column_norms(W: torch.Tensor) -> torch.Tensor:
    """Euclidean norms of the columns of ``W``, without overflow or underflow of their squares:
    each column is first scaled by the power of two nearest its largest entry."""
    top = W.abs().amax(dim=-2)
    _, e = torch.frexp(torch.where(top > 0, top, torch.ones_like(top)))
    two = torch.pow(torch.tensor(2.0, dtype=top.dtype, device=W.device), e.to(top.dtype))
    return two * torch.linalg.vector_norm(W / two.unsqueeze(-2).to(W.dtype), dim=-2)


def default_tol(dtype: torch.dtype, m: int) -> float:
    # The cosine between two computed columns cannot be made smaller than about sqrt(m) * eps.
    return max(math.sqrt(m), 1.0) * tolerances.machine_epsilon(dtype)


def jacobi_svd(A: torch.Tensor, tol: float | None = None, max_sweeps: int | None = None,
               rec: Recorder | None = None, residual_fn=None):
    """Reduced SVD of every matrix of ``A`` (``(B, m, n)``) by one-sided Jacobi.

    Returns ``(U, S, Vh, sweeps, converged)``; ``S`` is real, non-negative and descending;
    ``sweeps`` and ``converged`` are per member.
    """
    Bn, m, n = A.shape
    if m < n:
        U, S, Vh, sweeps, conv = jacobi_svd(A.mH, tol, max_sweeps, rec, residual_fn)
        return Vh.mH, S, U.mH, sweeps, conv
    tol = default_tol(A.dtype, m) if tol is None else tol
    max_sweeps = 60 if max_sweeps is None else max_sweeps
    W = A.clone()
    npad = n + (n % 2)
    if npad != n:
        # A zero column is never rotated (its cosine with anything is 0); it is dropped below.
        W = torch.cat([W, W.new_zeros(Bn, m, 1)], dim=-1)
    # De Rijk: start with the columns in descending norm order, which saves sweeps.
    order = torch.argsort(_column_norms(W), dim=-1, descending=True)
    W = torch.take_along_dim(W, order.unsqueeze(-2), dim=-1)
    V = torch.eye(npad, dtype=A.dtype, device=A.device).expand(Bn, npad, npad)
    V = torch.take_along_dim(V, order.unsqueeze(-2), dim=-1)
    A_pad = A if npad == n else torch.cat([A, A.new_zeros(Bn, m, 1)], dim=-1)
    if rec is not None and residual_fn is None:
        residual_fn = _reconstruction(A_pad)
    W, V, sweeps, converged = _sweeps(W, V, tol, max_sweeps, rec, residual_fn)
    drift = residuals.orthogonality_members(V) > 8 * tol
    if bool((converged & drift).any()):
        # Thousands of rotations make V drift off orthogonality (by ~2e-5 at n = 100 in float32).
        # Re-orthonormalise it, recompute W = A V and let a sweep or two restore the column
        # orthogonality of W: only those last sweeps' rounding stays in V.
        redo = converged & drift
        V = torch.where(redo.view(-1, 1, 1), _reorthonormalise(V), V)
        W = torch.where(redo.view(-1, 1, 1), A_pad @ V, W)
        W, V, extra, again = _sweeps(W, V, tol, max_sweeps, rec, residual_fn, done=~redo)
        converged = torch.where(redo, again, converged)
        sweeps += extra
    S = _column_norms(W)
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


def _reconstruction(A: torch.Tensor):
    """Residual callback: ``||W V^H - A||_F / ||A||_F``, exactly the SVD residual (``U diag(S) = W``)."""
    a = torch.linalg.matrix_norm(A)
    a = torch.where(a > 0, a, torch.ones_like(a))

    def fn(W: torch.Tensor, V: torch.Tensor) -> float:
        return float((torch.linalg.matrix_norm(W @ V.mH - A) / a).max())

    return fn


def _reorthonormalise(V: torch.Tensor) -> torch.Tensor:
    """The orthonormal factor of ``V`` closest in column order: QR with the phases of ``R``'s
    diagonal moved back into ``Q``, so a nearly orthonormal ``V`` changes only by its drift."""
    Q, R = torch.linalg.qr(V)
    d = R.diagonal(dim1=-2, dim2=-1)
    phase = torch.where(d.abs() > 0, d / d.abs().clamp_min(torch.finfo(d.abs().dtype).tiny), torch.ones_like(d))
    return Q * phase.unsqueeze(-2)


def _normalise_columns(W: torch.Tensor, S: torch.Tensor) -> torch.Tensor:
    """``U = W / S``. Only columns too small to normalise (zero, or so close to the underflow
    threshold that their entries have lost precision) are replaced by an orthonormal completion;
    every other column, however small next to the first, is an accurately computed singular
    vector and is kept."""
    n = W.shape[-1]
    rdtype = S.dtype
    floor = torch.finfo(rdtype).tiny / torch.finfo(rdtype).eps
    good = S > floor
    U = W / torch.where(good, S, torch.ones_like(S)).unsqueeze(-2).to(W.dtype)
    if bool(good.all()):
        return U
    # Per matrix: keep the good columns (they come first, S is sorted) and complete the rest.
    Uf = U.clone()
    for i in range(Uf.shape[0]):
        r = int(good[i].sum())
        if r < n:
            full = complete_orthonormal(Uf[i, :, :r])
            Uf[i, :, r:] = full[:, r:n]
    return Uf


def svd(A: torch.Tensor, *, rec: Recorder, tol: float | None = None, max_iter: int | None = None) -> Outcome:
    """Kernel for ``svd(method="jacobi")`` on a flattened, normalised batch.

    float32/complex64 input is rotated in float64/complex128 and the factors are rounded once at
    the end: each column goes through thousands of rotations, and done in single precision their
    rounding errors add up to several times LAPACK's error (measured at 150 x 100: reconstruction
    1.6e-5 against LAPACK's 9.9e-7) where LAPACK's bidiagonalisation touches each entry far less.

    A member has converged when its columns were orthogonal to ``tol`` and its factors pass the
    final checks: reconstruction and orthogonality within what rounding allows.
    """
    work = A.to(_WIDER.get(A.dtype, A.dtype))
    U, S, Vh, sweeps, converged = jacobi_svd(work, tol, max_iter, rec)
    U, S, Vh = U.to(A.dtype), S.to(real_dtype(A.dtype)), Vh.to(A.dtype)
    return _svd_outcome(A, U, S, Vh, sweeps, converged)


def _svd_outcome(A, U, S, Vh, iterations, converged) -> Outcome:
    m, n = A.shape[-2:]
    limit = tolerances.backward(max(m, n), A.dtype)
    res = residuals.svd_members(A, U, S, Vh)
    orth = torch.maximum(residuals.orthogonality_members(U), residuals.orthogonality_members(Vh.mH))
    return summarise(SVDResult((U, S, Vh)), res, torch.full_like(res, limit), iterations,
                     checks=(("the sweeps reached their cap before the columns were orthogonal to tol", converged, None, None),
                             ("orthogonality of U and V", orth <= limit, orth, limit)))


# ------------------------------------------------------------------------------------------------
# Hermitian eigenproblem
# ------------------------------------------------------------------------------------------------


def jacobi_eigh(A: torch.Tensor, tol: float | None = None, max_sweeps: int | None = None,
                rec: Recorder | None = None):
    """Eigendecomposition of every Hermitian matrix of ``A`` (``(B, n, n)``).

    Positive definite members go through their Cholesky factor ``A = L L^H``: one-sided Jacobi on
    ``L^H`` gives the eigenvectors as accumulated rotations and the eigenvalues as squared column
    norms, with relative accuracy. The others are shifted to the positive semidefinite ``A + c I``
    with ``c >= ||A||_2``: its singular values are its eigenvalues and its right singular vectors
    eigenvectors of ``A``; the eigenvalues are then the Rayleigh quotients ``v^H A v`` of the
    unshifted ``A``, which avoids the cancellation in ``(lambda + c) - c``. Returns
    ``(w ascending, V, sweeps, converged)``, per member.
    """
    Bn, n = A.shape[0], A.shape[-1]
    L, spd = cholesky(A)
    w = torch.empty(Bn, n, dtype=real_dtype(A.dtype), device=A.device)
    V = torch.empty_like(A)
    sweeps = torch.zeros(Bn, dtype=torch.int64)
    converged = torch.zeros(Bn, dtype=torch.bool)
    if bool(spd.any()):
        idx = spd.nonzero().squeeze(-1)
        w[idx], V[idx], sweeps[idx], converged[idx] = _factored_eigh(A[idx], L[idx], tol, max_sweeps, rec)
    if bool((~spd).any()):
        idx = (~spd).nonzero().squeeze(-1)
        w[idx], V[idx], sweeps[idx], converged[idx] = _shifted_eigh(A[idx], tol, max_sweeps, rec)
    return w, V, sweeps, converged


def _factored_eigh(A: torch.Tensor, L: torch.Tensor, tol, max_sweeps, rec):
    n = A.shape[-1]

    def eigen_residual(W: torch.Tensor, V: torch.Tensor) -> float:
        # The padding column (if any) is zero in W and in these rows of V.
        return residuals.eigh(A, _column_norms(W).square(), V[..., :n, :])

    _, S, Vh, sweeps, converged = jacobi_svd(L.mH, tol, max_sweeps, rec, eigen_residual if rec is not None else None)
    w, V = S.square().flip(-1), Vh.mH.flip(-1)
    return w, V, sweeps, converged


def _shifted_eigh(A: torch.Tensor, tol, max_sweeps, rec):
    # The error of the eigenvectors grows with the shift, so it should be close to ||A||_2:
    # 1.25 times a power-iteration estimate, capped by the Frobenius norm (a guaranteed bound).
    # If the estimate was too low, A + c I is indefinite, eigenvalues of opposite sign can share a
    # singular value, and the residual shows it: those members are solved again with the bound.
    n = A.shape[-1]
    fro = torch.linalg.matrix_norm(A)
    rho = hermitian_extreme(lambda x: A @ x, (*A.shape[:-1], 1), A, seed=2).abs()
    c = torch.minimum(fro, 1.25 * rho)
    w, V, sweeps, converged = _solve_shifted(A, c, tol, max_sweeps, rec)
    limit = tolerances.backward(n, A.dtype)
    bad = (w[..., 0] + c < 0) | (residuals.eigh_members(A, w, V) > limit)
    retry = bad & (c < fro)
    if bool(retry.any()):
        idx = retry.nonzero().squeeze(-1)
        w2, V2, more, conv2 = _solve_shifted(A[idx], fro[idx], tol, max_sweeps, rec)
        w[idx], V[idx], converged[idx] = w2, V2, conv2
        sweeps[idx] += more
    return w, V, sweeps, converged


def _solve_shifted(A: torch.Tensor, c: torch.Tensor, tol, max_sweeps, rec):
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
    # Members on the Cholesky and on the shifted route are swept one group after the other.
    return eigh_outcome(A, w, V, rec.steps(), converged)


def eigh_outcome(A, w, V, iterations, converged) -> Outcome:
    n = A.shape[-1]
    limit = tolerances.backward(n, A.dtype)
    res = residuals.eigh_members(A, w, V)
    orth = residuals.orthogonality_members(V)
    return summarise(EighResult((w, V)), res, torch.full_like(res, limit), iterations,
                     checks=(("the sweeps reached their cap before the off-diagonal mass fell below tol", converged, None, None),
                             ("orthogonality of the eigenvectors", orth <= limit, orth, limit)))
