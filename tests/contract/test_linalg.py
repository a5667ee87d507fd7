"""Contract: the default methods of every public function against torch.linalg, per dtype and shape
class.

Tolerances follow the package's accuracy contract (issue 2): on well-conditioned input, float64
results are correct to about 1e-12 and float32/complex64 results to about 1e-6 (1e-5 for the SVD
and the pseudo-inverse). The float32 matrices use cond <= 10, because any method, LAPACK
included, loses about cond * eps.
"""

from __future__ import annotations

import math

import pytest
import torch

import gdlinalg
from gdlinalg import matrices

REAL = [torch.float32, torch.float64]
ALL = [torch.float32, torch.float64, torch.complex64, torch.complex128]

# Elementwise tolerances per dtype (contract of issue 2).
TOL = {
    torch.float64: 1.5e-12,
    torch.complex128: 1.5e-12,
    torch.float32: 1.5e-6,
    torch.complex64: 1.5e-6,
}
TOL_SVD = {
    torch.float64: 1e-11,
    torch.complex128: 1e-11,
    torch.float32: 1e-5,
    torch.complex64: 1e-5,
}
ORTH = {
    torch.float64: 1e-12,
    torch.complex128: 1e-12,
    torch.float32: 1e-5,
    torch.complex64: 1e-5,
}


def single(dtype: torch.dtype) -> bool:
    return dtype in (torch.float32, torch.complex64)


def conds(dtype: torch.dtype) -> list[float]:
    return [10.0] if single(dtype) else [10.0, 1e3]


def eye(n: int, like: torch.Tensor) -> torch.Tensor:
    return torch.eye(n, dtype=like.dtype, device=like.device)


def max_abs(X: torch.Tensor) -> float:
    return float(X.abs().max()) if X.numel() else 0.0


def orth_err(Q: torch.Tensor) -> float:
    return max_abs(Q.mH @ Q - eye(Q.shape[-1], Q))


# ------------------------------------------------------------------------------------------
# inv
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ALL)
@pytest.mark.parametrize("n", [1, 2, 5, 40])
def test_inv_matches_identity(dtype, n):
    for cond in conds(dtype):
        A = matrices.with_condition_number(n, n, cond if n > 1 else 1.0, seed=n, dtype=dtype)
        X = gdlinalg.inv(A)
        assert X.dtype == A.dtype and X.shape == A.shape
        tol = TOL[dtype] if single(dtype) or cond <= 10 else TOL[dtype] * (1 + n / 40)
        assert max_abs(A @ X - eye(n, A)) <= tol, (cond, max_abs(A @ X - eye(n, A)))
        ref = torch.linalg.inv(A)
        assert max_abs(X - ref) <= 50 * cond * TOL[dtype] * max_abs(ref)


def test_inv_batched_matches_torch():
    A = torch.stack([matrices.with_condition_number(6, 6, 10.0, seed=s) for s in range(6)]).reshape(2, 3, 6, 6)
    X = gdlinalg.inv(A)
    assert X.shape == (2, 3, 6, 6)
    torch.testing.assert_close(X, torch.linalg.inv(A), rtol=1e-11, atol=1e-12)


def test_inv_result_reports_history():
    A = matrices.with_condition_number(20, 20, 100.0, seed=1)
    res = gdlinalg.inv_result(A)
    assert res.method == "newton_schulz" and res.converged
    assert res.iterations == len(res.residual_history) == len(res.loss_history)
    assert res.residual == pytest.approx(float(res.residual_history.min()))
    assert res.wall_time > 0
    # Quadratic convergence: the last steps at least square the residual (digits double).
    h = res.residual_history
    big = [i for i in range(1, len(h)) if h[i - 1] < 1e-2 and h[i] > 1e-13]
    for i in big:
        assert h[i] <= 10 * h[i - 1] ** 2 * math.sqrt(20) + 1e-13


