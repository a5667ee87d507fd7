"""Contract: torch's semantics exactly where the names are torch's — solve's vector/matrix rule and
broadcasting, ``UPLO`` in either case with only the read triangle validated, torch's keywords — and
errors and warnings that name what is wrong: options refused by name, ``SingularMatrixError`` a
``torch.linalg.LinAlgError`` with one definition of "singular to working precision", warnings that
name the failed criterion and point at the caller's line.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch

import gdlinalg
from gdlinalg import matrices
from gdlinalg._impl.outcome import summarise

F64 = torch.float64


def _draw(*shape, seed=0, dtype=F64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _well(batch, n, seed=0, dtype=F64):
    """Well-conditioned (diagonally dominant) matrices of shape ``batch + (n, n)``."""
    return _draw(*batch, n, n, seed=seed, dtype=dtype) + 3 * n ** 0.5 * torch.eye(n, dtype=dtype)


# ------------------------------------------------------------------------------------------------
# solve: which B is a vector, and how batches broadcast
# ------------------------------------------------------------------------------------------------

# (A's batch, B's shape): every combination torch accepts, with the cases that once went wrong:
# (1,) with (3, 3) was solved for the rows of B as a (3,)-batch of vectors; (4,) with (3, 3) raised.
SOLVE_SHAPES = [
    ((), (3,)), ((), (3, 1)), ((), (3, 3)), ((), (3, 5)), ((), (2, 3, 4)),
    ((1,), (3, 3)), ((4,), (3, 3)), ((4,), (4, 3)), ((4,), (3,)), ((4,), (1, 3, 2)),
    ((2, 1), (5, 3, 2)), ((2, 4), (2, 4, 3)), ((2, 4), (4, 3, 1)), ((3,), (3, 3)),
]


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("batch, b_shape", SOLVE_SHAPES, ids=[f"{a}-{b}" for a, b in SOLVE_SHAPES])
def test_solve_shapes_follow_torch(batch, b_shape, left):
    A = _well(batch, 3, seed=1)
    B = _draw(*b_shape, seed=2)
    try:
        expected = torch.linalg.solve(A, B, left=left)
    except RuntimeError:
        with pytest.raises(ValueError):
            gdlinalg.solve(A, B, left=left)
        return
    X = gdlinalg.solve(A, B, left=left)
    assert X.shape == expected.shape
    torch.testing.assert_close(X, expected, rtol=1e-12, atol=1e-12)


def test_solve_refuses_a_vector_with_left_false_saying_why():
    with pytest.raises(ValueError, match=r"vector .*left=False"):
        gdlinalg.solve(_well((4,), 3), _draw(4, 3), left=False)


@pytest.mark.parametrize("dtype, small, n", [(F64, 1e-250, 6), (F64, 1e-250, 300), (F64, 1e-300, 40),
                                              (torch.float32, 1e-30, 300), (torch.complex128, 1e-280, 8)])
def test_each_column_of_b_keeps_its_digits_whatever_its_scale(dtype, small, n):
    """One power of two for the whole right-hand side underflowed a column at 1e-250 beside one at
    1 (n = 300): x = 0, backward error 1, converged=True. Each column is its own problem."""
    A = _draw(n, n, seed=3, dtype=dtype)
    B = _draw(n, 3, seed=4, dtype=dtype)
    B[:, 0] *= small
    B[:, 2] *= 1 / small ** 0.5
    res = gdlinalg.solve_result(A, B)
    ref = torch.linalg.solve(A.to(torch.complex128 if dtype.is_complex else F64), B.to(torch.complex128 if dtype.is_complex else F64))
    col = ref.abs().amax(0)
    err = ((res.solution.to(ref.dtype) / col - ref / col).norm(dim=0) / (ref / col).norm(dim=0)).max()
    lapack = ((torch.linalg.solve(A, B).to(ref.dtype) / col - ref / col).norm(dim=0) / (ref / col).norm(dim=0)).max()
    u = torch.finfo(dtype).eps / 2
    assert res.converged
    assert float(err) <= max(20 * float(lapack), 50 * n * u), (float(err), float(lapack))


# ------------------------------------------------------------------------------------------------
# triangles, keywords and tensor kinds
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("UPLO", ["L", "U", "l", "u"])
def test_uplo_in_either_case_reads_only_its_triangle(UPLO):
    H = matrices.random_symmetric(6, seed=5)
    A = H.clone()
    lower = UPLO.upper() == "L"
    unread = torch.triu(torch.ones(6, 6, dtype=torch.bool), 1) if lower else torch.tril(torch.ones(6, 6, dtype=torch.bool), -1)
    A[unread] = float("nan")
    w, V = gdlinalg.eigh(A, UPLO)
    torch.testing.assert_close(w, torch.linalg.eigh(H).eigenvalues, rtol=1e-12, atol=1e-12)
    top = gdlinalg.truncated_eigh(A, 2, UPLO=UPLO).eigenvalues
    torch.testing.assert_close(top, torch.linalg.eigh(H).eigenvalues.flip(-1)[:2], rtol=1e-10, atol=1e-10)


def test_pinv_hermitian_reads_only_the_lower_triangle():
    H = matrices.random_symmetric(5, seed=6)
    A = H.clone()
    A[torch.triu(torch.ones(5, 5, dtype=torch.bool), 1)] = float("inf")
    torch.testing.assert_close(gdlinalg.pinv(A, hermitian=True), torch.linalg.pinv(H, hermitian=True),
                               rtol=1e-10, atol=1e-10)


def test_a_nan_in_the_read_triangle_is_still_refused():
    A = matrices.random_symmetric(4, seed=7)
    A[2, 1] = float("nan")
    with pytest.raises(ValueError, match="lower triangle of A .*finite"):
        gdlinalg.eigh(A)
    with pytest.raises(ValueError, match="UPLO"):
        gdlinalg.eigh(A, "X")


def test_sparse_and_meta_tensors_get_a_clear_error():
    with pytest.raises(ValueError, match="dense .*layout"):
        gdlinalg.inv(torch.eye(3, dtype=F64).to_sparse())
    with pytest.raises(ValueError, match="meta device"):
        gdlinalg.svd(torch.empty(3, 3, dtype=F64, device="meta"))


def test_torch_keywords_are_accepted_or_refused_by_name():
    A = _well((), 4)
    torch.testing.assert_close(gdlinalg.svd(A, driver=None).S, torch.linalg.svdvals(A), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gdlinalg.svdvals(A, driver=None), torch.linalg.svdvals(A), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="driver='gesvd'.*method="):
        gdlinalg.svd(A, driver="gesvd")
    with pytest.raises(ValueError, match="out= is not supported"):
        gdlinalg.inv(A, out=torch.empty_like(A))


# ------------------------------------------------------------------------------------------------
# options are validated against the method that receives them
# ------------------------------------------------------------------------------------------------


def test_an_option_the_method_does_not_take_is_refused_by_name():
    A = _well((), 4)
    with pytest.raises(ValueError, match=r"inv with method='newton_schulz' has no option 'lr'; it takes tol, max_iter, accelerate"):
        gdlinalg.inv(A, lr=0.1)
    with pytest.raises(ValueError, match="has no option 'route'"):
        gdlinalg.eigh(A + A.mT, method="divide", route="jacobi")
    # eigh(method="divide", max_iter=1) ran its 8 levels as if the cap were not there.
    with pytest.raises(ValueError, match=r"eigh with method='divide' has no option 'max_iter'; it takes no options"):
        gdlinalg.eigh(A + A.mT, method="divide", max_iter=1)
    with pytest.raises(ValueError, match=r"svd with method='polar' has no option 'tol'"):
        gdlinalg.svd(A, method="polar", tol=1e-8)
    # ... while the method that takes it gets it.
    assert "lr" in gdlinalg.options("inv", "blog")


@pytest.mark.parametrize("bad", [{"tol": -1}, {"tol": 0.0}, {"tol": float("nan")}, {"tol": "1e-8"},
                                 {"max_iter": 0}, {"max_iter": 2.5}, {"max_iter": True}])
def test_tol_and_max_iter_must_be_positive(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        gdlinalg.inv(_well((), 3), **bad)


def test_methods_without_an_operation_lists_them_all():
    table = gdlinalg.methods()
    assert set(table) >= {"inv", "solve", "pinv", "svd", "eigh", "polar", "truncated_svd", "truncated_eigh"}
    assert all(table[op] == gdlinalg.methods(op) for op in table)


# ------------------------------------------------------------------------------------------------
# singular to working precision: one definition
# ------------------------------------------------------------------------------------------------


def test_singular_matrix_error_is_torch_s_error_and_suggests_pinv():
    assert issubclass(gdlinalg.SingularMatrixError, torch.linalg.LinAlgError)
    assert issubclass(gdlinalg.SingularMatrixError, ValueError)
    with pytest.raises(torch.linalg.LinAlgError, match="pinv"):
        gdlinalg.inv(torch.zeros(3, 3, dtype=F64))


@pytest.mark.parametrize("n, singular", [(10, False), (11, False), (12, True), (13, True)])
def test_hilbert_is_singular_exactly_when_cond_u_reaches_one(n, singular):
    """Hilbert(12) (cond 1.7e16 > 1/u) was returned with converged=True, tolerance 9.87 and 19 %
    error while the error message called cond > 1/u singular."""
    H = matrices.hilbert(n)
    cond_u = float(torch.linalg.cond(H)) * torch.finfo(F64).eps / 2
    assert (cond_u >= 1) == singular
    if singular:
        with pytest.raises(gdlinalg.SingularMatrixError, match=r"condition number .*1/u"):
            gdlinalg.inv(H)
    else:
        res = gdlinalg.inv_result(H)
        assert res.converged and res.tol <= 0.5 / math.sqrt(n)


def test_inverse_tolerance_never_passes_a_residual_of_one_half():
    for n in (5, 40):
        A = matrices.with_condition_number(n, n, 1e15, seed=8)
        res = gdlinalg.inv_result(A)
        assert res.tol <= 0.5 / math.sqrt(n)


# ------------------------------------------------------------------------------------------------
# warnings: the failed criterion with its true numbers, at the caller's line
# ------------------------------------------------------------------------------------------------


def test_convergence_warning_points_at_the_caller():
    A = matrices.with_condition_number(40, 40, 1e3, seed=0)   # above the direct start (n <= 32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gdlinalg.inv(A, max_iter=3)
    (w,) = [c for c in caught if issubclass(c.category, gdlinalg.ConvergenceWarning)]
    assert w.filename == __file__, w.filename


def test_warning_names_the_criterion_that_failed():
    res = torch.tensor([1e-16, 2e-16], dtype=F64)
    tol = torch.full_like(res, 1e-13)
    orth = torch.tensor([1e-16, 3e-14], dtype=F64)
    out = summarise(None, res, tol, torch.tensor([3, 4]),
                    checks=(("orthogonality of U and V", orth <= 1e-14, orth, 1e-14),))
    assert not out.converged and out.detail == " (batch member 1)"
    assert out.why.startswith("orthogonality of U and V 3.000e-14 > tol 1.0e-14"), out.why
    nan = summarise(None, torch.tensor([float("nan")], dtype=F64), tol[:1], torch.tensor([2]))
    assert not nan.converged and "NaN" in nan.why


# ------------------------------------------------------------------------------------------------
# one history value per iteration, for every method
# ------------------------------------------------------------------------------------------------

_SLOW = {"gradient", "blog", "stiefel"}
_COMPOSITE = {("svd", "auto"), ("svd", "polar"), ("eigh", "auto"), ("eigh", "divide"), ("polar", "newton_schulz"),
              ("polar", "qdwh"), ("pinv", "svd")}


def _inputs(op):
    A = matrices.with_condition_number(24, 24, 100.0, seed=9)
    graded = A * torch.logspace(0, -8, 24, dtype=F64)
    if op == "eigh" or op == "truncated_eigh":
        H = A @ A.mT + torch.eye(24, dtype=F64)
        return [H, torch.stack([graded @ graded.mT, H])]
    if op == "solve":
        return [A]
    return [A, torch.stack([graded, A])]


@pytest.mark.parametrize("op, method", [(op, m) for op, ms in gdlinalg.methods().items() for m in ms])
def test_one_history_value_per_iteration(op, method):
    """svd_result (13 iterations) and eigh_result (9) held one history value, pinv_result none."""
    kw = {"max_iter": 60} if method in _SLOW else {}
    for X in _inputs(op)[: 1 if method in _SLOW else 2]:
        args = (X, torch.ones(24, 2, dtype=F64)) if op == "solve" else (X, 3) if op.startswith("truncated") else (X,)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", gdlinalg.ConvergenceWarning)
            res = getattr(gdlinalg, op + "_result")(*args, method=method, **kw)
        assert res.iterations >= 1
        assert len(res.residual_history) == len(res.loss_history) == res.iterations, (
            f"{op} {method}: {res.iterations} iterations, {len(res.residual_history)} history values")
        if (op, method) in _COMPOSITE:   # their blocks' measures end with the true final residual
            assert float(res.residual_history[-1]) == pytest.approx(res.residual, rel=1e-12, abs=1e-300)


def test_the_inverse_promises_its_right_residual_and_the_left_one_within_cond_a():
    """||I - X A|| = ||A^{-1} (I - A X) A|| <= cond(A) ||I - A X||: what the README says of X from the
    left, measured where it bites (n = 60, cond 1e10: right 1.2e-7, left about 10)."""
    A = matrices.with_condition_number(60, 60, 1e10, seed=0)
    res = gdlinalg.inv_result(A)
    X, eye = res.solution, torch.eye(60, dtype=F64)
    right = float(torch.linalg.matrix_norm(eye - A @ X) / 60 ** 0.5)
    left = float(torch.linalg.matrix_norm(eye - X @ A) / 60 ** 0.5)
    assert res.converged and right <= res.tol
    assert left <= 1e10 * right * 1.01


@pytest.mark.parametrize("shape, dtype", [((2000, 3), F64), ((3, 1500), torch.complex128), ((4, 900, 5), torch.float32)])
def test_full_matrices_completes_tall_and_wide_inputs_from_householder_reflectors(shape, dtype):
    """The completion QR'd an m x (m - k) Gaussian block twice, O(m^3): 4000 x 3 took 11.5 s. From
    the k reflectors of a complete QR it is O(m^2 k); what is checked here is that the completed
    factors are unitary and the reduced part unchanged."""
    A = _draw(*shape, seed=10, dtype=dtype)
    U, S, Vh = gdlinalg.svd(A, full_matrices=True)
    Ur, Sr, Vhr = gdlinalg.svd(A, full_matrices=False)
    m, n = shape[-2:]
    tol = 50 * max(m, n) * torch.finfo(dtype).eps
    assert U.shape == (*shape[:-2], m, m) and Vh.shape == (*shape[:-2], n, n)
    assert float((U.mH @ U - torch.eye(m, dtype=dtype)).abs().max()) <= tol
    assert float((Vh @ Vh.mH - torch.eye(n, dtype=dtype)).abs().max()) <= tol
    k = min(m, n)
    torch.testing.assert_close(U[..., :k], Ur)
    torch.testing.assert_close(Vh[..., :k, :], Vhr)
