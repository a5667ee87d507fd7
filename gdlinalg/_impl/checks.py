"""Input validation shared by every public function.

Every check raises a ``ValueError`` subclass whose message names the problem and the offending
shape or dtype, so that bad input never turns into a silent wrong answer.
"""

from __future__ import annotations

import torch

SUPPORTED_DTYPES = (torch.float32, torch.float64, torch.complex64, torch.complex128)


def all_finite(A: torch.Tensor) -> bool:
    """Whether every entry of ``A`` (real and imaginary parts) is finite.

    The smallest and largest entries are found in one reduction, and both are finite exactly when
    every entry is: NaN propagates through the minimum and maximum, and an infinity is one of them.
    (A quarter of the time of ``isfinite(A).all()``, which writes a boolean copy of ``A``.)"""
    if A.numel() == 0:
        return True
    lo, hi = torch.aminmax((torch.view_as_real(A.resolve_conj()) if A.is_complex() else A).detach())
    return bool(torch.isfinite(lo) & torch.isfinite(hi))


class SingularMatrixError(ValueError):
    """Raised when a matrix that must be invertible is numerically singular."""


def check_matrix(A: object, name: str = "A", *, square: bool = False) -> torch.Tensor:
    """Check that ``A`` is a finite (batch of) matrix of a supported dtype and return it."""
    if not isinstance(A, torch.Tensor):
        raise TypeError(f"expected {name} to be a torch.Tensor, got {type(A).__name__}")
    if A.dim() < 2:
        raise ValueError(
            f"expected {name} to have at least 2 dimensions (a matrix or a batch of matrices), "
            f"got shape {tuple(A.shape)}"
        )
    if A.dtype not in SUPPORTED_DTYPES:
        raise ValueError(
            f"unsupported dtype {A.dtype} for {name}: expected one of "
            "float32, float64, complex64, complex128"
        )
    if square and A.shape[-1] != A.shape[-2]:
        raise ValueError(f"expected {name} to be a square matrix, got shape {tuple(A.shape)}")
    if not all_finite(A):
        raise ValueError(f"{name} contains NaN or Inf entries")
    return A


def check_rank_k(A: torch.Tensor, k: int) -> int:
    """Check the number of requested singular/eigen pairs against the matrix size."""
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"expected k to be an int, got {type(k).__name__}")
    limit = min(A.shape[-2], A.shape[-1])
    if not 1 <= k <= limit:
        raise ValueError(f"expected 1 <= k <= {limit} for a matrix of shape {tuple(A.shape)}, got k={k}")
    return k


def check_hermitian_input(A: torch.Tensor, UPLO: str) -> torch.Tensor:
    """Build the Hermitian matrix that ``torch.linalg.eigh`` reads from one triangle of ``A``."""
    if UPLO not in ("L", "U"):
        raise ValueError(f"expected UPLO to be 'L' or 'U', got {UPLO!r}")
    # Like LAPACK, only one triangle is read; the other is implied by symmetry.
    tri = torch.tril(A) if UPLO == "L" else torch.triu(A)
    diag = torch.diagonal(tri, dim1=-2, dim2=-1).real
    full = tri + tri.mH
    full.diagonal(dim1=-2, dim2=-1).copy_(diag.to(A.dtype))
    return full


def real_dtype(dtype: torch.dtype) -> torch.dtype:
    """The real dtype of the same precision (float32 for complex64, ...)."""
    return torch.empty((), dtype=dtype).real.dtype


def eps(dtype: torch.dtype) -> float:
    """Unit roundoff of ``dtype`` (of its real part for complex dtypes)."""
    return torch.finfo(real_dtype(dtype)).eps


def check_method(method: str, methods: tuple[str, ...], op: str) -> str:
    if method not in methods:
        raise ValueError(f"unknown method {method!r} for {op}: expected one of {', '.join(methods)}")
    return method