# ------------------------------------------------------------------------------------------
# solve
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ALL)
@pytest.mark.parametrize("n,k", [(1, 1), (4, 1), (30, 3)])
@pytest.mark.parametrize("method", ["cgls", "newton_schulz"])
def test_solve_residual(dtype, n, k, method):
    for cond in conds(dtype):
        A = matrices.with_condition_number(n, n, cond if n > 1 else 1.0, seed=2 * n, dtype=dtype)
        B = matrices.with_condition_number(n, k, 1.0, seed=7, dtype=dtype)
        X = gdlinalg.solve(A, B, method=method)
        assert X.shape == B.shape and X.dtype == dtype
        assert max_abs(A @ X - B) <= TOL[dtype] * max(1.0, cond / 100), (cond, max_abs(A @ X - B))
        ref = torch.linalg.solve(A, B)
        assert max_abs(X - ref) <= 100 * cond * TOL[dtype] * max(1.0, max_abs(ref))


def test_solve_vector_left_right_and_broadcast():
    A = torch.stack([matrices.with_condition_number(5, 5, 10.0, seed=s) for s in range(3)])  # (3, 5, 5)
    b = torch.arange(5, dtype=torch.float64) + 1.0
    torch.testing.assert_close(gdlinalg.solve(A, b), torch.linalg.solve(A, b), rtol=1e-11, atol=1e-12)
    B = torch.randn(2, 1, 5, 4, dtype=torch.float64)
    X = gdlinalg.solve(A, B)
    assert X.shape == (2, 3, 5, 4)
    torch.testing.assert_close(X, torch.linalg.solve(A, B), rtol=1e-11, atol=1e-12)
    C = torch.randn(3, 4, 5, dtype=torch.float64)
    X = gdlinalg.solve(A, C, left=False)
    torch.testing.assert_close(X, torch.linalg.solve(A, C, left=False), rtol=1e-11, atol=1e-12)


# ------------------------------------------------------------------------------------------
# pinv
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ALL)
@pytest.mark.parametrize("shape,rank", [((6, 4), 4), ((4, 6), 4), ((30, 20), 12), ((20, 20), 5), ((8, 8), 8)])
def test_pinv_penrose(dtype, shape, rank):
    m, n = shape
    A = matrices.rank_deficient(m, n, rank, seed=m + n, dtype=dtype)
    X = gdlinalg.pinv(A)
    assert X.shape == (n, m) and X.dtype == dtype
    scale = max_abs(A)
    assert max_abs(A @ X @ A - A) <= TOL_SVD[dtype] * scale
    ref = torch.linalg.pinv(A)
    assert max_abs(X - ref) <= 1e3 * TOL_SVD[dtype] * max_abs(ref)
    # The minimum-norm property: X lives in the row space of A^H (X = X A X).
    assert max_abs(X @ A @ X - X) <= 1e3 * TOL_SVD[dtype] * max_abs(X)


