"""Seeded test matrices with known spectra, and the matrices of the 2020 blog series.

Every generator draws from a private :class:`torch.Generator`, never from the global random state,
so that building a test matrix does not change what ``torch.rand`` returns next in a notebook, and
the same ``seed`` always gives the same matrix. Random orthogonal (unitary, for complex dtypes)
factors are Haar distributed: the Q factor of a Gaussian matrix with the signs of ``R``'s diagonal
moved into ``Q``.

Examples
--------
>>> import torch
>>> from gdlinalg import matrices
>>> A = matrices.with_singular_values(5, 3, [3.0, 2.0, 1.0])
>>> torch.linalg.svdvals(A)
tensor([3.0000, 2.0000, 1.0000], dtype=torch.float64)
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

__all__ = [
    "with_singular_values",
    "with_condition_number",
    "random_spd",
    "random_symmetric",
    "rank_deficient",
    "close_singular_values",
    "graded",
    "hilbert",
    "blog_inverse_matrices",
    "blog_svd_matrices",
]

_DTYPES = (torch.float32, torch.float64, torch.complex64, torch.complex128)


def _check_dtype(dtype: torch.dtype) -> torch.dtype:
    if dtype not in _DTYPES:
        raise ValueError(f"unsupported dtype {dtype}: expected one of float32, float64, complex64, complex128")
    return dtype


def _check_size(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"expected {name} to be a positive int, got {value!r}")
    return value


def _haar(m: int, k: int, gen: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    """``m x k`` matrix with orthonormal columns, the first ``k`` columns of a Haar unitary.

    Drawn in double precision and cast at the end, so that float32 matrices are orthonormal to
    float32 accuracy and share their spectrum with the float64 matrix of the same seed.
    """
    if dtype.is_complex:
        G = torch.complex(
            torch.randn(m, k, generator=gen, dtype=torch.float64),
            torch.randn(m, k, generator=gen, dtype=torch.float64),
        )
    else:
        G = torch.randn(m, k, generator=gen, dtype=torch.float64)
    Q, R = torch.linalg.qr(G)
    # Without this sign fix QR's convention would bias the distribution away from Haar.
    d = R.diagonal()
    phase = torch.where(d.abs() > 0, d / d.abs(), torch.ones_like(d))
    return Q * phase.unsqueeze(-2)


def _from_spectrum(m: int, n: int, s: torch.Tensor, gen: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    k = s.numel()
    U = _haar(m, k, gen, dtype)
    V = _haar(n, k, gen, dtype)
    A = (U * s.to(U.dtype).unsqueeze(-2)) @ V.mH
    return A.to(dtype)


def with_singular_values(
    m: int, n: int, s: Sequence[float] | torch.Tensor, *, seed: int = 0, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """An ``m x n`` matrix ``U diag(s) V^H`` with prescribed singular values.

    Parameters
    ----------
    m, n : int
        Shape of the matrix.
    s : sequence of float or torch.Tensor
        The ``min(m, n)`` singular values, non-negative and finite (any order; zeros allowed).
    seed : int, keyword-only
        Seed of the private generator that draws ``U`` and ``V``.
    dtype : torch.dtype, keyword-only
        float32, float64 (default), complex64 or complex128; complex dtypes give complex unitary
        factors.

    Returns
    -------
    torch.Tensor
        Shape ``(m, n)``.

    Raises
    ------
    ValueError
        If ``s`` has the wrong length or contains negative or non-finite values.

    Examples
    --------
    >>> import torch
    >>> from gdlinalg.matrices import with_singular_values
    >>> A = with_singular_values(4, 2, [2.0, 0.5], seed=1)
    >>> torch.linalg.svdvals(A)
    tensor([2.0000, 0.5000], dtype=torch.float64)
    """
    _check_size("m", m)
    _check_size("n", n)
    _check_dtype(dtype)
    s = torch.as_tensor(s, dtype=torch.float64).flatten()
    k = min(m, n)
    if s.numel() != k:
        raise ValueError(f"expected min(m, n) = {k} singular values, got {s.numel()}")
    if not bool(torch.isfinite(s).all()) or bool((s < 0).any()):
        raise ValueError(f"expected finite, non-negative singular values, got {s.tolist()}")
    gen = torch.Generator(device="cpu").manual_seed(seed)
    return _from_spectrum(m, n, s, gen, dtype)


def with_condition_number(
    m: int,
    n: int,
    cond: float,
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    distribution: str = "geometric",
) -> torch.Tensor:
    """An ``m x n`` matrix with largest singular value 1 and condition number ``cond``.

    Parameters
    ----------
    m, n : int
        Shape of the matrix.
    cond : float
        The 2-norm condition number, ``>= 1``.
    seed : int, keyword-only
        Seed of the private generator.
    dtype : torch.dtype, keyword-only
        Default float64.
    distribution : {"geometric", "arithmetic"}, keyword-only
        How the singular values are spaced between ``1`` and ``1/cond``.

    Returns
    -------
    torch.Tensor
        Shape ``(m, n)``.

    Raises
    ------
    ValueError
        If ``cond < 1`` or is not finite, or ``distribution`` is unknown.

    Examples
    --------
    >>> import torch
    >>> from gdlinalg.matrices import with_condition_number
    >>> A = with_condition_number(6, 6, 1e3)
    >>> float(torch.linalg.cond(A))  # doctest: +ELLIPSIS
    1000.0...
    """
    _check_size("m", m)
    _check_size("n", n)
    if not math.isfinite(cond) or cond < 1:
        raise ValueError(f"expected a finite condition number cond >= 1, got {cond!r}")
    k = min(m, n)
    if distribution == "geometric":
        t = torch.linspace(0, 1, k, dtype=torch.float64) if k > 1 else torch.zeros(1, dtype=torch.float64)
        s = torch.tensor(float(cond), dtype=torch.float64) ** (-t)
    elif distribution == "arithmetic":
        s = torch.linspace(1, 1 / cond, k, dtype=torch.float64) if k > 1 else torch.ones(1, dtype=torch.float64)
    else:
        raise ValueError(f"unknown distribution {distribution!r}: expected 'geometric' or 'arithmetic'")
    return with_singular_values(m, n, s, seed=seed, dtype=dtype)


def random_spd(n: int, *, cond: float = 10.0, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A symmetric (Hermitian) positive definite ``n x n`` matrix with condition number ``cond``.

    The eigenvalues are geometrically spaced from ``1`` down to ``1/cond``.

    Parameters
    ----------
    n : int
        Size.
    cond : float, keyword-only
        Condition number, ``>= 1`` (default 10).
    seed : int, keyword-only
        Seed of the private generator.
    dtype : torch.dtype, keyword-only
        Default float64.

    Returns
    -------
    torch.Tensor
        Shape ``(n, n)``, exactly Hermitian.

    Raises
    ------
    ValueError
        If ``cond < 1``.

    Examples
    --------
    >>> import torch
    >>> from gdlinalg.matrices import random_spd
    >>> A = random_spd(4, cond=100.0)
    >>> torch.linalg.eigvalsh(A)[[0, -1]]
    tensor([0.0100, 1.0000], dtype=torch.float64)
    """
    _check_size("n", n)
    if not math.isfinite(cond) or cond < 1:
        raise ValueError(f"expected a finite condition number cond >= 1, got {cond!r}")
    t = torch.linspace(0, 1, n, dtype=torch.float64) if n > 1 else torch.zeros(1, dtype=torch.float64)
    w = torch.tensor(float(cond), dtype=torch.float64) ** (-t)
    return random_symmetric(n, seed=seed, dtype=dtype, eigenvalues=w)


