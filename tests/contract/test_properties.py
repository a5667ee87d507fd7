"""Contract: properties that must hold for every input, checked on inputs drawn by hypothesis."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import gdlinalg

DTYPES = st.sampled_from([torch.float64, torch.complex128])
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


def draw_matrix(seed: int, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if dtype.is_complex:
        return torch.complex(torch.randn(shape, generator=gen, dtype=torch.float64),
                             torch.randn(shape, generator=gen, dtype=torch.float64)).to(dtype)
    return torch.randn(shape, generator=gen, dtype=dtype)


def rel(X: torch.Tensor, Y: torch.Tensor) -> float:
    return float((X - Y).abs().max() / max(float(Y.abs().max()), 1e-300))


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), m=st.integers(1, 9), n=st.integers(1, 9), b=st.integers(1, 3), dtype=DTYPES)
def test_svd_reconstructs_and_is_orthonormal(seed, m, n, b, dtype):
    A = draw_matrix(seed, (b, m, n), dtype)
    U, S, Vh = gdlinalg.svd(A, full_matrices=False)
    assert rel((U * S.to(dtype).unsqueeze(-2)) @ Vh, A) < 1e-12
    k = min(m, n)
    I = torch.eye(k, dtype=dtype)
    assert float((U.mH @ U - I).abs().max()) < 1e-12
    assert float((Vh @ Vh.mH - I).abs().max()) < 1e-12
    assert bool((S[..., :-1] >= S[..., 1:]).all()) and bool((S >= 0).all())
    torch.testing.assert_close(S, torch.linalg.svdvals(A), rtol=0, atol=1e-12 * float(S.max()))


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 9), dtype=DTYPES)
def test_inverse_of_diagonally_dominant_matrix(seed, n, dtype):
    # Diagonally dominant, so cond <= 3 and the inverse is well defined.
    A = draw_matrix(seed, (n, n), dtype) / (2 * n) + 2 * torch.eye(n, dtype=dtype)
    X = gdlinalg.inv(A)
    assert float((A @ X - torch.eye(n, dtype=dtype)).abs().max()) < 1.5e-12
    b = draw_matrix(seed + 1, (n, 2), dtype)
    x = gdlinalg.solve(A, b)
    assert float((A @ x - b).abs().max()) < 1.5e-12 * max(1.0, float(b.abs().max()))


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), m=st.integers(1, 8), n=st.integers(1, 8), r=st.integers(1, 8), dtype=DTYPES)
def test_pinv_satisfies_penrose_conditions(seed, m, n, r, dtype):
    r = min(r, m, n)
    A = draw_matrix(seed, (m, r), dtype) @ draw_matrix(seed + 1, (r, n), dtype)
    s = torch.linalg.svdvals(A)
    if float(s[r - 1] / s[0]) < 1e-3:  # keep the kept singular values well separated from zero
        return
    X = gdlinalg.pinv(A)
    assert rel(A @ X @ A, A) < 1e-10
    assert rel(X @ A @ X, X) < 1e-10
    assert rel((A @ X).mH, A @ X) < 1e-10
    assert rel((X @ A).mH, X @ A) < 1e-10


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 10), dtype=DTYPES)
def test_eigh_is_an_eigendecomposition(seed, n, dtype):
    B = draw_matrix(seed, (n, n), dtype)
    A = B + B.mH
    w, V = gdlinalg.eigh(A)
    assert rel(V @ torch.diag_embed(w.to(dtype)) @ V.mH, A) < 1e-12
    assert bool((w[:-1] <= w[1:]).all())
    torch.testing.assert_close(w, torch.linalg.eigvalsh(A), rtol=0, atol=1e-12 * max(1.0, float(w.abs().max())))