def test_pinv_hermitian():
    A = matrices.random_symmetric(8, seed=3, eigenvalues=torch.tensor([3.0, 2, 1, 0.5, 0, 0, -1, -2]))
    X = gdlinalg.pinv(A, hermitian=True)
    torch.testing.assert_close(X, torch.linalg.pinv(A, hermitian=True), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("method", ["svd", "newton_schulz"])
def test_pinv_rank_deficient_drops_the_null_space(method):
    """Newton–Schulz run on by hand lets the rounding errors in the null space double at every
    step; the package's pseudo-inverse (either method) drops them."""
    A = matrices.rank_deficient(100, 80, 60, seed=0)
    res = gdlinalg.pinv_result(A, method=method)
    ref = torch.linalg.pinv(A)
    assert res.converged
    assert float((res.solution - ref).norm() / ref.norm()) < 1e-10
    X = A.mT / float(torch.linalg.matrix_norm(A, 2)) ** 2
    for _ in range(res.iterations + 60):
        X = 2 * X - X @ A @ X
    assert not bool(torch.isfinite(X).all()) or float((X - ref).norm() / ref.norm()) > 1e-3


# ------------------------------------------------------------------------------------------
# svd / svdvals
# ------------------------------------------------------------------------------------------


def assert_svd(A, U, S, Vh, dtype, *, full):
    m, n = A.shape[-2:]
    k = min(m, n)
    assert S.dtype == torch.empty((), dtype=dtype).real.dtype
    assert U.shape[-2:] == ((m, m) if full else (m, k))
    assert Vh.shape[-2:] == ((n, n) if full else (k, n))
    assert bool((S >= 0).all())
    assert bool((S[..., :-1] >= S[..., 1:]).all())
    Uk, Vhk = U[..., :k], Vh[..., :k, :]
    R = (Uk * S.to(dtype).unsqueeze(-2)) @ Vhk - A
    assert max_abs(R) <= TOL_SVD[dtype] * max_abs(A)
    assert orth_err(U) <= ORTH[dtype]
    assert orth_err(Vh.mH) <= ORTH[dtype]
    torch.testing.assert_close(S, torch.linalg.svdvals(A), rtol=0, atol=TOL_SVD[dtype] * max_abs(A) * 10)


@pytest.mark.parametrize("dtype", ALL)
@pytest.mark.parametrize("shape", [(1, 1), (5, 4), (4, 5), (7, 7), (3, 9), (20, 13)])
@pytest.mark.parametrize("full", [True, False])
def test_svd(dtype, shape, full):
    m, n = shape
    A = matrices.with_condition_number(m, n, 1e3 if not single(dtype) else 10.0, seed=m * n, dtype=dtype)
    U, S, Vh = gdlinalg.svd(A, full_matrices=full)
    assert_svd(A, U, S, Vh, dtype, full=full)


def test_svd_batched_and_return_type():
    A = torch.randn(2, 3, 6, 4, dtype=torch.float64)
    out = gdlinalg.svd(A, full_matrices=False)
    assert type(out) is type(torch.linalg.svd(A))
    assert out.U.shape == (2, 3, 6, 4) and out.S.shape == (2, 3, 4) and out.Vh.shape == (2, 3, 4, 4)
    assert_svd(A, *out, torch.float64, full=False)
    torch.testing.assert_close(gdlinalg.svdvals(A), torch.linalg.svdvals(A), rtol=1e-12, atol=1e-13)


def subspace_sin(X: torch.Tensor, Y: torch.Tensor) -> float:
    """Largest sine of the principal angles between span(X) and span(Y) (orthonormal columns)."""
    # ||(I - X X^H) Y||_2 is the largest sine, without the cancellation of sqrt(1 - cos^2).
    return float(torch.linalg.matrix_norm(Y - X @ (X.mH @ Y), ord=2))


def test_svd_repeated_singular_values_compared_as_subspaces():
    s = torch.tensor([3.0, 2.0, 2.0, 2.0, 1.0], dtype=torch.float64)
    A = matrices.with_singular_values(8, 5, s, seed=4)
    U, S, Vh = gdlinalg.svd(A, full_matrices=False)
    Ur, Sr, Vhr = torch.linalg.svd(A, full_matrices=False)
    torch.testing.assert_close(S, Sr, rtol=0, atol=1e-13)
    # Singular vectors of a repeated value are defined only as a subspace.
    assert subspace_sin(U[:, 1:4], Ur[:, 1:4]) < 1e-12
    assert subspace_sin(Vh[1:4].mH, Vhr[1:4].mH) < 1e-12
    # Simple singular values: the same vectors up to a joint sign.
    for i in (0, 4):
        sign = torch.sign((U[:, i] * Ur[:, i]).sum())
        torch.testing.assert_close(U[:, i] * sign, Ur[:, i], rtol=0, atol=1e-12)
        torch.testing.assert_close(Vh[i] * sign, Vhr[i], rtol=0, atol=1e-12)


def test_svd_rank_deficient_gives_orthonormal_u():
    A = matrices.rank_deficient(9, 6, 3, seed=5)
    U, S, Vh = gdlinalg.svd(A)
    assert orth_err(U) <= 1e-12 and orth_err(Vh.mH) <= 1e-12
    assert max_abs(U[:, :6] * S @ Vh - A) <= 1e-12 * max_abs(A)
    assert float(S[3:].max()) <= 1e-14 * float(S[0])


# ------------------------------------------------------------------------------------------
# eigh
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ALL)
@pytest.mark.parametrize("n", [1, 2, 7, 24])
@pytest.mark.parametrize("UPLO", ["L", "U"])
def test_eigh(dtype, n, UPLO):
    A = matrices.random_symmetric(n, seed=n, dtype=dtype)
    # Garbage in the triangle that must not be read.
    junk = A.clone()
    if n > 1:
        mask = torch.triu(torch.ones(n, n, dtype=torch.bool), 1) if UPLO == "L" else torch.tril(torch.ones(n, n, dtype=torch.bool), -1)
        junk[mask] = 123.0
    w, V = gdlinalg.eigh(junk, UPLO)
    assert w.dtype == torch.empty((), dtype=dtype).real.dtype
    assert bool((w[:-1] <= w[1:]).all())
    tol = TOL_SVD[dtype]
    assert max_abs(A @ V - V * w.to(dtype)) <= tol * max_abs(A) * max(1, n / 10)
    assert orth_err(V) <= ORTH[dtype] * max(1, n / 10)
    torch.testing.assert_close(w, torch.linalg.eigvalsh(A), rtol=0, atol=tol * max_abs(A) * max(1, n / 10))


