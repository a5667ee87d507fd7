"""Methods: the facts the chapters "Eigenvalues by gradient methods" (book/eigenvalues.md) and
"Partial decompositions" (book/partial.md) rest on, recomputed with ``gdlinalg`` and
``torch.autograd``. The built pages are checked in ``tests/book/test_chapter_pages.py``.
"""

from __future__ import annotations

import math

import pytest
import torch

import gdlinalg
from gdlinalg import matrices

U64 = torch.finfo(torch.float64).eps / 2


def _family(delta: float, n: int) -> torch.Tensor:
    """The chapter's test matrices: lambda_1 = 1 and n - 1 eigenvalues packed towards the ends of
    [0, 1 - delta]."""
    j = torch.arange(n - 1, dtype=torch.float64)
    bulk = (1 - delta) * (1 + torch.cos(math.pi * j / (n - 2))) / 2
    return matrices.random_symmetric(n, eigenvalues=torch.cat([torch.ones(1, dtype=torch.float64), bulk]), seed=1)


def test_rayleigh_quotient_gradient_and_hessian_at_every_eigenvector():
    lam = torch.tensor([2.5, 1.0, 0.5, -0.5, -2.0, -3.0], dtype=torch.float64)
    A = matrices.random_symmetric(6, eigenvalues=lam, seed=3)

    def rho(x):
        return x @ A @ x / (x @ x)

    x = torch.randn(6, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    rho(x).backward()
    assert torch.allclose(x.grad, 2 * (A @ x - rho(x) * x) / (x @ x), atol=50 * U64)
    w, V = torch.linalg.eigh(A)
    for i in range(6):
        H = torch.autograd.functional.hessian(rho, V[:, i])
        expected = (2 * (w - w[i])).sort().values            # 0 along v_i itself
        assert torch.allclose(torch.linalg.eigvalsh(H), expected, atol=100 * U64 * lam.abs().max())
        assert int((torch.linalg.eigvalsh(H) > 1e-9).sum()) == 5 - i    # directions uphill


@pytest.mark.parametrize("delta", [1e-1, 1e-3])
def test_truncated_eigh_finds_the_top_eigenpair_whatever_the_gap(delta):
    A = _family(delta, 100)
    res = gdlinalg.truncated_eigh_result(A, 1)
    assert res.converged and res.method == "subspace"
    v = torch.linalg.eigh(A).eigenvectors[:, -1]
    x = res.solution.eigenvectors[:, 0]
    # The eigenvector error is bounded by the residual over the gap (||A||_2 = 1).
    assert (x - v * (v @ x)).norm() <= 10 * max(res.residual, 100 * U64) / delta
    assert abs(res.solution.eigenvalues[0] - 1) <= 100 * 100 * U64


def test_jacobi_sweeps_do_not_depend_on_the_gap():
    """Eight decades of gap, and the sweep count stays in a narrow band. Its exact value moves
    with rounding (measured 9–14 for n = 60 with 1–4 threads, in no order of the gap), so the band
    is asserted, not equality."""
    sweeps = {}
    for delta in (1e-2, 1e-6, 1e-10):
        A = _family(delta, 60)
        res = gdlinalg.eigh_result(A, method="jacobi")
        assert res.converged and res.method == "jacobi"
        assert torch.allclose(res.solution.eigenvalues, torch.linalg.eigvalsh(A), atol=100 * 60 * U64)
        sweeps[delta] = res.iterations
    assert max(sweeps.values()) <= 16 and max(sweeps.values()) - min(sweeps.values()) <= 4, sweeps
