"""What the arithmetic can reach: the tolerances ``converged`` is judged against.

A residual is only a failure if it is larger than rounding errors alone would make it. For a
backward stable factorization that is a small multiple of the unit roundoff ``u`` (half the machine
epsilon: ``2**-53`` in float64, ``2**-24`` in float32); for an inverse the residual ``I - A X`` of
even the exactly rounded inverse is of order ``cond(A) u``, so that tolerance scales with the
condition number. The constants leave room for the sqrt(n) growth of rounding errors in sums of
``n`` terms and for the difference between a method and LAPACK, never for a method that stopped
early: such a method is off by orders of magnitude, not by a factor of ten.
"""

from __future__ import annotations

import math

import torch

from .checks import real_dtype


#: The precision ladder: the wider dtype a single-precision computation is carried out in
#: (Jacobi rotations, residuals of refinement), and the narrower one a double-precision
#: computation may start in (the first phase of the mixed-precision inverse).
WIDER = {torch.float32: torch.float64, torch.complex64: torch.complex128}
NARROWER = {wide: narrow for narrow, wide in WIDER.items()}


def unit_roundoff(dtype: torch.dtype) -> float:
    """``u = eps / 2`` of ``dtype`` (of its real part for complex dtypes)."""
    return torch.finfo(real_dtype(dtype)).eps / 2


def machine_epsilon(dtype: torch.dtype) -> float:
    """``eps = 2 u`` of ``dtype`` (of its real part for complex dtypes): the distance from 1 to the
    next number."""
    return torch.finfo(real_dtype(dtype)).eps


def inverse(n: int, kappa: float | torch.Tensor, dtype: torch.dtype) -> float | torch.Tensor:
    """Attainable ``||I - A X||_F / sqrt(n)`` for a matrix of condition number ``kappa``:
    ``u (2 sqrt(n) kappa + 4 n)``. The rounding error of the product ``A X`` alone is of order
    ``sqrt(n) kappa u``; measured on random matrices, Newton–Schulz reaches 0.06-0.3 ``kappa u``
    (and LAPACK's ``getri`` 0.06-0.5) once ``kappa >= 10``, and a few ``u`` per row below that.
    ``kappa`` may be a tensor (one per member of a batch): the result is then a float64 tensor."""
    if isinstance(kappa, torch.Tensor):
        k = kappa.to(torch.float64)
        k = torch.where(k < 1, torch.ones_like(k), k)        # max(kappa, 1), nan stays nan
        return (2 * math.sqrt(max(n, 1)) * k + 4 * max(n, 1)) * unit_roundoff(dtype)
    return (2 * math.sqrt(max(n, 1)) * max(kappa, 1.0) + 4 * max(n, 1)) * unit_roundoff(dtype)


def backward(n: int, dtype: torch.dtype) -> float:
    """Attainable normwise backward error (of a solve, a factorization or an orthogonality
    test): ``sqrt(n)`` rounding errors of size ``u``, with room to spare."""
    return 50 * math.sqrt(max(n, 1)) * unit_roundoff(dtype)