def test_eigh_batched_and_return_type():
    A = torch.randn(3, 6, 6, dtype=torch.float64)
    A = A + A.mT
    out = gdlinalg.eigh(A)
    assert type(out) is type(torch.linalg.eigh(A))
    torch.testing.assert_close(out.eigenvalues, torch.linalg.eigvalsh(A), rtol=0, atol=1e-12)


# ------------------------------------------------------------------------------------------
# truncated
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", REAL + [torch.complex128])
def test_truncated_svd(dtype):
    s = 0.7 ** torch.arange(30, dtype=torch.float64)
    A = matrices.with_singular_values(60, 30, s, seed=1, dtype=dtype)
    U, S, Vh = gdlinalg.truncated_svd(A, 5)
    assert U.shape == (60, 5) and S.shape == (5,) and Vh.shape == (5, 30)
    torch.testing.assert_close(S, s[:5].to(S.dtype), rtol=0, atol=TOL_SVD[dtype])
    assert orth_err(U) <= ORTH[dtype] and orth_err(Vh.mH) <= ORTH[dtype]
    Ur, Sr, Vhr = torch.linalg.svd(A, full_matrices=False)
    assert subspace_sin(U, Ur[:, :5]) < (1e-10 if not single(dtype) else 1e-4)


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128, torch.float32])
def test_truncated_eigh(largest, dtype):
    lam = torch.linspace(-3, 5, 40, dtype=torch.float64)
    A = matrices.random_symmetric(40, seed=2, dtype=dtype, eigenvalues=lam)
    w, V = gdlinalg.truncated_eigh(A, 4, largest=largest)
    expect = lam.flip(0)[:4] if largest else lam[:4]
    tol = 1e-10 if not single(dtype) else 1e-4
    torch.testing.assert_close(w, expect.to(w.dtype), rtol=0, atol=tol)
    assert max_abs(A @ V - V * w.to(dtype)) <= tol * 5


# A value repeated far beyond the block of k + 10 vectors (issue 20: sigma_2 = ... = sigma_30
# with k = 6; here sigma_2 = ... = sigma_20 with k = 4), exactly or within a relative spread. Any basis of a repeated value's space is a
# correct answer, so the vectors are compared with torch's as the subspace that holds them.


def _repeated(value_count: int, spread: float, rest: torch.Tensor) -> torch.Tensor:
    cluster = 1 + spread * torch.linspace(1, 0, value_count, dtype=torch.float64)
    return torch.cat([torch.tensor([2.0], dtype=torch.float64), cluster, rest])


