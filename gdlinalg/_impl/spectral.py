"""The default SVD and symmetric eigendecomposition: fast by matrix products, Jacobi where that loses.

``method="divide"`` (eigh) is the spectral divide and conquer of ``divide.py``. ``method="polar"``
(svd) computes the polar decomposition ``A = U_p H`` by scaled Newton–Schulz (``polar.py``), the
eigendecomposition ``H = V diag(s) V^H`` by divide and conquer, and ``U = U_p V`` (Higham &
Papadimitriou 1994; Nakatsukasa & Higham 2013). Both are built from matrix products and QR, and
cost a few dozen products of the matrix's size; both give eigenvalues and singular values to an
*absolute* accuracy of a few ``u ||A||``.

``method="auto"`` (the default of both) sends a *graded* matrix to one-sided Jacobi instead, which
finds even the smallest singular values of a column-graded ``A = B D`` to a relative accuracy set
by ``cond(B)`` (Demmel & Veselić 1992), and the eigenvalues of a graded positive definite
``D H D`` through its Cholesky factor likewise. Graded means here that the column (or row) norms
of ``A``, or the diagonal of a positive definite ``A``, span more than a factor ``GRADED = 10``:
below that, ``cond(B) >= cond(A) / 10`` for any such grading, so Jacobi could not be more than ten
times as accurate as the fast route. Matrices of size at most ``SMALL = 8`` go to Jacobi too,
and so do matrices whose entries span more than the normalisation can hold with the largest below
1 (``scaling.normalise(..., keep_range=True)``: a largest entry of 1 or more): Jacobi computes
every quantity from scaled columns, the fast routes assume entries of order one.
``Result.method`` says which route was taken.
"""

from __future__ import annotations

import math

import torch

from . import progress, residuals, scaling, tolerances
from .checks import real_dtype
from .completion import complete_orthonormal
from .divide import divide_and_conquer
from .jacobi import eigh_outcome, jacobi_eigh, jacobi_svd, svd_outcome
from .outcome import Outcome, PolarResult, hermitian_part, summarise
from .polar import newton_schulz, qdwh, sharpen_projector, start_scale
from .result import Recorder


#: Spread of column norms (or of a positive definite diagonal) beyond which a matrix is graded.
GRADED = 10.0


def _spread(x: torch.Tensor) -> torch.Tensor:
    x = x.to(torch.float64)
    return x.amax(-1) / x.amin(-1).clamp_min(torch.finfo(torch.float64).tiny)


#: Matrices this small go to Jacobi whatever their grading: a few rounds of rotations cost no more
#: than the levels of divide and conquer, and keep the last ulp.
SMALL = 8


def graded_svd(A: torch.Tensor) -> torch.Tensor:
    """Per matrix, whether it goes to Jacobi: column or row norms spanning more than ``GRADED``,
    ``min(m, n) <= SMALL``, or entries spanning the whole float range (a largest entry of 1 or
    more after the normalisation)."""
    wide = scaling.max_exponent(A) > 0
    cols = torch.linalg.vector_norm(A, dim=-2)
    rows = torch.linalg.vector_norm(A, dim=-1)
    return wide | (_spread(cols) > GRADED) | (_spread(rows) > GRADED) | (min(A.shape[-2:]) <= SMALL)


def graded_eigh(A: torch.Tensor) -> torch.Tensor:
    """Per Hermitian matrix, whether it goes to Jacobi: a positive diagonal spanning more than
    ``GRADED`` (a candidate for the relatively accurate Cholesky route; Jacobi then checks
    definiteness), ``n <= SMALL``, or entries spanning the whole float range."""
    wide = scaling.max_exponent(A) > 0
    d = torch.diagonal(A, dim1=-2, dim2=-1).real
    return wide | ((d.amin(-1) > 0) & (_spread(d) > GRADED)) | (A.shape[-1] <= SMALL)


# ------------------------------------------------------------------------------------------------
# SVD
# ------------------------------------------------------------------------------------------------


