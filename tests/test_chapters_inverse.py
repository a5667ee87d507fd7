"""Key facts of the chapters on gradient descent and on the matrix inverse (recipe and methods).

The first group checks, through the package, the facts the chapters' prose rests on (fast). The
second group (marked ``book``) checks the built chapters' HTML, from the session's one strict build
(``book_build.session_build``).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import gdlinalg
from gdlinalg import matrices

from book_build import plain_text

# ------------------------------------------------------------------------------------------------
# facts, via the package
# ------------------------------------------------------------------------------------------------


def _heavy_ball_rate(curvatures, lr=0.9, beta=0.9):
    return max(max(abs(np.roots([1.0, -(1 + beta - lr * h), beta]))) for h in curvatures)


def _blog_loop(M, iterations):
    torch.manual_seed(314)
    X = torch.rand(4, 4, requires_grad=True)
    for _ in range(iterations):
        ((X @ M - torch.eye(4)) ** 2).mean().backward()
        with torch.no_grad():
            X -= 0.9 * X.grad
            X.grad *= 0.9
    return X.detach()


def test_blog_inverse_reproduces_the_blog_loop_bit_for_bit():
    M = matrices.blog_inverse_matrices()["random"]
    with pytest.warns(gdlinalg.ConvergenceWarning):  # 200 iterations are deliberately too few
        res = gdlinalg.inv_result(M, method="blog", max_iter=200)
    assert torch.equal(res.solution, _blog_loop(M, 200))
    # The first loss the blog's notebook printed for this matrix.
    assert res.loss_history[0].item() == pytest.approx(0.7897346019744873, rel=1e-7)


def test_blog_momentum_is_heavy_ball_and_sgd_momentum():
    M = matrices.blog_inverse_matrices()["random"]
    eye = torch.eye(4)
    X_blog = _blog_loop(M, 300)
    torch.manual_seed(314)
    X = torch.rand(4, 4, requires_grad=True)
    opt = torch.optim.SGD([X], lr=0.9, momentum=0.9)
    for _ in range(300):
        opt.zero_grad()
        ((X @ M - eye) ** 2).mean().backward()
        opt.step()
    # Same algorithm; the two spellings of the update round differently in float32.
    torch.testing.assert_close(X.detach(), X_blog, rtol=0, atol=1e-5)


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


# ------------------------------------------------------------------------------------------------
# the built chapters
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def book(tmp_path_factory):
    pytest.importorskip("bs4")
    from book_build import session_build

    return session_build(tmp_path_factory)


@pytest.mark.book
@pytest.mark.parametrize("docname, figures", [
    ("book/gradient-descent", ["fig-gd-rate-vs-lr", "fig-gd-rate-vs-kappa", "fig-gd-optimizers"]),
    ("book/inverse-recipe", ["fig-blog-losses", "fig-inv-rates", "fig-inv-optimizers"]),
    ("book/inverse-methods", ["fig-inv-cgls", "fig-inv-newton-schulz", "fig-inv-hilbert", "fig-inv-pinv-growth"]),
])
def test_chapter_figures_tables_glue_and_exercises(book, docname, figures):
    a = book.article(docname)
    for name in figures:
        fig = a.find(id=name)
        assert fig is not None and fig.find("figcaption"), name
        img = fig.find("img")
        assert img is not None and len(img.get("alt", "").strip()) > 40, name
    assert a.select("table.table"), "tables computed by the chapter's code"
    source = Path(__file__).resolve().parents[1].joinpath(f"{docname}.md").read_text(encoding="utf-8")
    n_refs = len(re.findall(r"\{glue:text\}`", source))
    assert len(a.select(".pasted-text, .pasted-inline")) >= n_refs
    exercises, solutions = a.select(".exercise"), a.select(".solution")
    assert len(exercises) >= 4 and len(solutions) == len(exercises)
    assert all("dropdown" in s.get("class", []) for s in solutions)


@pytest.mark.book
def test_inverse_chapter_prose_carries_the_measured_iteration_counts(book):
    text = plain_text(book.article("book/inverse-recipe"))
    mats = matrices.blog_inverse_matrices(dtype=torch.float64)
    for M in mats.values():
        its = gdlinalg.inv_result(M, method="blog", tol=1e-10).iterations
        assert "the runs take" in text and str(its) in text
    assert "Traceback" not in text


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
    # On a symmetric positive definite matrix the same loss is fine.
    spd = matrices.random_spd(4, cond=5.0, seed=1)
    assert gdlinalg.inv_result(spd, method="gradient", loss="symmetric").residual < 1e-6


@pytest.mark.book
def test_inverse_recipe_page_measures_how_the_recipe_scales(book):
    text = plain_text(book.article("book/inverse-recipe"))
    assert re.search(r"One step takes \d+ ms here", text)
    assert re.search(r"would need about \S+ iterations", text)
    assert "none of them converges in reasonable time" not in text
    assert "as good as (a) on symmetric *positive definite*" not in text  # rendered, not raw
    assert "symmetric positive definite matrices, can be worse on non-symmetric ones, and can be wrong" in text