def random_symmetric(
    n: int,
    *,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    eigenvalues: Sequence[float] | torch.Tensor | None = None,
) -> torch.Tensor:
    """A symmetric (Hermitian, for complex dtypes) ``n x n`` matrix ``Q diag(w) Q^H``.

    Parameters
    ----------
    n : int
        Size.
    seed : int, keyword-only
        Seed of the private generator.
    dtype : torch.dtype, keyword-only
        Default float64.
    eigenvalues : sequence of float or torch.Tensor, optional, keyword-only
        The ``n`` real eigenvalues. By default standard normal values drawn from the same
        generator.

    Returns
    -------
    torch.Tensor
        Shape ``(n, n)``, exactly Hermitian (symmetrised after the product).

    Raises
    ------
    ValueError
        If ``eigenvalues`` does not have ``n`` finite entries.

    Examples
    --------
    >>> import torch
    >>> from gdlinalg.matrices import random_symmetric
    >>> A = random_symmetric(3, eigenvalues=[-1.0, 2.0, 5.0])
    >>> torch.linalg.eigvalsh(A)
    tensor([-1.0000,  2.0000,  5.0000], dtype=torch.float64)
    """
    _check_size("n", n)
    _check_dtype(dtype)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    if eigenvalues is None:
        w = torch.randn(n, generator=gen, dtype=torch.float64)
    else:
        w = torch.as_tensor(eigenvalues, dtype=torch.float64).flatten()
        if w.numel() != n:
            raise ValueError(f"expected {n} eigenvalues, got {w.numel()}")
        if not bool(torch.isfinite(w).all()):
            raise ValueError("eigenvalues contain NaN or Inf")
    Q = _haar(n, n, gen, dtype)
    A = (Q * w.to(Q.dtype).unsqueeze(-2)) @ Q.mH
    # Rounding leaves A Hermitian only to O(eps); eigh-style methods deserve an exact one.
    A = (A + A.mH) / 2
    return A.to(dtype)


