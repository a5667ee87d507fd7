"""What a method kernel hands back to the public wrapper."""

from __future__ import annotations

from typing import Any, NamedTuple


class Outcome(NamedTuple):
    """Raw output of a method kernel.

    ``solution`` has the form the public function returns (tensor or named tuple, reduced SVD);
    ``residual`` is the final *true* residual (largest over a batch) and ``tol`` the tolerance
    ``converged`` was judged against.
    """

    solution: Any
    converged: bool
    residual: float
    iterations: int
    tol: float