def _accept(n: int, dtype: torch.dtype) -> float:
    # The truncated methods' own acceptance, 100 sqrt(n) eps (relative to the largest value).
    return 100 * math.sqrt(n) * torch.finfo(dtype).eps


def _assert_repeated_eigh(A: torch.Tensor, w: torch.Tensor, V: torch.Tensor, k: int, largest: bool, span: int):
    """``(w, V)`` against ``torch.linalg.eigh``: values, residual, orthogonality, and ``V`` inside
    the space of the ``span`` most extreme eigenvectors (which holds the repeated value's)."""
    wide = torch.complex128 if A.is_complex() else torch.float64
    wr, Vr = torch.linalg.eigh(A.to(wide))
    if largest:
        wr, Vr = wr.flip(-1), Vr.flip(-1)
    n = A.shape[-1]
    tol = _accept(n, A.dtype)
    scale = wr.abs().amax(-1, keepdim=True)
    torch.testing.assert_close(w.to(torch.float64), wr[..., :k], rtol=0, atol=float(tol * scale.max()))
    Vw = V.to(wide)
    res = torch.linalg.vector_norm(A.to(wide) @ Vw - Vw * w.to(torch.float64).unsqueeze(-2), dim=-2) / scale
    assert float(res.max()) <= tol
    assert orth_err(Vw) <= tol
    outside = Vw - Vr[..., :span] @ (Vr[..., :span].mH @ Vw)
    assert float(torch.linalg.matrix_norm(outside, ord=2).max()) <= 10 * tol


# (dtype, relative spread): exact, and near but not equal (1e-10 is an exact repeat in single
# precision, 1e-6 a few units of its roundoff).
REPEATS = [(torch.float64, 0.0), (torch.float64, 1e-10), (torch.float64, 1e-6), (torch.float32, 0.0),
           (torch.complex64, 1e-6), (torch.complex128, 0.0), (torch.complex128, 1e-10)]


@pytest.mark.parametrize("dtype,spread", REPEATS)
def test_truncated_svd_value_repeated_beyond_the_block(dtype, spread):
    s = _repeated(19, spread, 0.5 * 0.9 ** torch.arange(30, dtype=torch.float64))
    A = matrices.with_singular_values(80, 50, s, seed=21, dtype=dtype)
    res = gdlinalg.truncated_svd_result(A, 4)
    U, S, Vh = res.solution
    assert res.converged
    wide = torch.complex128 if dtype.is_complex else torch.float64
    Ur, Sr, Vhr = torch.linalg.svd(A.to(wide), full_matrices=False)
    tol = _accept(80, dtype)
    torch.testing.assert_close(S.to(torch.float64), Sr[:4], rtol=0, atol=tol * float(Sr[0]))
    Uw, Vw = U.to(wide), Vh.mH.to(wide)
    resid = torch.linalg.vector_norm(A.to(wide) @ Vw - Uw * S.to(torch.float64), dim=0) / Sr[0]
    assert float(resid.max()) <= tol
    assert orth_err(Uw) <= tol and orth_err(Vw) <= tol
    # Inside the space of the top and the repeated value (20 vectors), as torch computes it.
    assert subspace_sin(Ur[:, :20], Uw) <= 10 * tol and subspace_sin(Vhr[:20].mH, Vw) <= 10 * tol


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("dtype,spread", REPEATS)
def test_truncated_eigh_value_repeated_beyond_the_block(dtype, spread, largest):
    w = _repeated(19, spread, torch.linspace(0, 0.5, 30, dtype=torch.float64))
    A = matrices.random_symmetric(50, seed=22, dtype=dtype, eigenvalues=w if largest else -w)
    res = gdlinalg.truncated_eigh_result(A, 4, largest=largest)
    assert res.converged
    _assert_repeated_eigh(A, *res.solution, 4, largest, 20)


