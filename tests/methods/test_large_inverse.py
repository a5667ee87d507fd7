"""Methods: the large-matrix routes of ``inv`` and ``solve`` (n >= 256): the Gram start by recursive
Schur complements, its fallback to the scaled start, and the single-precision preconditioner of the
solve.

The contract is the one of ``tests/contract/test_adversarial.py``: within 20 times torch.linalg's
error, measured the same way, or a floor of ``50 sqrt(n) u``; ``converged`` and no warning.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch

import gdlinalg
from gdlinalg import matrices
from gdlinalg._impl import schur

WIDE = {torch.float32: torch.float64, torch.complex64: torch.complex128}


def unit_roundoff(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).eps / 2


def floor(n: int, dtype: torch.dtype) -> float:
    return 50 * math.sqrt(n) * unit_roundoff(dtype)


def inverse_error(A: torch.Tensor, X: torch.Tensor) -> float:
    w = WIDE.get(A.dtype, A.dtype)
    A, X = A.to(w), X.to(w)
    n = A.shape[-1]
    return float(torch.linalg.matrix_norm(torch.eye(n, dtype=w) - A @ X).max()) / math.sqrt(n)


def backward_error(A: torch.Tensor, x: torch.Tensor, b: torch.Tensor) -> float:
    w = WIDE.get(A.dtype, A.dtype)
    A, x, b = A.to(w), x.to(w), b.to(w)
    r = torch.linalg.vector_norm(A @ x - b, dim=-2)
    scale = torch.linalg.matrix_norm(A, ord=2).unsqueeze(-1) * torch.linalg.vector_norm(x, dim=-2)
    return float((r / (scale + torch.linalg.vector_norm(b, dim=-2))).max())


CASES = [(dt, k) for dt in (torch.float64, torch.complex128) for k in (1.0, 1e3, 1e7, 1e11)] + \
        [(dt, k) for dt in (torch.float32, torch.complex64) for k in (1.0, 1e2, 1e4)]


@pytest.mark.parametrize("dtype,cond", CASES)
def test_large_inverse_and_solve_match_torch(dtype, cond):
    n = 260
    A = matrices.with_condition_number(n, n, cond, seed=int(math.log10(cond)) + 1, dtype=dtype)
    b = torch.randn(n, 2, dtype=dtype, generator=torch.Generator().manual_seed(5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inv = gdlinalg.inv_result(A)
        sol = gdlinalg.solve_result(A, b)
    assert inv.converged and sol.converged
    assert inverse_error(A, inv.solution) <= 20 * max(inverse_error(A, torch.linalg.inv(A)), floor(n, dtype))
    assert backward_error(A, sol.solution, b) <= 20 * max(backward_error(A, torch.linalg.solve(A, b), b),
                                                          floor(n, dtype))


def test_gram_start_skips_the_doubling_phase():
    # cond 1e3: the start is good to about cond^2 u = 1e-10, so the quadratic phase needs 1-3 steps
    # where the scaled start needs about log2(cond^2) = 20 doublings.
    A = matrices.with_condition_number(300, 300, 1e3, seed=2)
    assert gdlinalg.inv_result(A).iterations <= 3


def test_large_batch_with_an_ill_conditioned_member_is_accurate_member_by_member():
    n = 256
    A = torch.stack([matrices.with_condition_number(n, n, 10.0, seed=1),
                     matrices.with_condition_number(n, n, 1e10, seed=2)])
    b = torch.randn(2, n, 1, dtype=A.dtype, generator=torch.Generator().manual_seed(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        X = gdlinalg.inv(A)
        x = gdlinalg.solve(A, b)
    for i in range(2):
        assert inverse_error(A[i], X[i]) <= 20 * max(inverse_error(A[i], torch.linalg.inv(A[i])), floor(n, A.dtype))
        assert backward_error(A[i], x[i], b[i]) <= 20 * max(
            backward_error(A[i], torch.linalg.solve(A[i], b[i]), b[i]), floor(n, A.dtype))


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_large_singular_matrix_raises(dtype):
    A = matrices.with_condition_number(256, 256, 10.0, seed=1, dtype=dtype)
    A[:, -1] = A[:, 0]
    with pytest.raises(gdlinalg.SingularMatrixError, match="exceeds 1/u"):
        gdlinalg.inv(A)
    with pytest.raises(gdlinalg.SingularMatrixError, match="exceeds 1/u"):
        gdlinalg.solve(A, torch.ones(256, 1, dtype=dtype))


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128, torch.float32])
@pytest.mark.parametrize("n", [1, 7, 64, 65, 200])
def test_hpd_inverse_by_schur_complements(dtype, n):
    # Leaf sizes and odd splits; cond(M) = 1e4 (1e2 in single precision), error ~ cond(M) u.
    cond = 1e2 if dtype == torch.float32 else 1e4
    G = matrices.with_condition_number(n, n, math.sqrt(cond), seed=n, dtype=dtype)
    M = (G.mH @ G).unsqueeze(0)
    X = schur.hpd_inverse(M)[0]
    err = float(torch.linalg.matrix_norm(torch.eye(n, dtype=dtype) - M[0] @ X))
    assert err <= 100 * math.sqrt(n) * cond * unit_roundoff(dtype)
    assert torch.equal(X, X.mH)  # exactly Hermitian, as the inverse of a Hermitian matrix