def polar_svd(A: torch.Tensor, max_iter: int | None = None):
    """Reduced SVD of every matrix of ``A`` (``(B, m, n)``) through its polar decomposition.

    One scaled Newton–Schulz phase (from ``l = 1e-3``) converges every singular value above about
    ``1e-6 ||A||``. A member whose singular values all converged is finished by ``H = U_p^H A``:
    ``H = V diag(S) V^H`` by divide and conquer and ``U = U_p V``. A member with smaller singular
    values (ill-conditioned or rank-deficient) is split instead of being pushed further: driving a
    tiny singular value to 1 also drives the rounding errors around it, by the same factor of up
    to ``1/u``. ``G = U_p^H U_p`` has eigenvalues near 1 on the converged right singular subspace
    and near 0 (after enough steps) on the rest; once every eigenvalue is clearly one or the
    other, ``G`` is sharpened into the projector onto the first, whose part of ``A`` is finished as
    above, and the rest, ``A V_2``, is decomposed again on its own scale. What is left below
    ``4 sqrt(n) u ||A||_F`` is numerically zero: zero singular values, with an orthonormal
    completion for ``U``. Returns ``(U, S, Vh, steps, ok)``."""
    Bn, m, n = A.shape
    if m < n:
        U, S, Vh, steps, ok = polar_svd(A.mH, max_iter)
        return Vh.mH, S, U.mH, steps, ok
    c = start_scale(A)
    cap = 100 if max_iter is None else int(max_iter)
    Up, steps = newton_schulz(A / c.view(-1, 1, 1).to(A.dtype), hermitian=False, lower=1e-3, max_iter=cap)
    t = torch.diagonal(Up.mH @ Up, dim1=-2, dim2=-1).real.sum(-1).to(torch.float64)
    # A capped iteration is finished as it is (and will not pass the final checks).
    capped = steps >= cap
    full = ((n - t) < 0.5) | capped
    U = A.new_empty(Bn, m, n)
    S = torch.empty(Bn, n, dtype=real_dtype(A.dtype), device=A.device)
    Vh = A.new_empty(Bn, n, n)
    ok = torch.ones(Bn, dtype=torch.bool)
    steps_out = torch.full((Bn,), steps, dtype=torch.int64)
    idx = full.nonzero().squeeze(-1)
    if idx.numel():
        U[idx], S[idx], Vh[idx], ok[idx] = _finish_polar(A[idx], Up[idx])
    if capped:
        ok[:] = False
    for i in (~full).nonzero().squeeze(-1).tolist():
        U[i], S[i], Vh[i], extra, ok[i] = _deflate(A[i], Up[i])
        steps_out[i] += extra
    return U, S, Vh, steps_out, ok


def _finish_polar(A: torch.Tensor, Up: torch.Tensor):
    """``A = U_p H`` with ``U_p`` converged: ``H = V diag(S) V^H``, ``U = U_p V``."""
    H = Up.mH @ A
    with progress.quiet():          # the SVD counts its Newton–Schulz steps, not these levels
        w, V, _, ok = divide_and_conquer(hermitian_part(H))
    S = w.flip(-1).clamp_min(0)
    V = V.flip(-1)
    return Up @ V, S.to(real_dtype(A.dtype)), V.mH, ok