def test_truncated_eigh_smallest_repeated_value_straddling_the_kth():
    # The 4th to the 30th smallest are equal: the k = 5 wanted end inside the repeated value.
    w = torch.cat([torch.tensor([-3.0, -2.5, -2.0]), torch.full((27,), -1.0), torch.linspace(0, 4, 30)]).double()
    A = matrices.random_symmetric(60, seed=23, eigenvalues=w)
    res = gdlinalg.truncated_eigh_result(A, 5, largest=False)
    assert res.converged
    _assert_repeated_eigh(A, *res.solution, 5, False, 30)


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex64])
def test_truncated_batch_with_one_member_repeated_beyond_the_block(dtype):
    rest = torch.linspace(0, 0.5, 30, dtype=torch.float64)
    A = torch.stack([matrices.random_symmetric(50, seed=24, dtype=dtype, eigenvalues=_repeated(19, 0.0, rest)),
                     matrices.random_symmetric(50, seed=25, dtype=dtype,
                                               eigenvalues=torch.linspace(-1, 2, 50, dtype=torch.float64) ** 3)])
    res = gdlinalg.truncated_eigh_result(A, 4)
    assert res.converged
    _assert_repeated_eigh(A[:1], *(t[:1] for t in res.solution), 4, True, 20)
    _assert_repeated_eigh(A[1:], *(t[1:] for t in res.solution), 4, True, 4)
    s = 0.5 * 0.9 ** torch.arange(30, dtype=torch.float64)
    B = torch.stack([matrices.with_singular_values(80, 50, _repeated(19, 0.0, s), seed=26, dtype=dtype),
                     matrices.with_singular_values(80, 50, 0.8 ** torch.arange(50, dtype=torch.float64), seed=27, dtype=dtype)])
    S = gdlinalg.truncated_svd(B, 4).S
    for i in range(2):
        Sr = torch.linalg.svdvals(B[i].to(torch.complex128 if dtype.is_complex else torch.float64))
        torch.testing.assert_close(S[i].to(torch.float64), Sr[:4], rtol=0, atol=_accept(80, dtype) * float(Sr[0]))


# ------------------------------------------------------------------------------------------
# empty, batch, device, autograd, immutability
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ALL)
def test_empty_inputs_match_torch(dtype):
    A = torch.empty(0, 3, 3, dtype=dtype)
    assert gdlinalg.inv(A).shape == torch.linalg.inv(A).shape
    assert gdlinalg.solve(A, torch.empty(0, 3, 2, dtype=dtype)).shape == (0, 3, 2)
    E = torch.empty(4, 0, dtype=dtype)
    assert gdlinalg.pinv(E).shape == torch.linalg.pinv(E).shape
    for full in (True, False):
        ours, ref = gdlinalg.svd(E, full_matrices=full), torch.linalg.svd(E, full_matrices=full)
        assert [t.shape for t in ours] == [t.shape for t in ref]
    Z = torch.empty(0, 0, dtype=dtype)
    assert gdlinalg.inv(Z).shape == (0, 0)
    assert [t.shape for t in gdlinalg.eigh(Z)] == [t.shape for t in torch.linalg.eigh(Z)]
    assert gdlinalg.svdvals(torch.empty(2, 0, 5, dtype=dtype)).shape == (2, 0)


FUNCS = {
    "inv": lambda A: gdlinalg.inv(A),
    "solve": lambda A: gdlinalg.solve(A, torch.ones(A.shape[-1], 2, dtype=A.dtype)),
    "pinv": lambda A: gdlinalg.pinv(A),
    "svd": lambda A: gdlinalg.svd(A),
    "svdvals": lambda A: gdlinalg.svdvals(A),
    "eigh": lambda A: gdlinalg.eigh(A),
    "truncated_svd": lambda A: gdlinalg.truncated_svd(A, 2),
    "truncated_eigh": lambda A: gdlinalg.truncated_eigh(A, 2),
}


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_inputs_not_modified_and_grad_inputs_work(name):
    A = matrices.random_spd(6, cond=10.0, seed=9)
    A_req = A.clone().requires_grad_(True)
    before = A_req.detach().clone()
    out = FUNCS[name](A_req)
    assert torch.equal(A_req.detach(), before)
    tensors = out if isinstance(out, tuple) else (out,)
    # Every output carries the analytic derivative of its operation (tests/contract/test_derivatives.py).
    assert all(t.requires_grad and t.grad_fn is not None for t in tensors)


