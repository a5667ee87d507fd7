"""What a method kernel hands back to the public wrapper, and the verdicts that decide whether it
converged: :func:`summarise` for per-member residuals and further checks, :func:`judge` for a
pseudo-inverse. Also the named tuples the kernels return and the Hermitian part."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch

from . import residuals, tolerances
from .estimates import norm2
from .result import failure

SVDResult = torch.return_types.linalg_svd
EighResult = torch.return_types.linalg_eigh


class PolarResult(NamedTuple):
    """``A = U H``: ``U`` with orthonormal columns (rows, if ``A`` is wide), ``H`` Hermitian
    positive semidefinite."""

    U: torch.Tensor
    H: torch.Tensor


def hermitian_part(X: torch.Tensor) -> torch.Tensor:
    """``(X + X^H) / 2``: the Hermitian matrix nearest ``X``, which rounding keeps away from a
    product that is Hermitian in exact arithmetic."""
    return 0.5 * (X + X.mH)


class Outcome(NamedTuple):
    """Raw output of a method kernel.

    ``solution`` has the form the public function returns (tensor or named tuple, reduced SVD),
    with the batch flattened to one dimension; ``residual`` is the final *true* residual (largest
    over the batch) and ``tol`` the tolerance it was judged against. ``detail`` names the batch
    member that failed, and ``why`` the criterion it failed with its true numbers (for example
    ``"orthogonality 3.1e-14 > tol 1.0e-14"``), for the warning; empty when it converged or when
    the residual itself failed.
    """

    solution: Any
    converged: bool
    residual: float
    iterations: int
    tol: float
    detail: str = ""
    why: str = ""


#: A further per-member test of :func:`summarise`: its name, which members pass (``(B,)`` bool),
#: and optionally the measured values and their tolerances (``(B,)``), quoted when it fails.
Check = tuple[str, torch.Tensor, "torch.Tensor | None", "torch.Tensor | float | None"]


def summarise(solution: Any, residual: torch.Tensor, tol: torch.Tensor, iterations: torch.Tensor,
              *, checks: tuple[Check, ...] = ()) -> Outcome:
    """An :class:`Outcome` from per-member residuals, tolerances and iteration counts (``(B,)``).

    A member has converged when its residual is within its own tolerance and it passes every
    further test of ``checks`` (orthogonality of a factor, the iteration's own stopping test). The
    reported tolerance is that of the member furthest from meeting its own, so that a warning
    quotes a residual and the tolerance it failed together; ``why`` names the first criterion that
    member failed, with its numbers.
    """
    residual = residual.to(torch.float64).reshape(-1)
    tol = tol.to(torch.float64).reshape(-1)
    if residual.numel() == 0:
        return Outcome(solution, True, 0.0, 0, 0.0)
    ok = residual <= tol
    for _, passed, _, _ in checks:
        ok &= passed.reshape(-1)
    ratio = residual / tol.clamp_min(torch.finfo(torch.float64).tiny)
    ratio = torch.where(torch.isnan(ratio), torch.full_like(ratio, math.inf), ratio)
    iters = int(iterations.max()) if torch.is_tensor(iterations) else int(iterations)
    if bool(ok.all()):
        return Outcome(solution, True, float(residual.max()), iters, float(tol[int(ratio.argmax())]))
    bad = (~ok).nonzero().squeeze(-1)
    worst = int(bad[ratio[bad].argmax()])
    detail = f" (batch member {worst})" if residual.numel() > 1 else ""
    r, t = float(residual[worst]), float(tol[worst])
    why = failure(r, t) if not r <= t else ""
    if not why:
        for name, passed, value, limit in checks:
            if not bool(passed.reshape(-1)[worst]):
                if value is None:
                    why = name
                else:
                    lim = float(limit.reshape(-1)[worst]) if torch.is_tensor(limit) else float(limit)
                    why = f"{name} {float(value.reshape(-1)[worst]):.3e} > tol {lim:.1e}"
                why += f" (residual {r:.3e} within tol {t:.1e})"
                break
    return Outcome(solution, False, r, iters, t, detail, why)


def judge(A: torch.Tensor, X: torch.Tensor, iterations: torch.Tensor, tol: float | None,
          tau: torch.Tensor | None = None, extra_ok: torch.Tensor | None = None) -> Outcome:
    """Outcome of a pseudo-inverse ``X`` of ``A`` with cut-off ``tau`` (``(B,)``, default none):
    the residual of ``residuals.pinv_members`` against ``tol``, or by default against what the
    condition number of the kept part allows; and, with a cut-off, ``||X||_2 <= 1/tau`` (nothing at
    or below the cut-off was inverted)."""
    r = residuals.pinv_members(A, X, tau=tau)
    # ||A||_2 ||X||_2: an estimate of the condition number of what X inverts.
    norm_X = norm2(X).to(torch.float64)
    kappa = norm2(A).to(torch.float64) * norm_X
    if tol is None:
        size = max(A.shape[-2:])
        limit = tolerances.inverse(size, kappa, A.dtype)
    else:
        limit = torch.full_like(r, float(tol))
    checks = []
    if extra_ok is not None:
        checks.append(("the factorization it was built from did not converge", extra_ok, None, None))
    if tau is not None:
        # A singular value just above the cut is inverted (to 1/tau at most); rounding may move it
        # across by a relative cond u, nothing more.
        slack = 1 + 10 * tolerances.unit_roundoff(A.dtype) * kappa.clamp_min(1) + 1e-8
        scaled_norm = norm_X * tau
        checks.append(("||X||_2 times the cut-off (a value at or below the cut-off was inverted)",
                       scaled_norm <= slack, scaled_norm, slack))
    return summarise(X, r, limit, iterations, checks=tuple(checks))
