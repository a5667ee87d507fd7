"""What a method kernel hands back to the public wrapper."""

from __future__ import annotations

from typing import Any, NamedTuple

import torch


class Outcome(NamedTuple):
    """Raw output of a method kernel.

    ``solution`` has the form the public function returns (tensor or named tuple, reduced SVD),
    with the batch flattened to one dimension; ``residual`` is the final *true* residual (largest
    over the batch) and ``tol`` the tolerance it was judged against. ``detail`` names the batch
    member that failed, for the warning.
    """

    solution: Any
    converged: bool
    residual: float
    iterations: int
    tol: float
    detail: str = ""


def summarise(solution: Any, residual: torch.Tensor, tol: torch.Tensor, iterations: torch.Tensor,
              *, extra_ok: torch.Tensor | None = None) -> Outcome:
    """An :class:`Outcome` from per-member residuals, tolerances and iteration counts (``(B,)``).

    A member has converged when its residual is within its own tolerance (and ``extra_ok``, a
    further per-member test such as orthogonality, holds). The reported tolerance is that of the
    member furthest from meeting its own, so that a warning quotes a residual and the tolerance it
    failed together.
    """
    residual = residual.to(torch.float64).reshape(-1)
    tol = tol.to(torch.float64).reshape(-1)
    ok = residual <= tol
    if extra_ok is not None:
        ok &= extra_ok.reshape(-1)
    if residual.numel() == 0:
        return Outcome(solution, True, 0.0, 0, 0.0)
    ratio = residual / tol.clamp_min(torch.finfo(torch.float64).tiny)
    if bool(ok.all()):
        worst = int(ratio.argmax())
        detail = ""
    else:
        bad = (~ok).nonzero().squeeze(-1)
        worst = int(bad[ratio[bad].argmax()])
        detail = f" (batch member {worst})" if residual.numel() > 1 else ""
    iters = int(iterations.max()) if torch.is_tensor(iterations) else int(iterations)
    return Outcome(
        solution,
        bool(ok.all()),
        float(residual[worst]) if detail else float(residual.max()),
        iters,
        float(tol[worst]),
        detail,
    )