def _deflate(A: torch.Tensor, Up: torch.Tensor, depth: int = 0):
    """SVD of one matrix ``A`` (``m x n``) whose Newton–Schulz factor ``Up`` has not converged on
    every singular value: split off the converged part (see ``polar_svd``)."""
    m, n = A.shape
    dtype = A.dtype
    u = tolerances.unit_roundoff(dtype)
    eye = torch.eye(n, dtype=dtype, device=A.device)
    extra = 0
    # Plain steps until every eigenvalue of G = Up^H Up is within 0.1 of 0 or 1 (sum f^2 (1 - f^2),
    # the mass in between, below 0.05): larger ones rise to 1 quadratically, small ones by 1.5x.
    for _ in range(40):
        G = Up.mH @ Up
        tr = torch.diagonal(G).real.sum().to(torch.float64)
        if float(tr - torch.linalg.matrix_norm(G).to(torch.float64).square()) <= 0.05:
            break
        Up = Up @ (1.5 * eye - 0.5 * G)
        extra += 1
    G = hermitian_part(G)
    Pi = sharpen_projector(G, steps=40, rtol=1.0, floor=0.0)
    r = int(round(float(torch.diagonal(Pi).real.sum())))
    r = min(max(r, 0), n)
    V1, V2 = _bases(Pi, r)
    U = A.new_empty(m, n)
    S = torch.empty(n, dtype=real_dtype(dtype), device=A.device)
    Vh = A.new_empty(n, n)
    ok = True
    if r:
        U1, S1, W1h, ok1 = _finish_polar((A @ V1).unsqueeze(0), (Up @ V1).unsqueeze(0))
        U[:, :r], S[:r], Vh[:r] = U1[0], S1[0], W1h[0] @ V1.mH
        ok = ok and bool(ok1.all())
    if r < n:
        # The rest lives in the complement of the kept left subspace as well: project it there, or
        # the left singular vectors of its (rounding-level) part would not be orthogonal to U1.
        A2 = A @ V2
        if r:
            A2 = A2 - U[:, :r] @ (U[:, :r].mH @ A2)
        if float(torch.linalg.matrix_norm(A2)) <= 4 * math.sqrt(n) * u * float(torch.linalg.matrix_norm(A)) or depth >= 16:
            S[r:] = 0
            Vh[r:] = V2.mH
            U[:, r:] = complete_orthonormal(U[:, :r].unsqueeze(0))[0][:, r:n]
            ok = ok and depth < 16
        else:
            c = start_scale(A2.unsqueeze(0))
            Up2, st = newton_schulz(A2.unsqueeze(0) / c.view(-1, 1, 1).to(dtype), hermitian=False, lower=1e-3)
            extra += st
            t2 = float(torch.diagonal(Up2[0].mH @ Up2[0]).real.sum())
            if n - r - t2 < 0.5:
                U2, S2, W2h, ok2 = _finish_polar(A2.unsqueeze(0), Up2)
                U2, S2, W2h, ok2 = U2[0], S2[0], W2h[0], bool(ok2.all())
            else:
                U2, S2, W2h, more, ok2 = _deflate(A2, Up2[0], depth + 1)
                extra += more
            U[:, r:], S[r:], Vh[r:] = U2, S2, W2h @ V2.mH
            ok = ok and ok2
    order = torch.argsort(S, descending=True)
    return U[:, order], S[order], Vh[order], extra, ok


def _bases(Pi: torch.Tensor, r: int):
    """Orthonormal bases of the range of the projector ``Pi`` (``r`` columns) and of its
    complement, each from the projector applied to a seeded Gaussian block, orthonormalised twice."""
    from .estimates import gaussian

    n = Pi.shape[-1]
    eye = torch.eye(n, dtype=Pi.dtype, device=Pi.device)
    out = []
    for M, k, seed in ((Pi, r, 11), (eye - Pi, n - r, 12)):
        if k == 0:
            out.append(Pi.new_zeros(n, 0))
            continue
        Q = torch.linalg.qr(M @ gaussian((n, k), Pi, seed)).Q
        out.append(torch.linalg.qr(M @ Q).Q)
    return out[0], out[1]


def svd_factors(A: torch.Tensor, *, route: str = "auto", tol: float | None = None, max_iter: int | None = None):
    """Reduced SVD of every matrix of ``A`` (``(B, m, n)``, normalised) by the chosen route.

    Returns ``(U, S, Vh, iterations, converged, method)`` with per-member iterations (Newton–Schulz
    steps or Jacobi sweeps) and convergence flags, and the name of the route(s) taken. Single
    precision is computed in double precision and rounded once."""
    Bn, m, n = A.shape
    jac = graded_svd(A) if route == "auto" else torch.full((Bn,), route == "jacobi", dtype=torch.bool)
    k = min(m, n)
    U = A.new_empty(Bn, m, k)
    S = torch.empty(Bn, k, dtype=real_dtype(A.dtype), device=A.device)
    Vh = A.new_empty(Bn, k, n)
    its = torch.zeros(Bn, dtype=torch.int64)
    conv = torch.ones(Bn, dtype=torch.bool)
    fast = (~jac).nonzero().squeeze(-1)
    if fast.numel():
        work = A[fast].to(tolerances.WIDER.get(A.dtype, A.dtype))
        u_, s_, v_, steps, ok = polar_svd(work, max_iter)
        U[fast], S[fast], Vh[fast] = u_.to(A.dtype), s_.to(S.dtype), v_.to(A.dtype)
        its[fast] = steps
        conv[fast] = ok
        if route == "auto" and max_iter is None:
            # Verified: a member the fast route could not finish to rounding level (cond(A) of
            # 1e20 and more can take it past its phases) is done again by Jacobi.
            limit = tolerances.backward(max(m, n), work.dtype)
            bad = ~ok | (residuals.svd_members(work, u_, s_, v_) > limit) | \
                (torch.maximum(residuals.orthogonality_members(u_), residuals.orthogonality_members(v_.mH)) > limit)
            jac[fast[bad]] = True
    slow = jac.nonzero().squeeze(-1)
    if slow.numel():
        u_, s_, v_, sweeps, ok = jacobi_svd(A[slow].to(tolerances.WIDER.get(A.dtype, A.dtype)), tol, max_iter)
        U[slow], S[slow], Vh[slow] = u_.to(A.dtype), s_.to(S.dtype), v_.to(A.dtype)
        its[slow] = sweeps
        conv[slow] = ok
    return U, S, Vh, its, conv, _route_name(jac, "polar")