def rank_deficient(m: int, n: int, rank: int, *, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """An ``m x n`` matrix of exact rank ``rank`` with nonzero singular values in ``[1, 2]``.

    Parameters
    ----------
    m, n : int
        Shape.
    rank : int
        ``0 <= rank <= min(m, n)``.
    seed : int, keyword-only
        Seed of the private generator.
    dtype : torch.dtype, keyword-only
        Default float64.

    Returns
    -------
    torch.Tensor
        Shape ``(m, n)``; its trailing ``min(m, n) - rank`` singular values are zero up to
        rounding.

    Raises
    ------
    ValueError
        If ``rank`` is negative or exceeds ``min(m, n)``.

    Examples
    --------
    >>> from gdlinalg.matrices import rank_deficient
    >>> import torch
    >>> int(torch.linalg.matrix_rank(rank_deficient(6, 4, 2)))
    2
    """
    _check_size("m", m)
    _check_size("n", n)
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank <= min(m, n):
        raise ValueError(f"expected 0 <= rank <= min(m, n) = {min(m, n)}, got rank={rank!r}")
    k = min(m, n)
    s = torch.zeros(k, dtype=torch.float64)
    if rank:
        s[:rank] = torch.linspace(2.0, 1.0, rank, dtype=torch.float64) if rank > 1 else 1.5
    return with_singular_values(m, n, s, seed=seed, dtype=dtype)


def close_singular_values(
    m: int, n: int, *, gap: float = 1e-2, seed: int = 0, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """An ``m x n`` matrix whose two leading singular values are ``1`` and ``1 - gap``.

    The other singular values are spaced evenly down to ``0.1``, well away from the pair, so the
    pair is the only hard case: methods converging at a rate ``s_2 / s_1`` slow down as ``gap``
    shrinks.

    Parameters
    ----------
    m, n : int
        Shape, ``min(m, n) >= 2``.
    gap : float, keyword-only
        ``0 < gap < 0.5``; default ``1e-2``.
    seed : int, keyword-only
        Seed of the private generator.
    dtype : torch.dtype, keyword-only
        Default float64.

    Returns
    -------
    torch.Tensor
        Shape ``(m, n)``.

    Raises
    ------
    ValueError
        If ``min(m, n) < 2`` or ``gap`` is outside ``(0, 0.5)``.

    Examples
    --------
    >>> import torch
    >>> from gdlinalg.matrices import close_singular_values
    >>> s = torch.linalg.svdvals(close_singular_values(5, 4, gap=1e-3))
    >>> round(float(s[0] - s[1]), 6)
    0.001
    """
    _check_size("m", m)
    _check_size("n", n)
    k = min(m, n)
    if k < 2:
        raise ValueError(f"expected min(m, n) >= 2 to have two singular values, got shape ({m}, {n})")
    if not 0 < gap < 0.5:
        raise ValueError(f"expected 0 < gap < 0.5, got gap={gap!r}")
    rest = torch.linspace(0.4, 0.1, k - 2, dtype=torch.float64) if k > 3 else torch.full((k - 2,), 0.25, dtype=torch.float64)
    s = torch.cat([torch.tensor([1.0, 1.0 - gap], dtype=torch.float64), rest])
    return with_singular_values(m, n, s, seed=seed, dtype=dtype)


def graded(
    m: int,
    n: int,
    *,
    spread: float = 1e12,
    symmetric: bool = False,
    cond: float = 10.0,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """A graded matrix: a well-conditioned matrix with columns (and rows) scaled from 1 to ``1/spread``.

    ``symmetric=False`` gives ``B D`` with ``B`` an ``m x n`` matrix of condition number ``cond``
    and ``D = diag(1, ..., 1/spread)`` (geometric); ``symmetric=True`` gives the positive definite
    ``D H D`` with ``H`` of condition number ``cond`` and unit diagonal (``m = n`` required). Their
    condition number is of the order of ``spread`` (its square for ``D H D``), yet the small
    singular values (eigenvalues) are determined to a relative accuracy set by ``cond`` alone
    (Demmel & Veselić 1992 prove it for ``B D`` and for the eigenvalues of a positive definite
    ``D H D``): the test case for methods with relative accuracy, such as one-sided Jacobi.

    Parameters
    ----------
    m, n : int
        Shape.
    spread : float, keyword-only
        Ratio of the largest to the smallest scale, ``>= 1`` (default ``1e12``).
    symmetric : bool, keyword-only
        ``D H D`` (positive definite) instead of ``B D``.
    cond : float, keyword-only
        Condition number of the unscaled ``B`` or ``H`` (default 10).
    seed : int, keyword-only
        Seed of the private generator.
    dtype : torch.dtype, keyword-only
        Default float64.

    Returns
    -------
    torch.Tensor
        Shape ``(m, n)``.

    Raises
    ------
    ValueError
        If ``spread < 1``, ``cond < 1``, or ``symmetric`` with ``m != n``.

    Examples
    --------
    >>> import torch
    >>> from gdlinalg.matrices import graded
    >>> A = graded(6, 6, spread=1e8, symmetric=True)
    >>> f"{float(A[0, 0]):.3g} {float(A[-1, -1]):.3g}"
    '1 1e-16'
    """
    _check_size("m", m)
    _check_size("n", n)
    _check_dtype(dtype)
    for name, value in (("spread", spread), ("cond", cond)):
        if not math.isfinite(value) or value < 1:
            raise ValueError(f"expected a finite {name} >= 1, got {value!r}")
    t = torch.linspace(0, 1, n, dtype=torch.float64) if n > 1 else torch.zeros(1, dtype=torch.float64)
    d = torch.tensor(float(spread), dtype=torch.float64) ** (-t)
    if symmetric:
        if m != n:
            raise ValueError(f"expected a square shape for symmetric=True, got ({m}, {n})")
        H = random_spd(n, cond=cond, seed=seed, dtype=torch.complex128 if dtype.is_complex else torch.float64)
        # Unit diagonal, so that D alone carries the scales.
        h = torch.diagonal(H).real.rsqrt()
        H = h.unsqueeze(-1) * H * h.unsqueeze(-2)
        A = d.unsqueeze(-1) * H * d.unsqueeze(-2)
        A = (A + A.mH) / 2
    else:
        B = with_condition_number(m, n, cond, seed=seed, dtype=torch.complex128 if dtype.is_complex else torch.float64)
        A = B * d.unsqueeze(-2)
    return A.to(dtype)


def hilbert(n: int, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The ``n x n`` Hilbert matrix ``H[i, j] = 1 / (i + j + 1)``, a classic ill-conditioned SPD matrix.

    Its condition number grows like ``e^{3.5 n}``: about ``1.5e4`` for ``n = 4`` and ``1.6e13`` for
    ``n = 10``.

    Parameters
    ----------
    n : int
        Size.
    dtype : torch.dtype, keyword-only
        Default float64.

    Returns
    -------
    torch.Tensor
        Shape ``(n, n)``.

    Examples
    --------
    >>> from gdlinalg.matrices import hilbert
    >>> hilbert(3)
    tensor([[1.0000, 0.5000, 0.3333],
            [0.5000, 0.3333, 0.2500],
            [0.3333, 0.2500, 0.2000]], dtype=torch.float64)
    """
    _check_size("n", n)
    _check_dtype(dtype)
    i = torch.arange(n, dtype=torch.float64)
    return (1.0 / (i[:, None] + i[None, :] + 1.0)).to(dtype)


def _blog_rand(seed: int, *shape: int) -> torch.Tensor:
    # A private generator seeded like torch.manual_seed(seed) yields the same float32 numbers as
    # the blog's global-seed calls, without touching the caller's random state.
    gen = torch.Generator(device="cpu").manual_seed(seed)
    return torch.rand(*shape, generator=gen, dtype=torch.float32)


def blog_inverse_matrices(*, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """The two matrices the 2020 blog inverts.

    Parameters
    ----------
    dtype : torch.dtype, keyword-only
        Default float32, the blog's dtype; other dtypes are exact casts of the float32 values.

    Returns
    -------
    dict of str to torch.Tensor
        ``"random"``: ``torch.rand(4, 4)`` after ``torch.manual_seed(314)``;
        ``"diagonal"``: ``diag(1, 2, 3, 4)``.

    Examples
    --------
    >>> from gdlinalg.matrices import blog_inverse_matrices
    >>> sorted(blog_inverse_matrices())
    ['diagonal', 'random']
    """
    _check_dtype(dtype)
    return {
        "random": _blog_rand(314, 4, 4).to(dtype),
        "diagonal": torch.diag(torch.tensor([1.0, 2.0, 3.0, 4.0])).to(dtype),
    }


def blog_svd_matrices(*, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """The five matrices the 2020 blog decomposes.

    Parameters
    ----------
    dtype : torch.dtype, keyword-only
        Default float32, the blog's dtype; other dtypes are exact casts of the float32 values.

    Returns
    -------
    dict of str to torch.Tensor
        ``"M1"``: seed 314, ``rand(5, 4)``; ``"M2"``: seed 315, ``rand(4, 4)``; ``"M3"``: seed
        316, ``rand(7, 4)`` (two close singular values, 0.612 and 0.554); ``"M4"``: seed 317,
        ``rand(3, 4).T``; ``"M5"``: seed 317, ``rand(4, 3)`` (on which the blog recipe collapses a
        singular value to zero).

    Examples
    --------
    >>> from gdlinalg.matrices import blog_svd_matrices
    >>> {k: tuple(v.shape) for k, v in blog_svd_matrices().items()}
    {'M1': (5, 4), 'M2': (4, 4), 'M3': (7, 4), 'M4': (4, 3), 'M5': (4, 3)}
    """
    _check_dtype(dtype)
    mats = {
        "M1": _blog_rand(314, 5, 4),
        "M2": _blog_rand(315, 4, 4),
        "M3": _blog_rand(316, 7, 4),
        "M4": _blog_rand(317, 3, 4).T.contiguous(),
        "M5": _blog_rand(317, 4, 3),
    }
    return {k: v.to(dtype) for k, v in mats.items()}
