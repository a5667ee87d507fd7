"""Methods: Brockett ascent on Stiefel manifolds: exactly orthonormal factors, compared with
torch.linalg."""

import pytest
import torch

import gdlinalg
from gdlinalg import matrices
from gdlinalg._impl import residuals

DTYPES = [torch.float32, torch.float64, torch.complex64, torch.complex128]
# float32 stops near 100 eps (1.2e-5) by default.
TOL = {torch.float32: 5e-5, torch.complex64: 5e-5, torch.float64: 1e-10, torch.complex128: 1e-10}
ORTH = {torch.float32: 1e-5, torch.complex64: 1e-5, torch.float64: 1e-13, torch.complex128: 1e-13}


def _aligned_error(U, Uref):
    # Columns are defined up to a phase; align each column before comparing.
    c = (Uref.conj() * U).sum(dim=-2)
    return (U - Uref * (c / c.abs()).unsqueeze(-2)).abs().max()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(6, 4), (4, 6)])
def test_svd(shape, dtype):
    A = matrices.with_singular_values(*shape, [4.0, 3.0, 2.0, 1.0], seed=11, dtype=dtype)
    before = A.clone()
    res = gdlinalg.svd_result(A, full_matrices=False, method="stiefel")
    assert torch.equal(A, before)
    U, S, Vh = res.solution
    assert res.converged and res.residual < TOL[dtype]
    assert residuals.orthogonality(U) < ORTH[dtype] and residuals.orthogonality(Vh.mH) < ORTH[dtype]
    torch.testing.assert_close(S, torch.linalg.svdvals(A), rtol=0, atol=TOL[dtype])
    Uref, _, Vhref = torch.linalg.svd(A, full_matrices=False)
    assert _aligned_error(U, Uref) < 1e3 * TOL[dtype]
    assert S.dtype == torch.empty(0, dtype=dtype).real.dtype and bool((S >= 0).all())


def test_svd_float64_reaches_1e12():
    A = matrices.with_singular_values(6, 4, [2.0, 1.5, 1.0, 0.5], seed=12)
    res = gdlinalg.svd_result(A, full_matrices=False, method="stiefel")
    assert res.residual < 1e-12 and res.iterations < 1000


def test_svd_batched_and_full_matrices():
    A = torch.randn(2, 3, 5, 3, generator=torch.Generator().manual_seed(13), dtype=torch.float64)
    U, S, Vh = gdlinalg.svd(A, method="stiefel")
    assert U.shape == (2, 3, 5, 5) and Vh.shape == (2, 3, 3, 3)
    torch.testing.assert_close(S, torch.linalg.svdvals(A), rtol=0, atol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_eigh(dtype):
    w_true = torch.tensor([-3.0, -1.0, 0.5, 2.0, 4.0], dtype=torch.float64)
    A = matrices.random_symmetric(5, eigenvalues=w_true, seed=14, dtype=dtype)
    before = A.clone()
    res = gdlinalg.eigh_result(A, method="stiefel")
    assert torch.equal(A, before)
    w, V = res.solution
    assert res.converged and res.residual < TOL[dtype]
    torch.testing.assert_close(w.double(), w_true, rtol=0, atol=10 * TOL[dtype])
    assert residuals.orthogonality(V) < ORTH[dtype]


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
@pytest.mark.parametrize("largest", [True, False])
def test_truncated_eigh(dtype, largest):
    w_true = torch.tensor([-5.0, -1.0, 0.5, 2.0, 3.0, 6.0], dtype=torch.float64)
    A = matrices.random_symmetric(6, eigenvalues=w_true, seed=15, dtype=dtype)
    w, V = gdlinalg.truncated_eigh(A, 2, largest=largest, method="stiefel")
    expected = torch.tensor([6.0, 3.0] if largest else [-5.0, -1.0], dtype=torch.float64)
    torch.testing.assert_close(w, expected, rtol=0, atol=1e-10)
    assert V.shape == (6, 2) and residuals.orthogonality(V) < 1e-13


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_truncated_svd(dtype):
    s = 0.7 ** torch.arange(8.0)
    A = matrices.with_singular_values(12, 8, s, seed=16, dtype=dtype)
    res = gdlinalg.truncated_svd_result(A, 3, method="stiefel")
    U, S, Vh = res.solution
    assert res.converged and U.shape == (12, 3) and Vh.shape == (3, 8)
    torch.testing.assert_close(S, s[:3].to(dtype), rtol=0, atol=TOL[dtype])


def test_tol_and_max_iter():
    A = matrices.close_singular_values(6, 4, gap=1e-2, seed=17)
    res = gdlinalg.svd_result(A, method="stiefel", tol=1e-4)
    assert res.converged and res.residual <= 1e-4 and res.tol == 1e-4
    with pytest.warns(gdlinalg.ConvergenceWarning):
        res = gdlinalg.svd_result(A, method="stiefel", max_iter=5)
    assert res.iterations == 5 and not res.converged
    U = res.solution.U
    assert residuals.orthogonality(U) < 1e-13  # orthonormal at every iterate, not only at the end
