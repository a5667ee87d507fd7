"""One-sided (Hestenes) Jacobi: the SVD as exact coordinate descent.

Rotating two columns ``a_p, a_q`` of ``W = A V`` by the plane rotation that makes them orthogonal is
the exact minimiser of the off-diagonal mass ``off(W^H W)`` over that coordinate pair (a
block-coordinate descent step with an exact line search). A *sweep* visits every pair once; the
off-diagonal mass then falls quadratically once it is small (Hestenes 1958; Golub & Van Loan §8.6).

The pairs of one round are disjoint, so all ``n/2`` rotations of a round are applied at once as
vectorised tensor operations; a round-robin ("circle") schedule covers every pair in ``n - 1``
rounds. Columns are kept in a pair layout ``[top | bottom]`` and moved between rounds by one
concatenation of slices, instead of four gathers and scatters. Every member of a
batch sweeps until its own columns are orthogonal, and then stops.

**Relative accuracy.** Each rotation is computed from the two columns' own norms and their cosine,
so a column a hundred orders of magnitude smaller than the others is rotated as accurately as a
large one: one-sided Jacobi computes every singular value of a column-graded ``A = B D`` to a
relative accuracy set by ``cond(B)``, not ``cond(A)`` (Demmel & Veselić 1992). Nothing here throws
that away, over the whole float range:

* every column is stored as ``w_j = w^_j 2^k_j`` with ``||w^_j||`` of order one, and a rotation is
  computed from ``w^_p, w^_q`` and the exponents alone (:func:`_sweep`): ``||w||^2`` and
  ``w_p^H w_q`` of columns ``2^600`` apart are never formed, so columns ``2^2000`` apart (entries
  from 1e-300 to 1e300) rotate as accurately as two of the same size;
* a row-graded ``D B`` whose rows span more than a scaled column can hold is rotated as ``A^H``
  (square) or through a row-sorted, column-pivoted QR factorisation (tall; :func:`_graded_qr`);
* ``U = W^ / ||w^_j||`` for every nonzero column, however small its singular value (``1e-300`` of
  the largest is a computed singular vector, not a completion); only exactly zero columns are
  replaced by an orthonormal completion.

The symmetric positive definite eigenproblem keeps the same property by working on its Cholesky
factor (``cholesky.py``) instead of a shifted matrix.
"""

from __future__ import annotations

import functools
import math

import torch

from . import progress, residuals, scaling, tolerances
from .checks import real_dtype
from .cholesky import cholesky
from .completion import complete_orthonormal
from .estimates import hermitian_extreme
from .outcome import EighResult, Outcome, SVDResult, summarise
from .result import Recorder




def _next_round(top: torch.Tensor, bottom: torch.Tensor, dim: int) -> torch.Tensor:
    """The pair layout ``[top | bottom]`` (``h`` seats each along ``dim``) moved to the next round.

    Circle method: element 0 stays put, everything else moves one seat clockwise
    (top[1] <- top[2] <- ... <- top[h-1] <- bottom[h-1] <- ... <- bottom[0] <- top[1]).
    A large layout is moved as one concatenation of slices, which reads and writes it once (a
    concatenation followed by a gather of the whole layout costs twice as much: 10,000 x 8x8
    matrices take 0.70 of the time); a small one by a concatenation and a gather, two operations
    instead of six (a single 4 x 4 matrix: 3 against 10 microseconds a round, measured).
    """
    h = top.shape[dim]
    if h == 1:
        return torch.cat([top, bottom], dim=dim)
    if top.numel() <= _SMALL_LAYOUT:
        return torch.cat([top, bottom], dim=dim).index_select(dim, _circle(2 * h, str(top.device)))
    t, b = top.narrow, bottom.narrow
    return torch.cat([t(dim, 0, 1), t(dim, 2, h - 2), b(dim, h - 1, 1), t(dim, 1, 1), b(dim, 0, h - 1)], dim=dim)


#: Entries of half a pair layout up to which :func:`_next_round` gathers instead of slicing.
_SMALL_LAYOUT = 4096


