"""Methods: optimizer-driven inverse, solve, pinv and SVD against torch.linalg."""

import pytest
import torch

import gdlinalg
from gdlinalg import matrices

DTYPES = [torch.float32, torch.float64, torch.complex64, torch.complex128]
# Residual each dtype reaches on a cond-10 matrix (float32 floors near cond * eps).
TOL = {torch.float32: 1e-5, torch.complex64: 1e-5, torch.float64: 1e-12, torch.complex128: 1e-12}


@pytest.mark.parametrize("dtype", DTYPES)
def test_inv_default_lbfgs(dtype):
    A = matrices.with_condition_number(8, 8, 10.0, seed=1, dtype=dtype)
    before = A.clone()
    res = gdlinalg.inv_result(A, method="gradient")
    assert torch.equal(A, before)
    assert res.converged and res.residual < TOL[dtype]
    assert res.solution.dtype == dtype
    assert len(res.residual_history) == res.iterations
    torch.testing.assert_close(res.solution, torch.linalg.inv(A), rtol=0, atol=20 * TOL[dtype])


def test_inv_float64_reaches_1e12():
    # L-BFGS out of the box stalls near a loss of 1e-9; the rescaled restarts get past it.
    A = matrices.with_condition_number(8, 8, 10.0, seed=2)
    res = gdlinalg.inv_result(A, method="gradient")
    assert res.residual < 1e-12


@pytest.mark.parametrize("loss", ["right", "symmetric"])
def test_inv_loss_variants(loss):
    A = matrices.random_spd(5, cond=5.0, seed=3)
    res = gdlinalg.inv_result(A, method="gradient", loss=loss, tol=1e-10)
    assert res.converged and res.residual <= 1e-10


@pytest.mark.parametrize(
    "optimizer, kwargs",
    [(torch.optim.Adam, {"lr": 1e-2}), (torch.optim.SGD, {"lr": 1.0, "momentum": 0.9})],
)
def test_inv_other_optimizers(optimizer, kwargs):
    A = matrices.random_spd(4, cond=3.0, seed=4)
    res = gdlinalg.inv_result(A, method="gradient", optimizer=optimizer, optimizer_kwargs=kwargs, tol=1e-8)
    assert res.converged and res.residual <= 1e-8


def test_inv_batched_gets_per_matrix_gradients():
    A = matrices.with_condition_number(4, 4, 5.0, seed=5)
    batch = torch.stack([A, 10 * A, matrices.random_spd(4, seed=6)]).reshape(3, 1, 4, 4)
    res = gdlinalg.inv_result(batch, method="gradient")
    assert res.converged and res.solution.shape == (3, 1, 4, 4)
    torch.testing.assert_close(res.solution, torch.linalg.inv(batch), rtol=1e-9, atol=1e-9)


def test_inv_nonconvergence_warns():
    A = matrices.with_condition_number(6, 6, 100.0)
    with pytest.warns(gdlinalg.ConvergenceWarning):
        res = gdlinalg.inv_result(A, method="gradient", max_iter=3)
    assert not res.converged and res.iterations == 3


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
@pytest.mark.parametrize("k", [1, 3])
def test_solve(dtype, k):
    A = matrices.with_condition_number(6, 6, 10.0, seed=7, dtype=dtype)
    B = torch.randn(6, k, generator=torch.Generator().manual_seed(8), dtype=dtype)
    A0, B0 = A.clone(), B.clone()
    res = gdlinalg.solve_result(A, B, method="gradient")
    assert torch.equal(A, A0) and torch.equal(B, B0)
    assert res.converged and res.residual < 1e-12
    torch.testing.assert_close(res.solution, torch.linalg.solve(A, B), rtol=1e-10, atol=1e-10)


def test_solve_vector_float32():
    A = matrices.random_spd(5, cond=4.0, dtype=torch.float32)
    b = torch.ones(5)
    x = gdlinalg.solve(A, b, method="gradient")
    torch.testing.assert_close(x, torch.linalg.solve(A, b), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
@pytest.mark.parametrize("shape, rank", [((6, 4), 4), ((4, 6), 4), ((6, 4), 2), ((5, 5), 3)])
def test_pinv_is_minimum_norm(shape, rank, dtype):
    A = matrices.rank_deficient(*shape, rank, seed=9, dtype=dtype)
    before = A.clone()
    res = gdlinalg.pinv_result(A, method="gradient")
    assert torch.equal(A, before)
    assert res.converged and res.residual < 1e-12
    torch.testing.assert_close(res.solution, torch.linalg.pinv(A), rtol=0, atol=1e-10)


def test_pinv_hermitian_float32():
    A = matrices.random_symmetric(5, eigenvalues=[2.0, 1.0, -1.0, 0.0, 0.0], dtype=torch.float32)
    X = gdlinalg.pinv(A, hermitian=True, method="gradient")
    assert torch.equal(X, X.mH)
    torch.testing.assert_close(X, torch.linalg.pinv(A, hermitian=True), rtol=0, atol=1e-4)


@pytest.mark.parametrize(
    "shape, dtype", [((5, 3), torch.float32), ((3, 5), torch.float64), ((5, 3), torch.complex128)]
)
def test_svd_penalty_loss(shape, dtype):
    s = torch.tensor([3.0, 2.0, 1.0])
    A = matrices.with_singular_values(*shape, s, seed=10, dtype=dtype)
    tol = 1e-5 if dtype == torch.float32 else 1e-9
    res = gdlinalg.svd_result(A, full_matrices=False, method="gradient", tol=tol)
    U, S, Vh = res.solution
    assert res.converged and res.residual <= tol
    assert U.shape == (shape[0], 3) and Vh.shape == (3, shape[1]) and U.dtype == dtype
    # The penalty only approximately orthonormalises U and V, so S is less accurate than U S V^H:
    # by Weyl's inequality and the polar factors of U and V, |S_i - s_i| is at most the
    # reconstruction error plus s_1 times the loss of orthogonality of U and V (plus rounding).
    # The bound comes from the answer's own state, not from one machine's numbers.
    def loss_of_orthogonality(Q):
        Q = Q.to(torch.complex128 if Q.is_complex() else torch.float64)
        return float(torch.linalg.matrix_norm(Q.mH @ Q - torch.eye(Q.shape[-1], dtype=Q.dtype), 2))

    s64 = s.double()
    bound = 2 * (res.residual * float(s64.norm()) + float(s64[0]) * (loss_of_orthogonality(U) + loss_of_orthogonality(Vh.mH)))
    bound += 10 * torch.finfo(S.dtype).eps * float(s64[0])
    assert float((S.double() - s64).abs().max()) <= bound


def test_bad_optimizer():
    with pytest.raises(TypeError, match="Optimizer"):
        gdlinalg.inv(torch.eye(2, dtype=torch.float64), method="gradient", optimizer=object)
    with pytest.raises(ValueError, match="loss"):
        gdlinalg.inv(torch.eye(2, dtype=torch.float64), method="gradient", loss="up")
