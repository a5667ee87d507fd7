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


class SingularMatrixError(torch.linalg.LinAlgError, ValueError):
    """Raised when a matrix that must be invertible is singular to working precision.

    Singular to working precision means ``cond(A) u >= 1`` (``u`` the unit roundoff of the dtype,
    ``cond`` the 2-norm condition number, of ``A`` with its columns scaled by powers of two when
    their scales differ by more than ``2^10``: the inverse of ``diag(1e200, 1, 1e-100)`` is exact):
    no inverse computed in that precision has a correct digit. It is detected as a condition number
    ``||A||_2 ||X||_2`` of at least ``1/u`` for the computed inverse ``X``, or as a Newton–Schulz residual ``||I - A X||_F`` that does not fall below
    1/2 in the steps any ``cond(A) < 1/u`` needs (or, for CGLS, a least-squares residual orthogonal
    to the range of ``A``: no solution exists).

    A :class:`torch.linalg.LinAlgError`, like the error ``torch.linalg.inv`` and
    ``torch.linalg.solve`` raise, so code that catches torch's error catches it after the swap; and
    a ``ValueError``, as in earlier versions of gdlinalg."""

    def __init__(self, message: str) -> None:
        super().__init__(f"{message}. For a least-squares or minimum-norm answer use gdlinalg.pinv "
                         "(or torch.linalg.lstsq)")


def check_matrix(A: object, name: str = "A", *, square: bool = False, finite: bool = True) -> torch.Tensor:
    """Check that ``A`` is a finite (batch of) matrix of a supported dtype and return it.

    ``finite=False`` leaves the entries to the caller (a Hermitian input is checked only on the
    triangle that is read, by :func:`check_hermitian_input`)."""
    if not isinstance(A, torch.Tensor):
        raise TypeError(f"expected {name} to be a torch.Tensor, got {type(A).__name__}")
    if A.layout != torch.strided:
        raise ValueError(f"expected {name} to be a dense (strided) tensor, got layout {A.layout}; "
                         f"convert it with {name}.to_dense()")
    if A.device.type == "meta":
        raise ValueError(f"expected {name} to hold data, got a tensor on the meta device")
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
    if finite and not all_finite(A):
        raise ValueError(f"expected {name} to have finite entries, got NaN or Inf")
    return A


def check_rank_k(A: torch.Tensor, k: int) -> int:
    """Check the number of requested singular/eigen pairs against the matrix size."""
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"expected k to be an int, got {type(k).__name__}")
    limit = min(A.shape[-2], A.shape[-1])
    if not 1 <= k <= limit:
        raise ValueError(f"expected 1 <= k <= {limit} for a matrix of shape {tuple(A.shape)}, got k={k}")
    return k


def check_hermitian_input(A: torch.Tensor, UPLO: str, name: str = "A") -> torch.Tensor:
    """Build the Hermitian matrix that ``torch.linalg.eigh`` reads from one triangle of ``A``.

    ``UPLO`` is ``'L'`` or ``'U'`` in either case, as torch accepts; only the triangle that is read
    must be finite (the other may hold anything, as for LAPACK)."""
    if not isinstance(UPLO, str) or UPLO.upper() not in ("L", "U"):
        raise ValueError(f"expected UPLO to be 'L' or 'U', got {UPLO!r}")
    # Like LAPACK, only one triangle is read; the other is implied by symmetry.
    tri = torch.tril(A) if UPLO.upper() == "L" else torch.triu(A)
    if not all_finite(tri):
        raise ValueError(f"expected the {'lower' if UPLO.upper() == 'L' else 'upper'} triangle of {name} "
                         "(the one that is read) to have finite entries, got NaN or Inf")
    diag = torch.diagonal(tri, dim1=-2, dim2=-1).real
    full = tri + tri.mH
    full.diagonal(dim1=-2, dim2=-1).copy_(diag.to(A.dtype))
    return full


def real_dtype(dtype: torch.dtype) -> torch.dtype:
    """The real dtype of the same precision (float32 for complex64, ...)."""
    return torch.empty((), dtype=dtype).real.dtype


def check_method(method: str, methods: tuple[str, ...], op: str) -> str:
    if method not in methods:
        raise ValueError(f"unknown method {method!r} for {op}: expected one of {', '.join(methods)}")
    return method