# ------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------


BAD_SQUARE = ["inv", "solve", "eigh", "truncated_eigh"]


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_rejects_fewer_than_two_dims(name):
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        FUNCS[name](torch.ones(3, dtype=torch.float64))


@pytest.mark.parametrize("name", BAD_SQUARE)
def test_rejects_non_square(name):
    with pytest.raises(ValueError, match="square"):
        FUNCS[name](torch.ones(3, 4, dtype=torch.float64))


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_rejects_non_finite(name, bad):
    A = matrices.random_spd(4, seed=1)
    A[1, 2] = bad
    A[2, 1] = bad
    with pytest.raises(ValueError, match="NaN or Inf"):
        FUNCS[name](A)


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("part", ["real", "imag"])
def test_rejects_non_finite_in_one_member_of_a_complex_batch(name, part):
    A = matrices.random_spd(5, seed=2, dtype=torch.complex128).expand(3, 5, 5).clone()
    bad = complex(float("nan"), 0) if part == "real" else complex(0, float("inf"))
    A[2, 3, 3] = bad
    with pytest.raises(ValueError, match="NaN or Inf"):
        FUNCS[name](A)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_solve_rejects_non_finite_right_hand_side(bad):
    b = torch.ones(4, dtype=torch.float64)
    b[3] = bad
    with pytest.raises(ValueError, match="expected B to have finite entries"):
        gdlinalg.solve(torch.eye(4, dtype=torch.float64), b)


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_lazily_conjugated_input_is_the_conjugated_matrix(name):
    # A.conj() only sets a bit; the answer must be that of the materialised conjugate.
    A = matrices.random_spd(6, cond=10.0, seed=4, dtype=torch.complex128)
    lazy, plain = FUNCS[name](A.conj()), FUNCS[name](A.conj().resolve_conj())
    lazy = lazy if isinstance(lazy, tuple) else (lazy,)
    plain = plain if isinstance(plain, tuple) else (plain,)
    for x, y in zip(lazy, plain):
        assert torch.equal(x.resolve_conj(), y.resolve_conj())


@pytest.mark.parametrize("name", sorted(FUNCS))
@pytest.mark.parametrize("dtype", [torch.int64, torch.float16, torch.bfloat16, torch.bool])
def test_rejects_unsupported_dtype(name, dtype):
    with pytest.raises(ValueError, match="unsupported dtype"):
        FUNCS[name](torch.ones(4, 4).to(dtype))


def test_rejects_non_tensor():
    with pytest.raises(TypeError, match="torch.Tensor"):
        gdlinalg.inv([[1.0, 0.0], [0.0, 1.0]])


def test_solve_rejects_mismatched_shapes():
    A = torch.eye(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="incompatible shapes"):
        gdlinalg.solve(A, torch.ones(4, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="incompatible shapes"):
        gdlinalg.solve(A, torch.ones(2, 4, dtype=torch.float64), left=False)
    with pytest.raises(ValueError, match="not broadcastable"):
        gdlinalg.solve(torch.eye(3, dtype=torch.float64).expand(2, 3, 3), torch.ones(3, 3, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="same dtype"):
        gdlinalg.solve(A, torch.ones(3, 1, dtype=torch.float32))


@pytest.mark.parametrize("k", [0, 5, -1])
def test_truncated_rejects_bad_k(k):
    A = torch.eye(4, dtype=torch.float64)
    with pytest.raises(ValueError, match="k"):
        gdlinalg.truncated_svd(A, k)
    with pytest.raises(ValueError, match="k"):
        gdlinalg.truncated_eigh(A, k)


def test_unknown_method_and_uplo():
    A = torch.eye(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="unknown method"):
        gdlinalg.inv(A, method="lapack")
    with pytest.raises(ValueError, match="UPLO"):
        gdlinalg.eigh(A, "X")


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128, torch.float32])
def test_singular_matrix_rejected_by_inv_and_solve(dtype):
    A = matrices.rank_deficient(6, 6, 4, seed=3, dtype=dtype)
    with pytest.raises(gdlinalg.SingularMatrixError, match="singular"):
        gdlinalg.inv(A)
    with pytest.raises(ValueError, match="singular"):
        gdlinalg.solve(A, torch.ones(6, 2, dtype=dtype))
    with pytest.raises(ValueError, match="singular"):
        gdlinalg.solve(A, torch.ones(6, 2, dtype=dtype), method="newton_schulz")
    with pytest.raises(ValueError, match="singular"):
        gdlinalg.inv(torch.zeros(3, 3, dtype=dtype))


