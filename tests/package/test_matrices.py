"""Package: the test matrices (``gdlinalg.matrices``) have the spectra they promise, are seeded and
validate their arguments."""

import pytest
import torch

from gdlinalg import matrices

DTYPES = [torch.float32, torch.float64, torch.complex64, torch.complex128]
TOL = {torch.float32: 1e-5, torch.complex64: 1e-5, torch.float64: 1e-12, torch.complex128: 1e-12}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4)])
def test_with_singular_values(shape, dtype):
    s = torch.tensor([3.0, 1.0, 0.25])
    if min(shape) == 4:
        s = torch.tensor([3.0, 1.0, 0.5, 0.25])
    A = matrices.with_singular_values(*shape, s, seed=3, dtype=dtype)
    assert A.shape == shape and A.dtype == dtype
    torch.testing.assert_close(torch.linalg.svdvals(A).double(), s.double(), rtol=0, atol=10 * TOL[dtype])
    if dtype.is_complex:
        assert A.imag.abs().max() > 0.01


def test_seeding_is_private_and_reproducible():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    A = matrices.with_condition_number(4, 4, 10.0, seed=5)
    assert torch.equal(torch.rand(3), expected)  # the global RNG was not touched
    assert torch.equal(A, matrices.with_condition_number(4, 4, 10.0, seed=5))
    assert not torch.equal(A, matrices.with_condition_number(4, 4, 10.0, seed=6))


@pytest.mark.parametrize("distribution", ["geometric", "arithmetic"])
def test_with_condition_number(distribution):
    A = matrices.with_condition_number(7, 5, 1e3, distribution=distribution)
    s = torch.linalg.svdvals(A)
    assert float(s[0]) == pytest.approx(1.0) and float(s[0] / s[-1]) == pytest.approx(1e3)
    assert matrices.with_condition_number(3, 3, 1.0).dtype == torch.float64


@pytest.mark.parametrize("dtype", DTYPES)
def test_random_spd(dtype):
    A = matrices.random_spd(6, cond=100.0, dtype=dtype)
    assert torch.equal(A, A.mH)
    w = torch.linalg.eigvalsh(A).double()
    assert float(w[0]) > 0
    assert float(w[-1] / w[0]) == pytest.approx(100.0, rel=1e3 * TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_random_symmetric(dtype):
    w = torch.tensor([-2.0, -0.5, 1.0, 4.0], dtype=torch.float64)
    A = matrices.random_symmetric(4, eigenvalues=w, dtype=dtype, seed=2)
    assert torch.equal(A, A.mH)
    torch.testing.assert_close(torch.linalg.eigvalsh(A).double(), w, rtol=0, atol=10 * TOL[dtype])
    B = matrices.random_symmetric(5, dtype=dtype)
    assert torch.equal(B, B.mH)


@pytest.mark.parametrize("shape, rank", [((6, 4), 2), ((4, 6), 3), ((5, 5), 0), ((3, 3), 3)])
def test_rank_deficient(shape, rank):
    A = matrices.rank_deficient(*shape, rank)
    s = torch.linalg.svdvals(A)
    assert int((s > 1e-10).sum()) == rank
    if rank:
        assert 1 - 1e-12 <= float(s[rank - 1]) and float(s[0]) <= 2 + 1e-12


def test_close_singular_values():
    s = torch.linalg.svdvals(matrices.close_singular_values(6, 4, gap=1e-3))
    assert float(s[0] - s[1]) == pytest.approx(1e-3, rel=1e-8)
    assert float(s[1] - s[2]) > 0.5


def test_hilbert():
    H = matrices.hilbert(4)
    assert float(H[1, 2]) == pytest.approx(1 / 4)
    assert float(torch.linalg.cond(H)) == pytest.approx(15513.7, rel=1e-4)
    assert matrices.hilbert(3, dtype=torch.float32).dtype == torch.float32


def test_blog_matrices_are_the_blog_s_global_seed_draws():
    inv = matrices.blog_inverse_matrices()
    assert inv["random"].dtype == torch.float32
    torch.manual_seed(314)
    assert torch.equal(inv["random"], torch.rand(4, 4))
    torch.testing.assert_close(inv["diagonal"], torch.diag(torch.tensor([1.0, 2.0, 3.0, 4.0])))
    svd = matrices.blog_svd_matrices(dtype=torch.float64)
    assert {k: tuple(v.shape) for k, v in svd.items()} == {
        "M1": (5, 4), "M2": (4, 4), "M3": (7, 4), "M4": (4, 3), "M5": (4, 3)}
    for seed, name, shape in [(314, "M1", (5, 4)), (315, "M2", (4, 4)), (316, "M3", (7, 4)), (317, "M5", (4, 3))]:
        torch.manual_seed(seed)
        assert torch.equal(svd[name], torch.rand(shape).double())
    torch.manual_seed(317)  # M4 is the transpose of a wide draw from M5's seed
    assert torch.equal(matrices.blog_svd_matrices()["M4"], torch.rand(3, 4).T)
    s3 = torch.linalg.svdvals(svd["M3"])
    assert float(s3[2]) == pytest.approx(0.612, abs=1e-3) and float(s3[3]) == pytest.approx(0.554, abs=1e-3)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: matrices.rank_deficient(4, 3, 4), "rank"),
        (lambda: matrices.with_condition_number(3, 3, 0.5), "cond"),
        (lambda: matrices.random_spd(3, cond=float("inf")), "cond"),
        (lambda: matrices.with_singular_values(3, 2, [1.0]), "singular values"),
        (lambda: matrices.with_singular_values(3, 2, [1.0, -1.0]), "non-negative"),
        (lambda: matrices.random_symmetric(3, eigenvalues=[1.0, 2.0]), "eigenvalues"),
        (lambda: matrices.close_singular_values(1, 4), "min"),
        (lambda: matrices.close_singular_values(4, 4, gap=0.7), "gap"),
        (lambda: matrices.hilbert(0), "positive"),
        (lambda: matrices.with_condition_number(3, 3, 10.0, distribution="log"), "distribution"),
        (lambda: matrices.with_singular_values(2, 2, [1.0, 1.0], dtype=torch.int64), "dtype"),
    ],
)
def test_invalid_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