@functools.lru_cache(maxsize=None)
def _circle(n: int, device: str) -> torch.Tensor:
    """The permutation of :func:`_next_round` as an index: position ``i`` of the next round takes
    the element at ``_circle(n)[i]``."""
    h = n // 2
    seats = list(range(h)) + list(range(n - 1, h - 1, -1))  # the circle, as layout indices
    ring = seats[1:]
    new_from_old = list(range(n))
    for i in range(len(ring)):                                # the element at ring[i] moves to ring[i - 1]
        new_from_old[ring[i - 1]] = ring[i]
    return torch.tensor(new_from_old, device=device)


#: Per real dtype, ``(B, F)``: columns are kept as ``w_j = w^_j 2^k_j`` with the Euclidean norm of
#: ``w^_j`` in ``[2^-B, 2^B]`` (or ``w^_j = 0``), so the squares in ``||w^_j||`` neither overflow nor
#: underflow, whatever ``k_j``; beyond ``|log2(||w_q|| / ||w_p||)| = F`` a rotation takes its
#: asymptotic form (``1 / rho^2`` is then far below rounding).
_BOUNDS = {torch.float64: (100, 200), torch.float32: (40, 40)}


def _split(W: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``W = W^ diag(2^k)`` exactly, each column of ``W^`` of a norm in ``[2^-B, 2^B]`` (``_BOUNDS``).
    Returns ``(W^, k, live)`` with ``k`` (``(B, n)``, real, integer-valued) and ``live`` whether
    the column is nonzero."""
    top = W.abs().amax(dim=-2)
    _, e = torch.frexp(top)
    # Columns whose largest entry is within 2^(B - 10) of 1 keep k = 0: a matrix that is not graded
    # is rotated by the classic formula (see _sweep).
    bound = 2.0 ** (_BOUNDS[real_dtype(W.dtype)][0] - 10)
    k = torch.where(((top >= 1 / bound) & (top <= bound)) | (top == 0), torch.zeros_like(top), e.to(top.dtype))
    return scaling.ldexp(W, -k.unsqueeze(-2)), k, top > 0


def _renormalise(X: torch.Tensor, K: torch.Tensor, live: torch.Tensor, m: int, all_live: bool,
                 uniform: bool, bound: float) -> tuple[torch.Tensor, bool]:
    """Norms of the scaled columns ``w^_j`` (the first ``m`` entries of the rows of ``X``), after
    moving any column whose norm left ``[2^-B, 2^B]`` (``_BOUNDS``) back into it by a power of two
    (exactly: ``X`` and ``K`` are updated in place), and whether any was moved (``bound = 2^B``).
    A column that turns out to be zero is marked dead (``all_live``: no column is dead yet). With a
    ``uniform`` exponent only the lower bound can be crossed: the rotations keep ``||W^||_F``, and
    the columns start below ``2^B``."""
    nu = torch.linalg.vector_norm(X[..., :m], dim=-1)
    check = nu if all_live else torch.where(live, nu, bound)
    if uniform:
        if float(check.amin()) >= 1 / bound:
            return nu, False
    else:
        low, high = torch.aminmax(check)
        if 1 / bound <= float(low) and float(high) <= bound:
            return nu, False
    out = (nu < 1 / bound) | (nu > bound)
    if not all_live:
        out &= live
    b, j = out.nonzero(as_tuple=True)
    rows = X[b, j, :m]
    top = rows.abs().amax(dim=-1)
    _, e = torch.frexp(top)
    e = e.to(K.dtype)
    rows = scaling.ldexp(rows, -e.unsqueeze(-1))
    X[b, j, :m] = rows
    K[b, j] += e
    live[b, j] = top > 0
    nu[b, j] = torch.linalg.vector_norm(rows, dim=-1)
    return nu, True


def _sweep(X: torch.Tensor, K: torch.Tensor, live: torch.Tensor, m: int, tol: float):
    """One sweep (``n - 1`` rounds) on ``X = [W^; V]^T`` (``(B, n, m + n)``) with column exponents
    ``K`` (``W = W^ diag(2^K)``); returns the new ``(X, K, live)`` and, per member, the largest
    cosine met between two columns of ``W``.

    Every quantity of a rotation comes from the scaled columns: their norms ``a, b`` and inner
    product ``g`` are of order one, the cosine ``|g| / (a b)`` is formed from them, and the ratio
    ``rho = ||w_q|| / ||w_p||`` enters only through its binary exponent ``D`` and a mantissa, so two
    columns ``2^2000`` apart are rotated as accurately as two of the same size. The rotation
    ``w_p <- c w_p - s e w_q``, ``w_q <- s w_p + c e w_q`` is applied to the scaled columns as
    ``w^_p <- c w^_p - alpha e w^_q``, ``w^_q <- beta w^_p + c e w^_q`` with ``alpha = s 2^(k_q - k_p)``,
    ``beta = s 2^(k_p - k_q)``; for ``|D| > F`` (``_BOUNDS``; where ``1 / rho^2`` is far below rounding)
    ``t = tan(theta)`` is computed at ``|D| = F`` and moved to the true ``D`` in the exponents
    of ``s``, ``alpha`` and ``beta``, which never overflow (one of ``alpha``, ``beta`` may underflow:
    it then moves a column by less than ``2^-1000`` of its norm)."""
    n = X.shape[-2]
    h = n // 2
    rdtype = real_dtype(X.dtype)
    tiny = torch.finfo(rdtype).tiny
    bound, far_ = 2.0 ** _BOUNDS[rdtype][0], float(_BOUNDS[rdtype][1])
    two = torch.tensor(2.0, dtype=rdtype, device=X.device)
    one = torch.ones((), dtype=rdtype, device=X.device)
    worst = torch.zeros(X.shape[0], dtype=rdtype, device=X.device)
    all_live = bool(live.all())
    uniform = not bool((K != K[..., :1]).any())
    for _ in range(n - 1):
        nu, moved = _renormalise(X, K, live, m, all_live, uniform, bound)
        if moved:
            all_live = bool(live.all())
            uniform = not bool((K != K[..., :1]).any())
        a, b = nu[..., :h], nu[..., h:]
        P, Q = X[..., :h, :], X[..., h:, :]
        Pw, Qw = P[..., :m], Q[..., :m]
        g = (Pw.conj() * Qw).sum(-1)
        ag = g.abs()
        cos = ag / (a * b).clamp_min(tiny)
        worst = torch.maximum(worst, cos.amax(dim=-1))
        # Rotation that zeroes the (p, q) entry of the 2x2 Gram matrix [[|w_p|^2, g], [g*, |w_q|^2]]:
        # zeta = (|w_q|^2 - |w_p|^2) / (2|g|) = (rho - 1/rho) / (2 cos) with rho = |w_q| / |w_p|,
        # t = sign(zeta) / (|zeta| + sqrt(1 + zeta^2)); pairs already orthogonal to tol are left alone.
        if uniform:
            # The pair shares its exponent (every pair, for a matrix that is not graded): the
            # classic formula, whose squares are safe for norms in [2^-B, 2^B].
            zeta = (b * b - a * a) / (2 * ag).clamp_min(tiny)
            root = torch.sqrt(1 + zeta * zeta)
        else:
            # rho = (mb / ma) 2^D, its exponent clamped at F (see above).
            ma, fa = torch.frexp(a)
            mb, fb = torch.frexp(b)
            d = K[..., h:] - K[..., :h]
            D = d + (fb - fa).to(rdtype)
            Dc = D.clamp(-far_, far_)
            rho = (mb / ma.clamp_min(0.5)) * torch.pow(two, Dc)
            zeta = (rho - 1 / rho) / (2 * cos.clamp_min(tiny))
            root = torch.hypot(one, zeta)  # zeta may reach 2^460: no squares
        t = torch.where(zeta >= 0, 1.0, -1.0) / (zeta.abs() + root)
        t = torch.where(cos > tol, t, torch.zeros_like(t))
        c = torch.rsqrt(1 + t * t)
        sc = c * t
        # e = e^{-i phi} with g = |g| e^{i phi} (sign(g) for real input): the rotation
        # [[c, s], [-s e, c e]] diagonalises the 2x2 Gram matrix. A pair that is not rotated is
        # not touched (e = 1): its |g| may be subnormal, and g / max(|g|, tiny) no phase.
        e = torch.where(t != 0, g.conj() / ag.clamp_min(tiny).to(g.dtype), torch.ones_like(g)).unsqueeze(-1)
        c_ = c.unsqueeze(-1).to(X.dtype)
        ce = c_ * e
        if uniform:
            s_ = sc.unsqueeze(-1).to(X.dtype)
            X = _next_round(torch.addcmul(c_ * P, s_ * e, Q, value=-1), torch.addcmul(ce * Q, s_, P), -2)
        else:
            far = (D - Dc).abs()
            s = sc * torch.pow(two, -far)
            alpha = sc * torch.pow(two, d - far)
            beta = sc * torch.pow(two, -d - far)
            Pv, Qv = P[..., m:], Q[..., m:]
            top = torch.cat([c_ * Pw - (alpha.unsqueeze(-1).to(X.dtype) * e) * Qw,
                             c_ * Pv - (s.unsqueeze(-1).to(X.dtype) * e) * Qv], dim=-1)
            bottom = torch.cat([beta.unsqueeze(-1).to(X.dtype) * Pw + ce * Qw,
                                s.unsqueeze(-1).to(X.dtype) * Pv + ce * Qv], dim=-1)
            X = _next_round(top, bottom, -2)
            K = _next_round(K[..., :h], K[..., h:], -1)
        if not all_live:
            live = _next_round(live[..., :h], live[..., h:], -1)
    return X, K, live, worst


def _sweeps(W: torch.Tensor, K: torch.Tensor, live: torch.Tensor, V: torch.Tensor, tol: float, max_sweeps: int,
            rec: Recorder | None, residual_fn=None, done: torch.Tensor | None = None):
    """Run Jacobi sweeps on ``W = W^ diag(2^K)`` (``W^`` of shape ``(B, m, n)``, n even; see
    :func:`_split`) accumulating rotations into ``V``, each member until its largest cosine is
    below ``tol``.

    ``W^`` and ``V`` undergo the same column rotations, so they are stored together, transposed, as
    the rows of one matrix ``X = [W^; V]^T``: a column of ``W^`` and its column of ``V`` form one
    contiguous row, a round updates both, and the round-robin permutation moves whole rows (and
    their exponents). Returns ``(W^, K, live, V, sweeps, converged)`` with per-member counts.
    """
    Bn, m, n = W.shape
    X = torch.cat([W, V], dim=-2).mT.contiguous()  # (B, n, m + n)
    K, live = K.clone(), live.clone()
    sweeps = torch.zeros(Bn, dtype=torch.int64)
    converged = torch.zeros(Bn, dtype=torch.bool) if done is None else done.clone()
    last = torch.zeros(Bn, dtype=torch.float64)
    for _ in range(max_sweeps):
        active = (~converged).nonzero().squeeze(-1)
        if active.numel() == 0:
            break
        Xa, Ka, La, worst = _sweep(X[active], K[active], live[active], m, tol)
        X[active], K[active], live[active] = Xa, Ka, La
        sweeps[active] += 1
        last[active] = worst.to(torch.float64)
        converged[active] = worst <= tol
        if rec is not None:
            rec.record(float(last.max()), residual_fn(_join(X[..., :m].mT, K), X[..., m:].mT))
        else:
            # Progress for a composite method: the largest cosine between two columns this sweep.
            progress.step(float(last.max()))
    return X[..., :m].mT, K, live, X[..., m:].mT, sweeps, converged


def _join(W: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """``W^ diag(2^K)``."""
    return scaling.ldexp(W, K.unsqueeze(-2))


def _column_norms(W: torch.Tensor) -> torch.Tensor:
    """Euclidean norms of the columns of ``W``, without overflow or underflow of their squares."""
    return scaling.norm(W, dim=-2)


def default_tol(dtype: torch.dtype, m: int) -> float:
    # The cosine between two computed columns cannot be made smaller than about sqrt(m) * eps.
    return max(math.sqrt(m), 1.0) * tolerances.machine_epsilon(dtype)


def jacobi_svd(A: torch.Tensor, tol: float | None = None, max_sweeps: int | None = None,
               rec: Recorder | None = None, residual_fn=None):
    """Reduced SVD of every matrix of ``A`` (``(B, m, n)``) by one-sided Jacobi.

    Returns ``(U, S, Vh, sweeps, converged)``; ``S`` is real, non-negative and descending;
    ``sweeps`` and ``converged`` are per member. The entries of ``A`` may span the whole float
    range (see :func:`_sweep`); a singular value is lost only if it is not representable.
    """
    m, n = A.shape[-2:]
    if m < n:
        U, S, Vh, sweeps, conv = _oriented(A.mH, tol, max_sweeps, rec, residual_fn)
        return Vh.mH, S, U.mH, sweeps, conv
    return _oriented(A, tol, max_sweeps, rec, residual_fn)


def _oriented(A: torch.Tensor, tol, max_sweeps, rec, residual_fn):
    """:func:`jacobi_svd` for ``m >= n``. A member whose columns span more binary orders than a
    scaled column keeps (``_COLUMN_SPAN``: a row-graded ``D B`` with ``D`` from ``2^990`` to
    ``2^-990``) while its rows span fewer is rotated as ``A^H`` if square, and as ``R^H`` from a
    row-sorted, column-pivoted QR factorisation ``P_r A P_c = Q R`` if tall (Drmac & Veselic 2008):
    Householder QR with row sorting and column pivoting is row-wise backward stable (Cox & Higham
    1998), so the small rows survive in ``R``, and ``R^H`` is column-graded."""
    Bn, m, n = A.shape
    route = torch.zeros(Bn, dtype=torch.int64)  # 0: columns of A, 1: columns of A^H, 2: via QR
    if residual_fn is None and _span(A) > _COLUMN_SPAN[real_dtype(A.dtype)]:
        cols = _spans(A, -2)
        graded_rows = (cols > _COLUMN_SPAN[real_dtype(A.dtype)]) & (_spans(A, -1) < cols)
        route[graded_rows] = 1 if m == n else 2
    if not bool(route.any()):
        return _jacobi_tall(A, tol, max_sweeps, rec, residual_fn)
    U, Vh = A.new_empty(Bn, m, n), A.new_empty(Bn, n, n)
    S = A.new_empty(Bn, n, dtype=real_dtype(A.dtype))
    sweeps = torch.zeros(Bn, dtype=torch.int64)
    conv = torch.zeros(Bn, dtype=torch.bool)
    for r in (0, 1, 2):
        idx = (route == r).nonzero().squeeze(-1)
        if idx.numel() == 0:
            continue
        if r == 0:
            U[idx], S[idx], Vh[idx], sweeps[idx], conv[idx] = _jacobi_tall(A[idx], tol, max_sweeps, rec)
        elif r == 1:
            u_, S[idx], v_, sweeps[idx], conv[idx] = _jacobi_tall(A[idx].mH, tol, max_sweeps, rec)
            U[idx], Vh[idx] = v_.mH, u_.mH
        else:
            Q, R, rows, cols = _graded_qr(A[idx])
            # R^H = U_r S V_r^H, so P_r A P_c = Q V_r S U_r^H.
            u_, S[idx], v_, sweeps[idx], conv[idx] = _jacobi_tall(R.mH, tol, max_sweeps, rec)
            Ua = torch.empty_like(Q)
            Ua.scatter_(-2, rows.unsqueeze(-1).expand(-1, -1, n), Q @ v_.mH)
            Va = torch.empty_like(u_)
            Va.scatter_(-2, cols.unsqueeze(-1).expand(-1, -1, n), u_)
            U[idx], Vh[idx] = Ua, Va.mH
    return U, S, Vh, sweeps, conv


def _graded_qr(A: torch.Tensor):
    """``P_r A P_c = Q R`` for a batch of tall ``A`` (``(B, m, n)``): Householder QR with the rows
    sorted by their largest entry (descending) and column pivoting by remaining norm. Returns
    ``(Q, R, rows, cols)`` with ``Q`` ``(B, m, n)``, ``R`` ``(B, n, n)`` upper triangular, and the
    permutations as index tensors (row ``i`` of ``P_r A`` is row ``rows[i]`` of ``A``; column ``k``
    of ``A P_c`` is column ``cols[k]``).

    Written out, not ``torch.linalg.qr``: LAPACK scales each reflector to ``v_1 = 1``, which
    flushes the entries of a column ``2^-1074`` below its largest, i.e. the small rows of a
    row-graded matrix. Here ``H y = y - v gamma`` keeps ``v = x - beta e_1`` as it is (entries of
    ``A``'s own sizes) and only ``gamma = v^H y / (||x|| (||x|| + |x_1|))`` is formed from scaled
    copies; with the pivoting ``|gamma| <= 2``, so ``v gamma`` is as representable as ``A``."""
    Bn, m, n = A.shape
    rd = real_dtype(A.dtype)
    top = A.abs().amax(-1)
    mant, ex = torch.frexp(top)
    rows = torch.argsort(torch.where(top > 0, ex.to(rd) + torch.log2(mant.clamp_min(0.5)), torch.full_like(top, -math.inf)),
                         dim=-1, descending=True)
    R = torch.take_along_dim(A, rows.unsqueeze(-1), dim=-2).clone()
    cols = torch.arange(n, device=A.device).expand(Bn, n).clone()
    b = torch.arange(Bn, device=A.device)
    vs, dens = [], []
    for k in range(n):
        # Column pivoting: the remaining column of largest norm (compared by binary logarithm).
        nrm = scaling.norm(R[:, k:, k:], dim=-2)
        j = k + torch.argmax(nrm, dim=-1)
        swap = j != k
        if bool(swap.any()):
            Rk, Rj = R[b, :, k].clone(), R[b, :, j].clone()
            R[b, :, k], R[b, :, j] = Rj, Rk
            ck, cj = cols[b, k].clone(), cols[b, j].clone()
            cols[b, k], cols[b, j] = cj, ck
        x = R[:, k:, k]
        nx = scaling.norm(x, dim=-1)
        x1 = x[:, 0]
        ax1 = x1.abs()
        phase = torch.where(ax1 > 0, x1 / ax1.clamp_min(torch.finfo(rd).tiny).to(x1.dtype), torch.ones_like(x1))
        v = x.clone()
        v[:, 0] = phase * (ax1 + nx).to(x1.dtype)  # x_1 - beta with beta = -phase ||x||
        _, ev = torch.frexp(nx)
        ev = ev.to(rd)
        den = scaling.ldexp(nx, -ev) * scaling.ldexp(nx + ax1, -ev)  # ||x|| (||x|| + |x_1|) / 4^ev
        den = torch.where(nx > 0, den, torch.ones_like(den))
        vh = scaling.ldexp(v, -ev.unsqueeze(-1))
        if k + 1 < n:
            Y = R[:, k:, k + 1:]
            gamma = scaling.ldexp((vh.conj().unsqueeze(-1) * Y).sum(-2) / den.unsqueeze(-1).to(Y.dtype), -ev.unsqueeze(-1))
            gamma = torch.where((nx > 0).unsqueeze(-1), gamma, torch.zeros_like(gamma))
            R[:, k:, k + 1:] = Y - v.unsqueeze(-1) * gamma.unsqueeze(-2)
        R[:, k, k] = torch.where(nx > 0, -phase * nx.to(x1.dtype), x1)
        R[:, k + 1:, k] = 0
        vs.append(vh)
        dens.append(torch.where(nx > 0, den, torch.full_like(den, math.inf)))
    # Q = H_1 ... H_n [I; 0], each H_k applied to the rows k: in the scaled form (its small entries
    # are those of Q, below 2^-1074 where they are flushed).
    Q = torch.eye(m, n, dtype=A.dtype, device=A.device).expand(Bn, m, n).clone()
    for k in range(n - 1, -1, -1):
        vh, den = vs[k], dens[k]
        Y = Q[:, k:, k:]
        gamma = (vh.conj().unsqueeze(-1) * Y).sum(-2) / den.unsqueeze(-1).to(Y.dtype)
        Q[:, k:, k:] = Y - vh.unsqueeze(-1) * gamma.unsqueeze(-2)
    return Q, R[:, :n, :], rows, cols


def _span(A: torch.Tensor) -> float:
    """The span of binary exponents of the whole batch's nonzero entries (a bound on every
    column's and row's)."""
    a = A.abs()
    hi = a.amax()
    lo = torch.where(a > 0, a, torch.full_like(a, math.inf)).amin()
    if not bool(hi > 0):
        return 0.0
    return float(torch.log2(hi) - torch.log2(lo))


def _spans(A: torch.Tensor, dim: int) -> torch.Tensor:
    """Per matrix, the largest span of binary exponents (largest over smallest nonzero entry)
    within one column (``dim=-2``) or one row (``dim=-1``) of ``A``."""
    a = A.abs()
    _, e = torch.frexp(a)
    e = e.to(a.dtype)
    nz = a > 0
    hi = torch.where(nz, e, torch.full_like(e, -math.inf)).amax(dim)
    lo = torch.where(nz, e, torch.full_like(e, math.inf)).amin(dim)
    return torch.where(hi >= lo, hi - lo, torch.zeros_like(hi)).amax(-1)


#: Per real dtype: a column spanning more binary orders than this may lose its smallest entries
#: when it is stored as ``w^_j 2^k_j`` (a float64 ``w^_j`` keeps them to ``2^-1074`` of its largest).
_COLUMN_SPAN = {torch.float64: 1000, torch.float32: 120}


def _jacobi_tall(A: torch.Tensor, tol: float | None, max_sweeps: int | None, rec: Recorder | None,
                 residual_fn=None):
    """:func:`jacobi_svd` for ``m >= n``, rotating the columns of ``A``."""
    Bn, m, n = A.shape
    tol = default_tol(A.dtype, m) if tol is None else tol
    max_sweeps = 60 if max_sweeps is None else max_sweeps
    A_pad = A if n % 2 == 0 else torch.cat([A, A.new_zeros(Bn, m, 1)], dim=-1)
    npad = A_pad.shape[-1]
    # A zero column is never rotated (its cosine with anything is 0); the padding is dropped below.
    W, K, live = _split(A_pad)
    # De Rijk: start with the columns in descending norm order, which saves sweeps.
    order = torch.argsort(_log_norms(W, K, live), dim=-1, descending=True)
    W = torch.take_along_dim(W, order.unsqueeze(-2), dim=-1)
    K, live = torch.take_along_dim(K, order, dim=-1), torch.take_along_dim(live, order, dim=-1)
    V = torch.eye(npad, dtype=A.dtype, device=A.device).expand(Bn, npad, npad)
    V = torch.take_along_dim(V, order.unsqueeze(-2), dim=-1)
    if rec is not None and residual_fn is None:
        residual_fn = _reconstruction(A_pad)
    W, K, live, V, sweeps, converged = _sweeps(W, K, live, V, tol, max_sweeps, rec, residual_fn)
    drift = residuals.orthogonality_members(V) > 8 * tol
    if bool((converged & drift).any()):
        # Thousands of rotations make V drift off orthogonality (by ~2e-5 at n = 100 in float32).
        # Re-orthonormalise it, recompute W = A V and let a sweep or two restore the column
        # orthogonality of W: only those last sweeps' rounding stays in V.
        redo = converged & drift
        V2 = _reorthonormalise(V[redo])
        W2, K2, L2 = _split(A_pad[redo] @ V2)
        W, V = W.clone(), V.clone()
        W[redo], K[redo], live[redo], V[redo] = W2, K2, L2, V2
        W, K, live, V, extra, again = _sweeps(W, K, live, V, tol, max_sweeps, rec, residual_fn, done=~redo)
        converged = torch.where(redo, again, converged)
        sweeps += extra
    nu = scaling.norm(W, dim=-2)  # the last rotations may have moved a column out of bounds
    key = _log_norms(W, K, live, nu)
    if npad != n:
        # The padding column is never rotated, so it is the one column with V[n, j] != 0.
        pad = V[..., n, :].abs().argmax(dim=-1, keepdim=True)
        key.scatter_(-1, pad, -math.inf)
    idx = torch.argsort(key, dim=-1, descending=True)[..., :n]
    nu, K = torch.take_along_dim(nu, idx, dim=-1), torch.take_along_dim(K, idx, dim=-1)
    W = torch.take_along_dim(W, idx.unsqueeze(-2), dim=-1)
    V = torch.take_along_dim(V, idx.unsqueeze(-2), dim=-1)[..., :n, :]
    S = scaling.ldexp(nu, K)
    U = _normalise_columns(W, nu)
    return U, S, V.mH, sweeps, converged


def _log_norms(W: torch.Tensor, K: torch.Tensor, live: torch.Tensor, nu: torch.Tensor | None = None) -> torch.Tensor:
    """``log2 ||w_j||`` of the columns of ``W^ diag(2^K)`` (a zero column: -1e9), for sorting."""
    nu = torch.linalg.vector_norm(W, dim=-2) if nu is None else nu
    ok = live & (nu > 0)
    return torch.where(ok, K + torch.log2(torch.where(ok, nu, torch.ones_like(nu))), torch.full_like(nu, -1e9))


def _reconstruction(A: torch.Tensor):
    """Residual callback: ``||W V^H - A||_F / ||A||_F``, exactly the SVD residual (``U diag(S) = W``)."""
    a = residuals.fro(A)
    a = torch.where(a > 0, a, torch.ones_like(a))

    def fn(W: torch.Tensor, V: torch.Tensor) -> float:
        return float((residuals.fro(W @ V.mH - A) / a).max())

    return fn


def _reorthonormalise(V: torch.Tensor) -> torch.Tensor:
    """The orthonormal factor of ``V`` closest in column order: QR with the phases of ``R``'s
    diagonal moved back into ``Q``, so a nearly orthonormal ``V`` changes only by its drift."""
    Q, R = torch.linalg.qr(V)
    d = R.diagonal(dim1=-2, dim2=-1)
    phase = torch.where(d.abs() > 0, d / d.abs().clamp_min(torch.finfo(d.abs().dtype).tiny), torch.ones_like(d))
    return Q * phase.unsqueeze(-2)


def _normalise_columns(W: torch.Tensor, nu: torch.Tensor) -> torch.Tensor:
    """``U = W^ / ||w^_j||``: every nonzero column, however small its singular value, is an
    accurately computed singular vector (its scaled copy ``w^_j`` has a norm of order one) and is
    kept; only exactly zero columns are replaced by an orthonormal completion."""
    n = W.shape[-1]
    good = nu > 0
    U = W / torch.where(good, nu, torch.ones_like(nu)).unsqueeze(-2).to(W.dtype)
    if bool(good.all()):
        return U
    # Per matrix: keep the good columns (they come first, sorted by norm) and complete the rest.
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
    work = A.to(tolerances.WIDER.get(A.dtype, A.dtype))
    U, S, Vh, sweeps, converged = jacobi_svd(work, tol, max_iter, rec)
    U, S, Vh = U.to(A.dtype), S.to(real_dtype(A.dtype)), Vh.to(A.dtype)
    return svd_outcome(A, U, S, Vh, sweeps, converged)


def svd_outcome(A, U, S, Vh, iterations, converged) -> Outcome:
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
    fro = scaling.norm(A, dim=(-2, -1))
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
    work = A.to(tolerances.WIDER.get(A.dtype, A.dtype))
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
