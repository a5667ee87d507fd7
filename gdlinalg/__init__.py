"""gdlinalg: the classic matrix operations computed by gradient methods you can watch converge.

The functions mirror :mod:`torch.linalg` (names, argument order, batching, dtypes, return types),
so ``gdlinalg.svd`` can replace ``torch.linalg.svd``. Each has a ``*_result`` twin that returns a
:class:`Result` with the solution, the per-iteration loss and true residual, the iteration count,
the converged flag, the wall time and the method used.

Test matrices live in :mod:`gdlinalg.matrices` and plotting helpers in :mod:`gdlinalg.plotting`.
"""

from . import matrices, plotting
from ._impl.api import (
    eigh,
    eigh_result,
    inv,
    inv_result,
    pinv,
    pinv_result,
    polar,
    polar_result,
    solve,
    solve_result,
    svd,
    svd_result,
    svdvals,
    truncated_eigh,
    truncated_eigh_result,
    truncated_svd,
    truncated_svd_result,
)
from ._impl.checks import SingularMatrixError
from ._impl.dispatch import methods, options
from ._impl.result import ConvergenceWarning, Result

__version__ = "0.1.0"

__all__ = [
    "inv",
    "solve",
    "pinv",
    "polar",
    "svd",
    "svdvals",
    "eigh",
    "truncated_svd",
    "truncated_eigh",
    "inv_result",
    "solve_result",
    "pinv_result",
    "polar_result",
    "svd_result",
    "eigh_result",
    "truncated_svd_result",
    "truncated_eigh_result",
    "methods",
    "options",
    "Result",
    "ConvergenceWarning",
    "SingularMatrixError",
]