def svd(A: torch.Tensor, *, rec: Recorder, tol: float | None = None, max_iter: int | None = None,
        route: str = "auto") -> Outcome:
    """Kernel for ``svd(method="auto")`` (and ``"polar"`` with ``route="polar"``), on a flattened,
    normalised batch."""
    with progress.recording(rec):
        U, S, Vh, its, conv, rec.method = svd_factors(A, route=route, tol=tol, max_iter=max_iter)
    rec.final(residuals.svd(A, U, S, Vh))
    return svd_outcome(A, U, S, Vh, rec.steps(), conv)


def _route_name(jac: torch.Tensor, fast: str) -> str:
    if bool(jac.all()):
        return "jacobi"
    if bool(jac.any()):
        return f"{fast}+jacobi"
    return fast


# ------------------------------------------------------------------------------------------------
# eigh
# ------------------------------------------------------------------------------------------------


def eigh_factors(A: torch.Tensor, *, route: str = "auto", tol: float | None = None, max_iter: int | None = None):
    """Eigendecomposition of every Hermitian matrix of ``A`` (``(B, n, n)``, normalised) by the
    chosen route: ``(w ascending, V, iterations, converged, method)``."""
    Bn, n = A.shape[0], A.shape[-1]
    jac = graded_eigh(A) if route == "auto" else torch.full((Bn,), route == "jacobi", dtype=torch.bool)
    w = torch.empty(Bn, n, dtype=real_dtype(A.dtype), device=A.device)
    V = torch.empty_like(A)
    its = torch.zeros(Bn, dtype=torch.int64)
    conv = torch.ones(Bn, dtype=torch.bool)
    fast = (~jac).nonzero().squeeze(-1)
    if fast.numel():
        work = A[fast].to(tolerances.WIDER.get(A.dtype, A.dtype))
        w_, V_, levels, ok = divide_and_conquer(work)
        w[fast], V[fast] = w_.to(w.dtype), V_.to(A.dtype)
        its[fast] = levels
        conv[fast] = ok
        if route == "auto" and max_iter is None:
            # Verified, as for the SVD: what divide and conquer could not finish goes to Jacobi.
            limit = tolerances.backward(n, work.dtype)
            bad = ~ok | (residuals.eigh_members(work, w_, V_) > limit) | (residuals.orthogonality_members(V_) > limit)
            jac[fast[bad]] = True
    slow = jac.nonzero().squeeze(-1)
    if slow.numel():
        w_, V_, sweeps, ok = jacobi_eigh(A[slow].to(tolerances.WIDER.get(A.dtype, A.dtype)), tol, max_iter)
        w[slow], V[slow] = w_.to(w.dtype), V_.to(A.dtype)
        its[slow] = sweeps
        conv[slow] = ok
    return w, V, its, conv, _route_name(jac, "divide")


def eigh(A: torch.Tensor, *, rec: Recorder, tol: float | None = None, max_iter: int | None = None,
         route: str = "auto") -> Outcome:
    """Kernel for ``eigh(method="auto")`` (and ``"divide"`` with ``route="divide"``)."""
    with progress.recording(rec):
        w, V, its, conv, rec.method = eigh_factors(A, route=route, tol=tol, max_iter=max_iter)
    rec.final(residuals.eigh(A, w, V))
    return eigh_outcome(A, w, V, rec.steps(), conv)


# ------------------------------------------------------------------------------------------------
# polar decomposition
# ------------------------------------------------------------------------------------------------


