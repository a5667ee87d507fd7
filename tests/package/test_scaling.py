"""Package: the power-of-two normalisation (``gdlinalg/_impl/scaling.py``) keeps every entry of a
matrix whose entries span the whole float range, moves with the input's exponent, and its norms
neither overflow nor underflow."""

from __future__ import annotations

import math

import pytest
import torch

from gdlinalg._impl import scaling

DTYPES = [torch.float32, torch.float64, torch.complex64, torch.complex128]
#: Per real dtype, the exponents of a graded diagonal that spans the whole range.
SPAN = {torch.float32: 100, torch.float64: 990}


def _real(dtype: torch.dtype) -> torch.dtype:
    return torch.empty((), dtype=dtype).real.dtype


def _graded(dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    """A 6 x 6 matrix with columns scaled from ``2^SPAN`` to ``2^-SPAN``: entries spanning about
    ``2^(2 SPAN)``, more than one normalisation by the largest entry can hold."""
    span = SPAN[_real(dtype)]
    gen = torch.Generator().manual_seed(seed)
    B = 1 + torch.rand(6, 6, generator=gen, dtype=torch.float64)
    if dtype.is_complex:
        B = torch.complex(B, 1 + torch.rand(6, 6, generator=gen, dtype=torch.float64))
    d = torch.pow(torch.tensor(2.0, dtype=torch.float64), torch.linspace(span, -span, 6, dtype=torch.float64).round())
    return (B * d).to(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_keep_range_flushes_no_entry_and_is_exact(dtype):
    A = _graded(dtype)
    plain, _ = scaling.normalise(A)
    kept, e = scaling.normalise(A, keep_range=True)
    # the plain normalisation loses the small columns; the range-keeping one keeps every entry
    assert bool((plain == 0).any()) and not bool((kept == 0).any())
    low = 2.0 ** -(scaling.RANGE[_real(dtype)] + 1)
    parts = torch.view_as_real(kept).abs() if dtype.is_complex else kept.abs()
    assert float(parts[parts > 0].min()) >= low
    assert torch.equal(scaling.scale(kept, e), A)  # exact: multiplying back restores A bit for bit


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("j", [-20, -1, 0, 3, 17])
def test_keep_range_exponent_moves_with_the_input(dtype, j):
    A = _graded(dtype, seed=1)
    kept, e = scaling.normalise(A, keep_range=True)
    kept_j, e_j = scaling.normalise(A * 2.0 ** j, keep_range=True)
    assert int(e_j) == int(e) + j and torch.equal(kept_j, kept)


@pytest.mark.parametrize("dtype", DTYPES)
def test_narrow_matrices_are_normalised_as_before(dtype):
    gen = torch.Generator().manual_seed(2)
    A = (torch.randn(5, 4, generator=gen, dtype=torch.float64) * 1e20).to(dtype)
    a, ea = scaling.normalise(A)
    b, eb = scaling.normalise(A, keep_range=True)
    assert torch.equal(a, b) and torch.equal(ea, eb)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("exponent", [-1060, -600, -140, 0, 100, 600, 1000])
def test_norm_neither_overflows_nor_underflows(dtype, exponent):
    info = torch.finfo(dtype)
    if not math.log2(info.tiny) - 20 < exponent < math.log2(info.max) - 2:
        pytest.skip("not representable in this dtype")
    x = torch.tensor([3.0, 4.0, 0.0], dtype=torch.float64) * 2.0 ** exponent
    got = scaling.norm(x.to(dtype))
    assert float(got) == pytest.approx(5.0 * 2.0 ** exponent, rel=4 * info.eps)
    if exponent - 30 < math.log2(info.tiny):
        return
    X = torch.stack([x, x / 2 ** 30]).to(dtype)
    torch.testing.assert_close(scaling.norm(X, dim=-1).double(),
                               torch.tensor([5.0, 5.0 / 2 ** 30], dtype=torch.float64) * 2.0 ** exponent,
                               rtol=4 * info.eps, atol=0)