def test_convergence_warning_reports_residual():
    A = matrices.with_condition_number(40, 40, 1e3, seed=0)   # above the direct start (n <= 32)
    with pytest.warns(gdlinalg.ConvergenceWarning, match=r"residual \d\.\d+e[-+]\d+"):
        res = gdlinalg.inv_result(A, max_iter=3)
    assert not res.converged and res.iterations == 3
    with pytest.warns(gdlinalg.ConvergenceWarning):
        res = gdlinalg.svd_result(A, max_iter=1)
    assert not res.converged
    with pytest.warns(gdlinalg.ConvergenceWarning):
        res = gdlinalg.solve_result(A, torch.ones(40, 1, dtype=torch.float64), max_iter=2)
    assert not res.converged


def test_methods_lists_default_first():
    assert gdlinalg.methods("inv")[0] == "newton_schulz"
    assert gdlinalg.methods("solve")[0] == "newton_schulz"
    assert gdlinalg.methods("svdvals") == gdlinalg.methods("svd")
    with pytest.raises(ValueError):
        gdlinalg.methods("qr")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_newton_schulz_stops_on_an_exact_inverse(dtype):
    # For the 2x2 Hilbert matrix the iteration can hit residual exactly 0; it must stop there.
    A = matrices.hilbert(2, dtype=dtype)
    res = gdlinalg.inv_result(A)
    assert res.converged and res.iterations < 30


# ------------------------------------------------------------------------------------------
# polar
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["newton_schulz", "qdwh"])
@pytest.mark.parametrize("dtype", ALL)
@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (9, 9), (2, 5, 3)])
def test_polar(method, dtype, shape):
    A = torch.stack([matrices.with_condition_number(*shape[-2:], 1e3 if not single(dtype) else 10.0, seed=i, dtype=dtype)
                     for i in range(shape[0] if len(shape) == 3 else 1)]).reshape(shape)
    before = A.clone()
    res = gdlinalg.polar_result(A, method=method)
    U, H = res.solution
    assert torch.equal(A, before) and res.converged and res.method == method
    m, n = shape[-2:]
    assert U.shape == A.shape and H.shape == (*A.shape[:-2], n, n)
    tol = TOL_SVD[dtype]
    assert max_abs(U @ H - A) <= tol * max_abs(A)
    assert orth_err(U if m >= n else U.mH) <= ORTH[dtype]
    assert max_abs(H - H.mH) == 0
    assert float(torch.linalg.eigvalsh(H.to(torch.complex128 if dtype.is_complex else torch.float64)).min()) >= -tol * max_abs(A)
    # The polar factor is unique for a full-rank A: compare with U = W V^H from torch's SVD.
    W, _, Vh = torch.linalg.svd(A, full_matrices=False)
    assert max_abs(U - W @ Vh) <= 100 * tol


def test_polar_rank_deficient_takes_the_svd_factor():
    A = matrices.rank_deficient(12, 10, 4, seed=3)
    res = gdlinalg.polar_result(A)
    U, H = res.solution
    assert res.converged
    assert max_abs(U @ H - A) <= 1e-13 and orth_err(U) <= 1e-13