def _finish_members(U: torch.Tensor, its: torch.Tensor, limit: float, cap: int, steps: int = 6) -> torch.Tensor:
    """Unscaled Newton–Schulz steps ``U <- U (3I - U^H U) / 2`` for the members of a batch whose
    columns are not yet orthonormal to ``limit``, each stopping on its own test (orthonormal, or
    no longer improving, or ``steps`` done): the shared schedule of ``polar.newton_schulz`` stops
    when the batch as a whole has converged, which can leave one member of 10^4 a step short.
    Near orthonormality each step squares the error; ``its`` counts each member's steps."""
    err = residuals.orthogonality_members(U)
    todo = ((err > limit / 4) & (err < 0.1)).nonzero().squeeze(-1)
    for _ in range(steps):
        if todo.numel() == 0 or int(its.max()) >= cap:
            break
        V = U[todo]
        V = torch.add(V @ (V.mH @ V), V, alpha=-3).mul_(-0.5)
        new = residuals.orthogonality_members(V)
        better = new < err[todo]
        U = U.clone()
        U[todo[better]] = V[better]
        its[todo[better]] += 1
        err[todo[better]] = new[better]
        progress.step(float(new.max()))
        todo = todo[better & (new > limit / 4)]
    return U


def polar(A: torch.Tensor, *, rec: Recorder, tol: float | None = None, max_iter: int | None = None,
          method: str = "newton_schulz") -> Outcome:
    """Kernel for ``polar(method=...)`` on a flattened, normalised batch ``(B, m, n)``.

    ``U`` comes from scaled Newton–Schulz (``polar.newton_schulz``, one scaled phase from
    ``l = 1e-3``) or from QDWH (``polar.qdwh``), ``H = (U^H A + A^H U) / 2``. A member whose
    iteration leaves singular values short of 1 gets ``U = W V^H`` from its SVD instead (the SVD
    deflates ill-conditioned matrices rather than lifting tiny singular values, and their rounding
    errors, by up to ``1/u``); for a rank-deficient ``A``, whose polar factor is not unique, that
    is the choice ``scipy.linalg.polar`` makes too. The residual is ``||A - U H||_F / ||A||_F``; converged also requires ``U`` to be
    orthonormal to rounding."""
    Bn, m, n = A.shape
    wide = m < n
    X = A.mH if wide else A
    c = start_scale(X)
    X0 = X / c.view(-1, 1, 1).to(X.dtype)
    cap = 100 if max_iter is None else int(max_iter)
    with progress.recording(rec):
        if method == "qdwh":
            U, steps = qdwh(X0 / math.sqrt(3), lower=1e-15, max_iter=cap)
        else:
            U, steps = newton_schulz(X0, hermitian=False, lower=1e-3, max_iter=cap, settle=8)
        k = min(m, n)
        its = torch.full((Bn,), steps, dtype=torch.int64)
        U = _finish_members(U, its, tolerances.backward(max(m, n), A.dtype), cap)
        t = torch.diagonal(U.mH @ U, dim1=-2, dim2=-1).real.sum(-1).to(torch.float64)
        short = (k - t) > 1e-8
        if bool(short.any()):
            idx = short.nonzero().squeeze(-1)
            W, S, Vh, _, _, _ = svd_factors(X[idx])
            U[idx] = W @ Vh
        limit = tolerances.backward(max(m, n), A.dtype) if tol is None else float(tol)
        if tol is None and max_iter is None:
            # Verified, member by member, as for the SVD: a member whose U H misses A (the directions
            # of its smallest singular values carry the rounding of their lifting, e.g. a 2 x 2 with
            # cond 1.2e3: 1.7e-14 against a tolerance of 7.9e-15) takes U = W V^H from its SVD.
            H = U.mH @ X
            miss = residuals.polar_members(X, U, hermitian_part(H)) > limit
            if bool(miss.any()):
                idx = miss.nonzero().squeeze(-1)
                W, S, Vh, _, _, _ = svd_factors(X[idx])
                U[idx] = W @ Vh
    if wide:
        U = U.mH
    H = U.mH @ A
    H = hermitian_part(H)
    r = residuals.polar_members(A, U, H)
    rec.final(r.max())
    orth = residuals.orthogonality_members(U.mH if wide else U)
    orth_limit = tolerances.backward(max(m, n), A.dtype)
    return summarise(PolarResult(U, H), r, torch.full_like(r, limit), rec.steps(),
                     checks=(("orthogonality of the polar factor", orth <= orth_limit, orth, orth_limit),
                             (f"the iteration reached its cap of {cap} steps", its < cap, None, None)))
