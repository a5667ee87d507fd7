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


# ------------------------------------------------------------------------------------------------
# Rayleigh–Ritz in subspace iteration: nearly diagonal matrices rotated to diagonal at once
# ------------------------------------------------------------------------------------------------

RITZ_DTYPES = [torch.float32, torch.float64, torch.complex64, torch.complex128]


def _nearly_diagonal(d: torch.Tensor, size: float, dtype: torch.dtype, seed: int, hermitian: bool) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    E = size * torch.randn(3, *d.shape[-1:] * 2, generator=g, dtype=torch.float64)
    if dtype.is_complex:
        E = E + 1j * size * torch.randn(E.shape, generator=g, dtype=torch.float64)
    C = torch.diag_embed(d).to(E.dtype) + E
    if hermitian:
        C = 0.5 * (C + C.mH)
    return C.to(dtype)


@pytest.mark.parametrize("dtype", RITZ_DTYPES)
def test_rayleigh_ritz_matrices_rotated_to_diagonal_agree_with_torch(dtype):
    from gdlinalg._impl.subspace import _rotate_to_diagonal_svd, _ritz_eigh

    u = torch.finfo(dtype).eps
    d = torch.linspace(1, 0.05, 20, dtype=torch.float64)
    H = _nearly_diagonal(d, 1e-3, dtype, 0, hermitian=True)
    w, Y = _ritz_eigh(H)
    ref = torch.linalg.eigvalsh(H).flip(-1)
    assert torch.allclose(w, ref.to(w.dtype), atol=50 * u, rtol=0)
    assert (H @ Y - Y * w.unsqueeze(-2).to(dtype)).abs().max() <= 50 * u
    assert (Y.mH @ Y - torch.eye(20, dtype=dtype)).abs().max() <= 50 * u
    # Signed diagonal (as a QR factor's R has): the rows take the signs.
    C = _nearly_diagonal(d * torch.tensor([1.0, -1.0]).repeat(10).to(torch.float64), 1e-3, dtype, 1, hermitian=False)
    U, S, Vh = _rotate_to_diagonal_svd(C)
    assert torch.allclose(S, torch.linalg.svdvals(C).to(S.dtype), atol=50 * u, rtol=0)
    assert ((U * S.unsqueeze(-2).to(dtype)) @ Vh - C).abs().max() <= 50 * u
    assert (U.mH @ U - torch.eye(20, dtype=dtype)).abs().max() <= 50 * u
    assert (Vh @ Vh.mH - torch.eye(20, dtype=dtype)).abs().max() <= 50 * u


def test_rotation_to_diagonal_gives_way_to_jacobi_at_a_cluster_or_far_from_diagonal():
    """One odd member (two diagonal entries closer than their coupling) sends the whole batch to
    Jacobi, which still gets every member right."""
    from gdlinalg._impl.subspace import _rotate_to_diagonal, _rotate_to_diagonal_svd, _ritz_eigh

    d = torch.linspace(1, 0.05, 20, dtype=torch.float64)
    H = _nearly_diagonal(d, 1e-4, torch.float64, 2, hermitian=True)
    H[1, 5, 5] = H[1, 6, 6] = 0.5
    H[1, 5, 6] = H[1, 6, 5] = 1e-3
    assert _rotate_to_diagonal(H) is None
    assert _rotate_to_diagonal_svd(H) is None
    w, Y = _ritz_eigh(H)
    assert torch.allclose(w, torch.linalg.eigvalsh(H).flip(-1), atol=1e-13, rtol=0)
    assert (H @ Y - Y * w.unsqueeze(-2)).abs().max() <= 1e-13
    G = torch.randn(1, 20, 20, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    assert _rotate_to_diagonal(G + G.mH) is None


@pytest.mark.parametrize("op", ["truncated_eigh", "truncated_svd"])
def test_subspace_iteration_runs_jacobi_only_while_the_ritz_vectors_are_rough(op, monkeypatch):
    """Once the Ritz vectors are good (the basis is the previous Ritz vectors, filtered), the small
    Rayleigh–Ritz matrices are nearly diagonal and are rotated to diagonal without Jacobi: here
    from the third on (the second still has off-diagonal entries of the size of the gaps). A
    count, not a time: the time is in benchmarks/."""
    from gdlinalg._impl import subspace

    calls = []
    name = "jacobi_eigh" if op == "truncated_eigh" else "jacobi_svd"
    original = getattr(subspace, name)
    monkeypatch.setattr(subspace, name, lambda *a, **k: calls.append(1) or original(*a, **k))
    w = 0.9 ** torch.arange(300, dtype=torch.float64)
    if op == "truncated_eigh":
        A = matrices.random_symmetric(300, eigenvalues=w, seed=4)
        res = gdlinalg.truncated_eigh_result(A, 10)
        ref = torch.linalg.eigvalsh(A).flip(-1)[:10]
        got = res.solution.eigenvalues
    else:
        A = matrices.with_singular_values(400, 300, w, seed=4)
        res = gdlinalg.truncated_svd_result(A, 10)
        ref = torch.linalg.svdvals(A)[:10]
        got = res.solution.S
    assert res.converged and res.iterations >= 3
    assert len(calls) <= 2, f"Jacobi ran on {len(calls)} of {res.iterations} Rayleigh–Ritz matrices"
    assert torch.allclose(got, ref, atol=100 * 300 * U64, rtol=0)


def test_divide_and_conquer_builds_only_the_smaller_side_of_a_single_block(monkeypatch):
    # A geometric spectrum splits unevenly (about 37 of 462 eigenvalues above the mean of the
    # diagonal): the larger side comes from a complete QR of the smaller one, so no reduced QR of
    # a single block has more than half its columns, and the answer is still torch's.
    from gdlinalg._impl import divide

    n = 160
    A = matrices.random_symmetric(n, eigenvalues=0.9 ** torch.arange(n, dtype=torch.float64), seed=4)
    calls = []
    qr = torch.linalg.qr

    def recording_qr(X, mode="reduced"):
        calls.append((tuple(X.shape), mode))
        return qr(X, mode=mode)

    monkeypatch.setattr(divide.torch.linalg, "qr", recording_qr)
    w, V, _, ok = divide.divide_and_conquer(A.unsqueeze(0))
    monkeypatch.undo()
    single = [(shape, mode) for shape, mode in calls if shape[0] == 1]
    assert any(mode == "complete" for _, mode in single)
    assert all(shape[-1] <= shape[-2] // 2 for shape, mode in single if mode == "reduced")
    assert bool(ok.all())
    torch.testing.assert_close(w[0], torch.linalg.eigvalsh(A), atol=20 * U64, rtol=0)
    assert float(torch.linalg.matrix_norm(A @ V[0] - V[0] * w[0])) <= 50 * U64 * float(torch.linalg.matrix_norm(A))
