"""Methods: the facts the SVD chapters (the blog's recipe, methods that work) and "Low-rank
approximation and PCA" rest on, recomputed through the package (fast, except the one full Adam run
the SVD chapter defers to the tests). The built pages are checked in
``tests/book/test_chapter_pages.py``; the recipe's momentum runs on M1, M3 and M5, and its SGD
spelling, in ``tests/methods/test_blog.py``.
"""

from __future__ import annotations

import warnings

import pytest
import torch

import gdlinalg
from gdlinalg import matrices

BLOG_PRINTED_M1 = (2.3398, 0.6873, 0.2592, 0.1177)  # part 3 of the blog series


def _quiet_svd(A, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = gdlinalg.svd_result(A, full_matrices=False, **kwargs)
    return res, [w for w in caught if issubclass(w.category, gdlinalg.ConvergenceWarning)]


def _penalty_loss(U, d, V, M):
    eye = torch.eye(V.shape[0], dtype=M.dtype)
    return (((U @ torch.diag(d) @ V.T - M) ** 2).mean()
            + ((U.T @ U - eye) ** 2).mean() / 100 + ((V @ V.T - eye) ** 2).mean() / 100)


def test_blog_printed_values_are_the_lapack_values_at_four_decimals():
    # The 20,000-iteration reproduction itself is tests/methods/test_blog.py::test_svd_m1_reproduces_blog.
    S = torch.linalg.svdvals(matrices.blog_svd_matrices(dtype=torch.float64)["M1"])
    assert tuple(round(v, 4) for v in S.tolist()) == BLOG_PRINTED_M1


def _weight_decayed_minimiser(M, lam=1e-5):
    U0, S0, Vh0 = torch.linalg.svd(M, full_matrices=False)
    params = [U0.contiguous().clone().requires_grad_(True), S0.sqrt().clone().requires_grad_(True),
              Vh0.mT.contiguous().clone().requires_grad_(True)]
    opt = torch.optim.LBFGS(params, line_search_fn="strong_wolfe", max_iter=200,
                            tolerance_grad=1e-14, tolerance_change=0.0)

    def closure():
        opt.zero_grad()
        U, s, V = params
        value = _penalty_loss(U, s * s, V, M) + lam / 2 * sum(p.square().sum() for p in params)
        value.backward()
        return value

    for _ in range(2):
        opt.step(closure)
    return params[1].detach() ** 2


def test_adam_variant_converges_to_the_weight_decayed_minimiser():
    # The full 20,000-iteration Adam run that the SVD chapter is too short to afford.
    M = matrices.blog_svd_matrices()["M1"]
    res, _ = _quiet_svd(M, method="blog", variant="adam")
    S_adam = res.solution.S.double()
    S_biased = _weight_decayed_minimiser(M.double())
    S_true = torch.linalg.svdvals(M.double())
    to_biased = (S_adam - S_biased).abs().max()
    to_true = (S_adam - S_true).abs().max()
    assert to_biased < 0.2 * to_true  # measured: 7e-5 against 1.7e-3
    assert (S_biased - S_true).abs().max() > 1e-4  # the bias is real


@pytest.mark.parametrize("method", ["jacobi", "stiefel"])
def test_orthogonality_preserving_methods_converge_on_all_blog_matrices(method):
    for name, M in matrices.blog_svd_matrices(dtype=torch.float64).items():
        res, warned = _quiet_svd(M, method=method)
        U, S, Vh = res.solution
        assert res.converged and not warned, name
        assert torch.allclose(S, torch.linalg.svdvals(M), rtol=0, atol=1e-12), name
        eye = torch.eye(U.shape[1], dtype=torch.float64)
        assert torch.linalg.matrix_norm(U.mT @ U - eye) < 1e-13, name
        if method == "jacobi":
            assert res.iterations <= 6, name


def test_subspace_iteration_rate_is_the_squared_singular_value_ratio():
    sv = 0.8 ** torch.arange(100, dtype=torch.float64)
    A = matrices.with_singular_values(200, 100, sv, seed=3)
    U_top = torch.linalg.svd(A, full_matrices=False).U[:, :5]
    Q = torch.linalg.qr(torch.randn(200, 5, generator=torch.Generator().manual_seed(1),
                                    dtype=torch.float64)).Q
    errs = []
    for _ in range(40):
        Q = torch.linalg.qr(A @ (A.T @ Q)).Q
        errs.append(torch.linalg.matrix_norm(U_top - Q @ (Q.T @ U_top), ord=2).item())
    measured = (errs[-1] / errs[-11]) ** 0.1
    assert measured == pytest.approx(float((sv[5] / sv[4]) ** 2), rel=1e-3)


def test_eckart_young_error_formulas():
    A = torch.randn(60, 40, generator=torch.Generator().manual_seed(2026), dtype=torch.float64)
    U, S, Vh = gdlinalg.svd(A, full_matrices=False)
    for k in range(41):
        R = A - (U[:, :k] * S[:k]) @ Vh[:k]
        assert float(torch.linalg.matrix_norm(R)) == pytest.approx(float(S[k:].square().sum().sqrt()), abs=1e-12)
        sigma_next = float(S[k]) if k < 40 else 0.0
        assert float(torch.linalg.matrix_norm(R, ord=2)) == pytest.approx(sigma_next, abs=1e-12)


def test_pca_by_eigh_and_by_truncated_svd_agree():
    X = torch.randn(200, 6, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    X = X @ torch.diag(torch.tensor([5.0, 3.0, 2.0, 1.0, 0.5, 0.1], dtype=torch.float64))
    Xc = X - X.mean(0)
    w, V = gdlinalg.eigh(Xc.T @ Xc / 199)
    _, S, Vh = gdlinalg.truncated_svd(Xc, 3, oversample=2)
    torch.testing.assert_close(S.square() / 199, w.flip(0)[:3], rtol=1e-10, atol=0)
    signs = torch.sign((V.flip(1)[:, :3] * Vh.T).sum(0))
    torch.testing.assert_close(V.flip(1)[:, :3] * signs, Vh.T, rtol=0, atol=1e-8)


@pytest.mark.parametrize("n", [2, 4, 6, 8, 16, 32])
def test_jacobi_round_robin_meets_every_pair_once_a_sweep_by_gather_or_by_slices(n, monkeypatch):
    # The two ways _next_round moves the pair layout (a gather for small layouts, slices for
    # large ones) are the same circle method: n - 1 rounds pair every column with every other once.
    from gdlinalg._impl import jacobi

    h = n // 2
    for small in (10**9, -1):                      # every layout small, then every layout large
        monkeypatch.setattr(jacobi, "_SMALL_LAYOUT", small)
        seats = torch.arange(n, dtype=torch.float64).view(1, n)
        met = set()
        for _ in range(n - 1):
            met |= {frozenset((int(p), int(q))) for p, q in zip(seats[0, :h], seats[0, h:])}
            seats = jacobi._next_round(seats[:, :h], seats[:, h:], -1)
        assert len(met) == n * (n - 1) // 2
        # ... and the next sweep starts where this one did.
        assert torch.equal(seats, torch.arange(n, dtype=torch.float64).view(1, n))
