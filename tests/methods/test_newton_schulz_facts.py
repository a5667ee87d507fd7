"""Methods: the facts the chapter "Newton–Schulz beyond the inverse" rests on, recomputed with
``gdlinalg`` and ``torch.linalg`` as the reference. The built page is checked in
``tests/book/test_chapter_pages.py``.
"""

from __future__ import annotations

import math

import pytest
import torch

import gdlinalg
from gdlinalg import matrices

MUON = (3.4445, -4.7750, 2.0315)


def _p(x: float) -> float:
    return 0.5 * x * (3 - x * x)


def _alpha(l: float) -> float:
    return math.sqrt(3 / (1 + l + l * l))


def _svd_polar(A: torch.Tensor) -> torch.Tensor:
    W, _, Vh = torch.linalg.svd(A, full_matrices=False)
    return W @ Vh


@pytest.mark.parametrize("l", [0.5, 1e-1, 1e-3, 1e-8])
def test_chen_chow_scaling_maps_the_interval_into_one_with_the_same_top(l):
    a = _alpha(l)
    assert _p(a * l) == pytest.approx(_p(a), rel=1e-12)       # both ends land on the same value
    xs = torch.linspace(l, 1, 2001, dtype=torch.float64)
    image = 0.5 * a * xs * (3 - a * a * xs * xs)
    assert float(image.max()) == pytest.approx(1.0, abs=1e-6) and float(image.min()) >= _p(a * l) - 1e-15
    assert _p(a * l) / l > _p(l) / l                            # the scaled step grows faster


def test_muon_quintic_does_not_fix_one_and_settles_on_a_cycle():
    a, b, c = MUON
    q = lambda x: a * x + b * x**3 + c * x**5  # noqa: E731
    assert abs(q(1.0) - 1) > 0.25
    x = 1.0
    for _ in range(2000):
        x = q(x)
    orbit = [x, q(x), q(q(x)), q(q(q(x)))]
    assert q(orbit[-1]) == pytest.approx(orbit[0], abs=1e-9)
    assert 0.5 < min(orbit) < 0.75 and 1.0 < max(orbit) < 1.5


@pytest.mark.parametrize("method", ["newton_schulz", "qdwh"])
def test_polar_factor_is_the_svd_one(method):
    A = matrices.with_condition_number(120, 80, 1e3, seed=2)
    res = gdlinalg.polar_result(A, method=method)
    U, H = res.solution
    assert res.converged and res.method == method
    assert float(torch.linalg.matrix_norm(U - _svd_polar(A)) / math.sqrt(80)) < 1e-12
    torch.testing.assert_close(H, H.mT)
    assert float(torch.linalg.eigvalsh(H).min()) > 0


def test_qdwh_takes_fewer_steps_than_newton_schulz_and_at_most_six():
    for seed in range(3):
        A = matrices.with_condition_number(100, 100, 1e3, seed=seed)
        ns = gdlinalg.polar_result(A).iterations
        qd = gdlinalg.polar_result(A, method="qdwh").iterations
        assert qd <= 6 < ns


def test_sign_function_split_decouples_a_symmetric_matrix():
    # The polar factor of a symmetric nonsingular matrix is its sign function.
    H = matrices.random_symmetric(40, seed=7)
    lam = torch.linalg.eigvalsh(H)
    mu = float(0.5 * (lam[19] + lam[20]))
    S = gdlinalg.polar(H - mu * torch.eye(40, dtype=torch.float64)).U
    P = 0.5 * (torch.eye(40, dtype=torch.float64) + S)
    torch.testing.assert_close(P @ P, P, atol=1e-12, rtol=0)
    k = round(float(torch.trace(P)))
    assert k == int((lam > mu).sum()) == 20
    Q1 = torch.linalg.qr(P @ torch.randn(40, k, dtype=torch.float64, generator=torch.Generator().manual_seed(0))).Q
    Q2 = torch.linalg.qr((torch.eye(40, dtype=torch.float64) - P)
                         @ torch.randn(40, 40 - k, dtype=torch.float64, generator=torch.Generator().manual_seed(1))).Q
    assert float(torch.linalg.matrix_norm(Q2.T @ H @ Q1)) < 1e-12 * float(torch.linalg.matrix_norm(H))
    blocks = torch.cat([torch.linalg.eigvalsh(Q1.T @ H @ Q1), torch.linalg.eigvalsh(Q2.T @ H @ Q2)])
    torch.testing.assert_close(torch.sort(blocks).values, lam, atol=1e-12, rtol=0)


def test_svd_from_a_polar_decomposition_and_an_eigendecomposition():
    A = matrices.with_condition_number(90, 90, 1e3, seed=3)
    Up, Hp = gdlinalg.polar(A)
    w, V = gdlinalg.eigh(Hp)
    assert float(torch.linalg.matrix_norm((Up @ V) * w @ V.T - A) / torch.linalg.matrix_norm(A)) < 1e-13
    torch.testing.assert_close(w.flip(0), torch.linalg.svdvals(A), atol=1e-13, rtol=0)


def test_a_member_of_a_batch_leaves_the_sign_iteration_once_it_has_converged():
    # Divide and conquer splits thousands of small blocks in one batched iteration, and a few of
    # them have an eigenvalue near the split point: the others must not step on with them.
    from torch.overrides import TorchFunctionMode

    from gdlinalg._impl.polar import newton_schulz

    n = 20
    easy = torch.cat([torch.linspace(-1, -0.1, 10, dtype=torch.float64), torch.linspace(0.1, 1, 10, dtype=torch.float64)])
    hard = easy.clone()
    hard[10] = 1e-5                                        # an eigenvalue next to the split point 0
    H = torch.stack([matrices.random_symmetric(n, eigenvalues=easy, seed=1),
                     matrices.random_symmetric(n, eigenvalues=hard, seed=2)])

    class CountProducts(TorchFunctionMode):
        matrices = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func in (torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__):
                CountProducts.matrices += args[0].shape[0]
            return func(*args, **(kwargs or {}))

    alone = [newton_schulz(H[i : i + 1], hermitian=True, lower=0.1 / n) for i in range(2)]
    with CountProducts():
        S, steps = newton_schulz(H, hermitian=True, lower=0.1 / n)
    s_easy, s_hard = alone[0][1], alone[1][1]
    assert s_easy < s_hard == steps
    # Two products a step: both members for the easy one's steps, then the hard one alone.
    assert CountProducts.matrices == 2 * (2 * s_easy) + 2 * (s_hard - s_easy)
    for i, lam in enumerate((easy, hard)):
        torch.testing.assert_close(S[i], alone[i][0][0], atol=1e-14, rtol=0)
        w, V = torch.linalg.eigh(H[i])
        torch.testing.assert_close(S[i], (V * torch.sign(w)) @ V.T, atol=1e-12, rtol=0)
