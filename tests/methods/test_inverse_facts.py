"""Methods: the facts the chapters on gradient descent and the matrix inverse (recipe and methods)
rest on, recomputed through the package. The built chapters' pages are checked in
``tests/book/test_chapter_pages.py``; the blog's inverse loop itself in
``tests/methods/test_blog.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import gdlinalg
from gdlinalg import matrices


def _heavy_ball_rate(curvatures, lr=0.9, beta=0.9):
    return max(max(abs(np.roots([1.0, -(1 + beta - lr * h), beta]))) for h in curvatures)


def test_diagonal_needs_fewer_iterations_and_rates_match_heavy_ball_theory():
    mats = matrices.blog_inverse_matrices(dtype=torch.float64)
    its = {}
    for name, M in mats.items():
        res = gdlinalg.inv_result(M, method="blog", tol=1e-10)
        s = torch.linalg.svdvals(M)
        rho = _heavy_ball_rate((2 * s**2 / 16).tolist())
        predicted = math.log(1e-10) / math.log(rho)
        assert res.converged
        assert abs(res.iterations - predicted) < 0.05 * predicted, (name, res.iterations, predicted)
        its[name] = res.iterations
    assert its["diagonal"] * 2 < its["random"]
    # The loss's condition number is cond(M)^2.
    assert torch.linalg.cond(mats["diagonal"]).item() ** 2 == pytest.approx(16.0)


def test_float32_floor_is_about_cond_times_u():
    M = matrices.blog_inverse_matrices()["random"]
    res = gdlinalg.inv_result(M, method="blog", max_iter=3000)
    ku = torch.linalg.cond(M.double()).item() * torch.finfo(torch.float32).eps / 2
    assert 0.1 * ku < res.residual < 100 * ku


def test_newton_schulz_converges_quadratically():
    A = matrices.with_condition_number(100, 100, 1e3, seed=5)
    res = gdlinalg.inv_result(A)
    r = res.residual_history.numpy()
    assert res.converged and res.residual < 1e-12
    assert res.iterations <= math.log2(1e6) + 10
    # R_{k+1} = R_k^2, so ||R_{k+1}||_F <= ||R_k||_F^2: once below 1/2, the digits (at least) double.
    R = r * math.sqrt(A.shape[-1])
    steps = [(a, b) for a, b in zip(R[:-1], R[1:]) if a < 0.5 and b > 1e-12]
    assert len(steps) >= 3, R
    for a, b in steps:
        assert b <= 1.01 * a * a, (a, b)


def test_cgls_iterations_grow_like_cond():
    b = torch.randn(60, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    its = []
    for kappa in (10, 100):
        A = matrices.with_condition_number(60, 60, kappa, seed=2)
        res = gdlinalg.solve_result(A, b)
        assert res.converged and res.residual < 1e-12
        its.append(res.iterations)
    assert its[0] < its[1] < 0.5 * 100**2  # far fewer than gradient descent's ~kappa^2


def test_pinv_gradient_start_decides_the_norm_and_newton_schulz_must_not_run_on():
    A = matrices.rank_deficient(30, 20, 12, seed=4)
    P = torch.linalg.pinv(A)
    null = torch.eye(20, dtype=torch.float64) - P @ A

    def rel(X):
        return (torch.linalg.matrix_norm(X - P) / torch.linalg.matrix_norm(P)).item()

    # From zero: the minimum-norm answer.
    assert rel(gdlinalg.pinv_result(A, method="gradient").solution) < 1e-10
    # From a random start: A+ plus the start's null-space component.
    X0 = torch.rand(20, 30, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    X = X0.clone()
    step = 1 / torch.linalg.matrix_norm(A, ord=2).item() ** 2
    for _ in range(300):
        X = X - step * A.T @ (A @ X - torch.eye(30, dtype=torch.float64))
    assert torch.allclose(X, P + null @ X0, atol=1e-10)
    assert torch.linalg.matrix_norm(X) > 1.5 * torch.linalg.matrix_norm(P)
    # Newton–Schulz: fine as the package stops it, blown up by null-space doubling when run on.
    res = gdlinalg.pinv_result(A, method="newton_schulz")
    assert res.converged and rel(res.solution) < 1e-12
    X = A.T / torch.linalg.matrix_norm(A, ord=2) ** 2
    for _ in range(70):
        X = 2 * X - X @ A @ X
    assert not bool(torch.isfinite(X).all()) or rel(X) > 1.0


def test_symmetrised_loss_has_false_minimisers_on_symmetric_indefinite_matrices():
    # The inverse-recipe chapter's counterexample: eigenvalues 1, 2, -1, -2 make the map
    # X -> (XM + MX)/2 singular, and both minimisers reach zero loss away from the inverse.
    Q = torch.linalg.qr(torch.randn(4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))).Q
    M = Q @ torch.diag(torch.tensor([1.0, 2.0, -1.0, -2.0], dtype=torch.float64)) @ Q.T
    for method, kw in (("blog", {"max_iter": 1000}), ("gradient", {})):
        with pytest.warns(gdlinalg.ConvergenceWarning):
            res = gdlinalg.inv_result(M, method=method, loss="symmetric", **kw)
        X = res.solution
        assert torch.linalg.matrix_norm(torch.eye(4, dtype=torch.float64) - (X @ M + M @ X) / 2) < 1e-12
        assert res.residual > 0.3
    # On a symmetric positive definite matrix the same loss is fine:
    # tests/methods/test_gradient.py::test_inv_loss_variants[symmetric].
