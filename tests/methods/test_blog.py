"""Methods: the 2020 blog recipes reproduce the blog's numbers and its failures."""

import math

import pytest
import torch

import gdlinalg
from gdlinalg import matrices
from gdlinalg._impl import blog
from gdlinalg._impl.result import Recorder

BLOG_M1_SINGULAR_VALUES = torch.tensor([2.3398, 0.6873, 0.2592, 0.1177])


def _run(fn, *args, **kwargs):
    rec = Recorder("test", "blog")
    with torch.no_grad():
        out = fn(*args, rec=rec, **kwargs)
    return out, rec


def _blog_inverse_reference(M, iterations, lr=0.9, momentum=0.9):
    """The blog's loop written out as in the notebook, with the global seed."""
    torch.manual_seed(314)
    X = torch.rand(M.shape, requires_grad=True)
    eye = torch.eye(M.shape[0])
    for _ in range(iterations):
        loss = ((X @ M - eye) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            X -= lr * X.grad
            X.grad *= momentum
    return X.detach()


def test_blog_inverse_reproduces_the_blog_loop_bit_for_bit():
    M = matrices.blog_inverse_matrices()["random"]
    with pytest.warns(gdlinalg.ConvergenceWarning):  # 300 iterations are deliberately too few
        res = gdlinalg.inv_result(M, method="blog", max_iter=300)
    assert torch.equal(res.solution, _blog_inverse_reference(M, 300))
    # The first loss the blog's notebook printed for this matrix.
    assert res.loss_history[0].item() == pytest.approx(0.7897346019744873, rel=1e-7)
    assert res.iterations == 300 and len(res.loss_history) == len(res.residual_history) == 300


def _inverse_by_torch_sgd(M, iterations, lr=0.9, momentum=0.9):
    """The blog's inverse loop with ``torch.optim.SGD(lr, momentum)`` in place of its update."""
    torch.manual_seed(314)
    X = torch.rand(M.shape, requires_grad=True)
    eye = torch.eye(M.shape[0])
    opt = torch.optim.SGD([X], lr=lr, momentum=momentum)
    for _ in range(iterations):
        opt.zero_grad()
        ((X @ M - eye) ** 2).mean().backward()
        opt.step()
    return X.detach()


@pytest.mark.parametrize("op", ["inverse", "svd"])
def test_blog_momentum_is_heavy_ball_so_sgd_momentum_follows_its_trajectory(op):
    """The blog's update (scale the gradient by 0.9 instead of zeroing it) is heavy-ball momentum:
    ``torch.optim.SGD(lr=0.9, momentum=0.9)`` follows the same trajectory. The two spellings of the
    update round differently in float32, so the answers agree to rounding, not bit for bit."""
    if op == "inverse":
        M = matrices.blog_inverse_matrices()["random"]
        with pytest.warns(gdlinalg.ConvergenceWarning):
            blog_run = gdlinalg.inv_result(M, method="blog", max_iter=300)
        torch.testing.assert_close(_inverse_by_torch_sgd(M, 300), blog_run.solution, rtol=0, atol=1e-5)
    else:
        M = matrices.blog_svd_matrices()["M2"]
        mom, rec_mom = _run(blog.svd, M, max_iter=500, variant="momentum")
        sgd, rec_sgd = _run(blog.svd, M, max_iter=500, variant="sgd")
        torch.testing.assert_close(torch.tensor(rec_sgd.losses), torch.tensor(rec_mom.losses), rtol=1e-5, atol=0)
        for a, b in zip(sgd.solution, mom.solution):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("dtype, floor", [(torch.float32, 5e-6), (torch.float64, 1e-13)])
@pytest.mark.parametrize("name", ["random", "diagonal"])
def test_inverse_reaches_attainable_accuracy(name, dtype, floor):
    M = matrices.blog_inverse_matrices(dtype=dtype)[name]
    before = M.clone()
    res = gdlinalg.inv_result(M, method="blog", max_iter=3000)
    assert torch.equal(M, before)
    assert res.converged and res.residual < floor
    assert res.solution.dtype == dtype
    torch.testing.assert_close(res.solution, torch.linalg.inv(M), rtol=0, atol=100 * floor)


@pytest.mark.parametrize("loss", ["right", "symmetric"])
def test_inverse_loss_variants(loss):
    M = matrices.blog_inverse_matrices(dtype=torch.float64)["diagonal"]
    res = gdlinalg.inv_result(M, method="blog", loss=loss, tol=1e-10)
    assert res.converged and res.residual <= 1e-10 and res.iterations < 10_000


def test_inverse_complex_and_batched():
    A = matrices.random_spd(4, cond=3.0, dtype=torch.complex128) + torch.eye(4, dtype=torch.complex128)
    batch = torch.stack([A, 2 * A])
    res = gdlinalg.inv_result(batch, method="blog", tol=1e-10)
    assert res.converged
    torch.testing.assert_close(res.solution, torch.linalg.inv(batch), rtol=0, atol=1e-9)


def test_svd_m1_reproduces_blog():
    # The one full 20,000-iteration run of the momentum recipe that reproduces the blog's table.
    M = matrices.blog_svd_matrices()["M1"]
    res = gdlinalg.svd_result(M, full_matrices=False, method="blog")
    U, S, Vh = res.solution
    assert res.iterations == 20_000 and res.converged
    torch.testing.assert_close(S, BLOG_M1_SINGULAR_VALUES, rtol=0, atol=5e-5)
    torch.testing.assert_close(S, torch.linalg.svdvals(M), rtol=0, atol=1e-5)
    assert res.residual < 1e-5
    assert S.dtype == torch.float32 and U.shape == (5, 4) and Vh.shape == (4, 4)


def _penalty_loss(U, d, V, M):
    """The blog's SVD loss, as a function of ``d`` itself (the recipe's ``diag_sqrt**2``)."""
    eye = torch.eye(V.shape[0], dtype=M.dtype)
    return (((U @ torch.diag(d) @ V.T - M) ** 2).mean()
            + ((U.T @ U - eye) ** 2).mean() / 100 + ((V @ V.T - eye) ** 2).mean() / 100)


def test_svd_m5_collapses_a_singular_value_at_the_boundary_d_equals_zero():
    # The blog's full 20,000-iteration run.
    M = matrices.blog_svd_matrices()["M5"]
    with pytest.warns(gdlinalg.ConvergenceWarning):
        res = gdlinalg.svd_result(M, full_matrices=False, method="blog")
    assert res.iterations == 20_000 and not res.converged
    assert 0.1 < res.residual < 0.25  # measured 16 %
    U, S, Vh = (t.double() for t in res.solution)
    assert S[2] == 0.0 < float(torch.linalg.svdvals(M)[2])  # d_3 = diag_sqrt_3**2 sits at exactly 0
    d = S.clone().requires_grad_(True)
    _penalty_loss(U, d, Vh.mT, M.double()).backward()
    assert d.grad[2] > 0  # the loss would fall if d_3 could become negative ...
    assert float(U[:, 2] @ M.double() @ Vh[2]) < 0  # ... because u_3 and v_3 are paired wrongly


def test_svd_m3_averages_the_close_pair_and_stays_slow_while_m4_converges():
    # M3's close singular values (0.612 / 0.554) keep it above 1e-3 after 5,000 iterations, where
    # M4 is below 1e-5 (and M1 at 6e-5).
    mats = matrices.blog_svd_matrices()
    res3, _ = _run(blog.svd, mats["M3"], max_iter=5000)
    res4, _ = _run(blog.svd, mats["M4"], max_iter=5000)
    assert res3.residual > 1e-3 and not res3.converged
    assert res4.residual < 1e-5
    # The two estimates of the pair sit strictly between its true values: the pair is averaged.
    ref = torch.linalg.svdvals(mats["M3"].double())
    S = res3.solution.S.double()
    assert ref[3] < S[3] <= S[2] < ref[2]


def test_adam_variant_runs_and_decreases():
    M = matrices.blog_svd_matrices()["M1"]
    out, rec = _run(blog.svd, M, max_iter=1000, variant="adam")
    assert rec.residuals[-1] < 0.2 * rec.residuals[0]
    assert out.iterations == 1000


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 3)])
def test_svd_shapes_dtypes_and_tol(shape, dtype):
    A = torch.rand(shape, generator=torch.Generator().manual_seed(1), dtype=dtype)
    before = A.clone()
    # lr=0.9 diverges on complex input (twice the real degrees of freedom); 0.3 is stable.
    lr = 0.3 if dtype.is_complex else 0.9
    res = gdlinalg.svd_result(A, full_matrices=False, method="blog", max_iter=300, tol=0.5, lr=lr)
    assert torch.equal(A, before)
    U, S, Vh = res.solution
    k = min(shape[-2:])
    assert U.shape == (*shape[:-1], k) and S.shape == (*shape[:-2], k) and Vh.shape == (*shape[:-2], k, shape[-1])
    assert U.dtype == dtype and S.dtype == torch.empty(0, dtype=dtype).real.dtype
    assert bool((S[..., :-1] >= S[..., 1:]).all())
    assert res.converged and res.residual <= 0.5


def test_invalid_options():
    M = matrices.blog_svd_matrices()["M1"]
    with pytest.raises(ValueError, match="variant"):
        gdlinalg.svd(M, method="blog", variant="rmsprop")
    with pytest.raises(ValueError, match="loss"):
        gdlinalg.inv(M[:4], method="blog", loss="middle")


def test_default_tolerance_is_sqrt_eps():
    M = matrices.blog_inverse_matrices(dtype=torch.float64)["diagonal"]
    res = gdlinalg.inv_result(M, method="blog", max_iter=600)
    assert res.tol == pytest.approx(math.sqrt(torch.finfo(torch.float64).eps))
