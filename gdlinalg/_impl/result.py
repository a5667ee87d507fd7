"""The result object every solve returns, and the recorder that builds it."""

from __future__ import annotations

import os
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any

import torch


class ConvergenceWarning(UserWarning):
    """Emitted when an answer fails its convergence test; the message names the criterion that
    failed (the residual, the orthogonality of a factor, the iteration cap) with its numbers."""


def failure(residual: float, tol: float) -> str:
    """What a failed residual test says: the numbers, or that the iteration broke down."""
    if residual != residual:  # NaN
        return "the residual is NaN (the iteration produced non-finite values)"
    return f"residual {residual:.3e} > tol {tol:.1e}"


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def caller_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning point at the first frame outside gdlinalg: the line
    of the user's code that called the package, however deep the call went inside it."""
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE + os.sep):
        frame, level = frame.f_back, level + 1
    return level


@dataclass(frozen=True)
class Result:
    """Everything about one solve: the answer and how the iteration got there.

    Attributes
    ----------
    solution : Tensor or tuple
        What the matching ``torch.linalg``-style function returns (a tensor, or a named tuple such as
        ``SVDResult(U, S, Vh)``).
    method : str
        The method that produced it, e.g. ``"newton_schulz"``.
    iterations : int
        Iterations performed: optimizer steps, Newton–Schulz or QDWH steps, Jacobi sweeps,
        divide-and-conquer levels (``eigh``), CG steps, refinement steps. ``len(residual_history)``
        equals it. For a batch whose members take different routes (Jacobi for a graded member,
        the polar route for the others), the routes' iterations one after the other; otherwise
        the largest number any member took.
    converged : bool
        Whether the final true residual (and, for factorizations, the orthogonality of the
        factors) is within the tolerance; for a batch, whether every member's is.
    residual : float
        The final true residual, recomputed from the returned solution (for a batch, the largest;
        if a member failed, that member's).
    tol : float
        The tolerance the residual was compared with. By default it is what the arithmetic can
        reach, so it depends on the dtype and, for the inverse, on the condition number.
    loss_history : torch.Tensor
        The objective the method minimises, one value per iteration (float64, on the CPU); for the
        methods below that have none, the same values as ``residual_history``.
    residual_history : torch.Tensor
        One value per iteration (float64, on the CPU): the true residual after it for the
        inverse, the solves, the gradient methods, the truncated and Jacobi methods; for methods
        built from building blocks, each block's own measure of progress — ``1 - tr(X^H X) / n``
        before a Newton–Schulz step, the change of a QDWH step, the largest cosine of a Jacobi
        sweep run inside another method, the coupling a divide-and-conquer level neglected — with
        the last value replaced by the true final residual. For a batch, the largest over the
        members at that iteration.
    wall_time : float
        Seconds spent in the solve.
    """

    solution: Any
    method: str
    iterations: int
    converged: bool
    residual: float
    tol: float
    loss_history: torch.Tensor
    residual_history: torch.Tensor
    wall_time: float

    def __repr__(self) -> str:
        return (
            f"Result(method={self.method!r}, iterations={self.iterations}, converged={self.converged}, "
            f"residual={self.residual:.3e}, tol={self.tol:.1e}, wall_time={self.wall_time:.4f})"
        )


class Recorder:
    """Collects per-iteration loss and residual, then builds the :class:`Result`.

    Histories are stored as Python floats while iterating and turned into tensors once at the end.
    """

    def __init__(self, op: str, method: str) -> None:
        self.op = op
        self.method = method
        self.losses: list[float] = []
        self.residuals: list[float] = []
        self._t0 = time.perf_counter()

    def record(self, loss: float | torch.Tensor, residual: float | torch.Tensor) -> None:
        self.losses.append(float(loss))
        self.residuals.append(float(residual))

    def steps(self) -> int:
        """Iterations recorded so far."""
        return len(self.residuals)

    def final(self, residual: float | torch.Tensor) -> None:
        """Replace the last iteration's residual by the true one, recomputed from the answer (the
        building blocks record their own measure of progress as they go)."""
        if self.residuals:
            self.residuals[-1] = float(residual)

    def absorb(self, members: list["Recorder"]) -> None:
        """Merge the histories of a batch solved one member at a time: entry ``k`` is the largest
        over the members, a member that stopped early contributing its last value."""
        length = max((len(r.residuals) for r in members), default=0)
        for k in range(length):
            self.losses.append(max(r.losses[min(k, len(r.losses) - 1)] for r in members if r.losses))
            self.residuals.append(max(r.residuals[min(k, len(r.residuals) - 1)] for r in members if r.residuals))

    def finish(
        self,
        solution: Any,
        *,
        converged: bool,
        residual: float,
        tol: float,
        iterations: int,
        warn: bool = True,
        detail: str = "",
        why: str = "",
    ) -> Result:
        wall = time.perf_counter() - self._t0
        if not converged and warn:
            if not why:
                why = failure(residual, tol)
            warnings.warn(
                ConvergenceWarning(
                    f"{self.op} (method={self.method!r}) did not converge{detail} in {iterations} "
                    f"iterations: {why}"
                ),
                stacklevel=caller_stacklevel(),
            )
        return Result(
            solution=solution,
            method=self.method,
            iterations=iterations,
            converged=bool(converged),
            residual=float(residual),
            tol=float(tol),
            loss_history=torch.tensor(self.losses, dtype=torch.float64),
            residual_history=torch.tensor(self.residuals, dtype=torch.float64),
            wall_time=wall,
        )
