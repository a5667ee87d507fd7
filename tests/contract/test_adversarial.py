"""Contract: inputs a numerical analyst would try (``benchmarks/adversarial.py``): every answer must
be accurate, within 20x torch.linalg's error measured the same way (or a dtype-scaled floor), with
no warning; a singular matrix must raise. Anything else (a flagged, silently wrong or falsely
refused answer, a spurious warning) fails.

Also: scaling the input by a power of two scales every answer exactly (a property, by hypothesis).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import gdlinalg
from benchmarks.adversarial import all_cases, classify
from gdlinalg import matrices

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[f"{c.cls}: {c.name}" for c in CASES])
def test_adversarial_case_is_accurate(case):
    v = classify(case)
    assert v.outcome == "accurate", (
        f"{v.outcome}: error {v.error:.3e}, bound {v.bound:.3e}; {v.message}"
    )


def test_every_class_has_three_cases():
    classes = {}
    for c in CASES:
        classes[c.cls] = classes.get(c.cls, 0) + 1
    assert set(classes) == {"scale", "pinv", "batch", "solve", "inv", "relative", "truncated", "range"}
    assert min(classes.values()) >= 3


# ------------------------------------------------------------------------------------------------
# power-of-two scaling is exact
# ------------------------------------------------------------------------------------------------

DTYPES = [torch.float32, torch.float64, torch.complex64, torch.complex128]
# Exponents that keep every entry (and every answer) normal in each dtype.
MAX_EXP = {torch.float32: 100, torch.complex64: 100, torch.float64: 900, torch.complex128: 900}


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.equal(a, b)


@settings(max_examples=25, deadline=None)
@given(dtype=st.sampled_from(DTYPES), j=st.integers(-1000, 1000), seed=st.integers(0, 50))
def test_power_of_two_scaling_is_exact(dtype, j, seed):
    j = max(-MAX_EXP[dtype], min(MAX_EXP[dtype], j))
    f = 2.0 ** j
    A = matrices.with_condition_number(7, 7, 50.0, seed=seed, dtype=dtype)
    R = matrices.with_condition_number(9, 6, 30.0, seed=seed + 1, dtype=dtype)
    H = matrices.random_symmetric(7, seed=seed + 2, dtype=dtype)
    b = matrices.with_condition_number(7, 2, 2.0, seed=seed + 3, dtype=dtype)
    # inv(2^j A) = 2^-j inv(A)
    assert _same(gdlinalg.inv(A * f), gdlinalg.inv(A) / f)
    # solve(2^j A, b) = 2^-j solve(A, b); solve(A, 2^j b) = 2^j solve(A, b)
    assert _same(gdlinalg.solve(A * f, b), gdlinalg.solve(A, b) / f)
    assert _same(gdlinalg.solve(A, b * f), gdlinalg.solve(A, b) * f)
    # pinv(2^j R) = 2^-j pinv(R), for both methods
    for method in ("svd", "newton_schulz"):
        assert _same(gdlinalg.pinv(R * f, method=method), gdlinalg.pinv(R, method=method) / f)
    # polar: the same U, H times 2^j
    for method in ("newton_schulz", "qdwh"):
        U1, H1 = gdlinalg.polar(R * f, method=method)
        U0, H0 = gdlinalg.polar(R, method=method)
        assert _same(U1, U0) and _same(H1, H0 * f)
    # svd: same vectors, singular values times 2^j
    U1, S1, V1 = gdlinalg.svd(R * f, full_matrices=False)
    U0, S0, V0 = gdlinalg.svd(R, full_matrices=False)
    assert _same(U1, U0) and _same(V1, V0) and _same(S1, S0 * f)
    assert _same(gdlinalg.svdvals(R * f), gdlinalg.svdvals(R) * f)
    # eigh: same vectors, eigenvalues times 2^j
    w1, Q1 = gdlinalg.eigh(H * f)
    w0, Q0 = gdlinalg.eigh(H)
    assert _same(Q1, Q0) and _same(w1, w0 * f)
    # truncated: the same
    U1, S1, V1 = gdlinalg.truncated_svd(R * f, 2)
    U0, S0, V0 = gdlinalg.truncated_svd(R, 2)
    assert _same(U1, U0) and _same(V1, V0) and _same(S1, S0 * f)
    for largest in (True, False):
        w1, Q1 = gdlinalg.truncated_eigh(H * f, 2, largest=largest)
        w0, Q0 = gdlinalg.truncated_eigh(H, 2, largest=largest)
        assert _same(Q1, Q0) and _same(w1, w0 * f)


@pytest.mark.parametrize("j", [-40, -1, 9, 40])
def test_power_of_two_scaling_is_exact_across_the_float_range(j):
    """Entries from about 2^960 to 2^-960 in one matrix: the normalisation keeps every one of them
    (its largest entry is then above 1), and still moves with the input's exponent."""
    f = 2.0 ** j
    two = torch.tensor(2.0, dtype=torch.float64)
    d = torch.pow(two, torch.linspace(960, -960, 8, dtype=torch.float64).round())
    gen = torch.Generator().manual_seed(7)
    A = torch.randn(10, 8, generator=gen, dtype=torch.float64) * d
    U1, S1, V1 = gdlinalg.svd(A * f, full_matrices=False)
    U0, S0, V0 = gdlinalg.svd(A, full_matrices=False)
    assert _same(U1, U0) and _same(V1, V0) and _same(S1, S0 * f)
    assert _same(gdlinalg.pinv(A * f, rtol=0.0), gdlinalg.pinv(A, rtol=0.0) / f)
    dh = torch.pow(two, torch.linspace(480, -480, 8, dtype=torch.float64).round())
    H = matrices.random_spd(8, cond=10.0, seed=8)
    H = dh.unsqueeze(-1) * H * dh
    w1, Q1 = gdlinalg.eigh(H * f)
    w0, Q0 = gdlinalg.eigh(H)
    assert _same(Q1, Q0) and _same(w1, w0 * f)
