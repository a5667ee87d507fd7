"""Public, ``torch.linalg``-compatible functions and their ``*_result`` twins.

Every public function validates its input, handles empty and batched input, picks the method kernel
and turns the kernel's :class:`~gdlinalg._impl.outcome.Outcome` into a :class:`Result`. The plain
functions (``inv``, ``svd``, ...) return ``result.solution`` and nothing else, so that they can be
swapped for their ``torch.linalg`` namesakes.

Every method iterates on detached copies of its inputs, so nothing of an iteration is recorded;
when an input requires grad, the answer is then attached to it through the analytic derivative
of the operation (:mod:`gdlinalg._impl.derivatives`), whichever method computed it.
"""

from __future__ import annotations

from typing import Any

import torch

from . import derivatives, pseudoinverse, scaling
from .checks import all_finite, check_hermitian_input, check_matrix, check_rank_k, real_dtype
from .completion import complete_orthonormal
from .dispatch import keep_range, methods, run as _run, scaled
from .result import Result
from .outcome import EighResult, PolarResult, SVDResult



def _flat(A: torch.Tensor) -> torch.Tensor:
    """``(*, m, n) -> (B, m, n)``."""
    return A.reshape(-1, *A.shape[-2:])


def _detached(A: torch.Tensor) -> torch.Tensor:
    # Kernels never write into their input, but detaching keeps autograd out of the iterations.
    return A.detach()


def _prepare(A: torch.Tensor, op: str, method: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The flattened, detached batch, normalised by a power of two per matrix unless ``method``
    refers to the input's own scale (keeping every entry, however small, if the method takes the
    whole float range: ``Method.keep_range``); and the exponents (zeros when not normalised)."""
    A = _flat(_detached(A))
    if scaled(op, method):
        return scaling.normalise(A, keep_range=keep_range(op, method))
    return A, torch.zeros(A.shape[0], dtype=torch.int64, device=A.device)


def _prepare_columns(B: torch.Tensor, op: str, method: str) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_prepare` for right-hand sides: each column normalised by its own power of two
    (exponents ``(B, k)``), so that a column at 1e-250 beside one at 1 keeps all its digits; the
    columns of ``A X = B`` are independent problems."""
    B = _flat(_detached(B))
    if scaled(op, method):
        e = scaling.column_exponents(B)
        return scaling.scale_columns(B, -e), e
    return B, torch.zeros(B.shape[0], B.shape[-1], dtype=torch.int64, device=B.device)


# --------------------------------------------------------------------------------------------
# inv
# --------------------------------------------------------------------------------------------


def inv_result(
    A: torch.Tensor,
    *,
    method: str = "newton_schulz",
    tol: float | None = None,
    max_iter: int | None = None,
    **options: Any,
) -> Result:
    """Invert a square matrix and return the full :class:`Result` (histories, timing, method).

    Parameters
    ----------
    A : torch.Tensor
        Square matrix or batch of square matrices, shape ``(*, n, n)``; float32, float64,
        complex64 or complex128.
    method : {"newton_schulz", "gradient", "blog"}, keyword-only
        ``"newton_schulz"`` (default): Newton's method on ``X^{-1} - A = 0``,
        ``X <- X (2I - A X)``, started from one gradient step ``X0 = alpha A^H``; converges
        quadratically once ``||I - A X|| < 1``, after about ``log2(cond(A)^2)`` iterations.
        For ``n >= 256`` it first tries the start ``X0 = (A^H A)^{-1} A^H`` (the Gram inverse by
        recursive Schur complements, about one to three products' worth of flops), which skips
        those doubling steps when it is good enough: measured up to ``cond(A) = 5e5`` at
        ``n = 300``, not from ``1e6`` on. For ``n <= 32`` it starts from a direct formula (the
        adjugate for ``n <= 3``, 2 x 2 block elimination down to it above), which leaves one to
        three steps to take for all but nearly singular leading blocks, whose members start cold
        (measured on 10,000 random 3 x 3 and 8 x 8 and 2,000 random 32 x 32 matrices, 2 threads:
        9-12x, 8-10x and 5.5-7x LAPACK's time in two runs, against 100-108x, 27-29x and 23-24x
        from the scaled start; see ``benchmarks/``). The residual promised is the right one,
        ``||I - A X||``; ``||I - X A||`` can be up to ``cond(A)`` times larger (measured 8-12 at
        ``n = 60``, ``cond(A) = 1e10``, where LAPACK's is 7e-7), so use ``X`` from the left only for
        well-conditioned ``A``, or solve instead. Columns whose scales differ by more than ``2^10``
        are equilibrated first (by powers of two, exactly).
        ``"gradient"``: minimise ``mse(X A, I)`` (or the ``loss="right"``/``"symmetric"``
        variants) with any ``torch.optim`` optimizer; linear rate governed by ``cond(A)^2``.
        ``"blog"``: the 2020 blog recipe, bit for bit (random start from seed 314, ``lr=0.9``,
        ``grad *= momentum``, 10,000 iterations). Whatever the method, an ``A`` that requires
        grad gets the analytic derivative of the exact inverse, ``dX = -X dA X``, evaluated at the
        answer; the optimizer's steps are not backpropagated through.
    tol : float, optional, keyword-only
        Stop when the residual ``||I - A X||_F / sqrt(n)`` is below ``tol``. By default iterate
        to the attainable accuracy (until the residual stops decreasing quadratically).
    max_iter : int, optional, keyword-only
        Iteration cap; a method-specific default.
    **options
        Method options, e.g. ``optimizer=torch.optim.Adam, optimizer_kwargs={"lr": 1e-2}``,
        ``loss="right"`` for ``"gradient"``; ``lr``, ``momentum``, ``loss`` for ``"blog"``.

    Returns
    -------
    Result
        ``result.solution`` is the inverse, shape ``(*, n, n)``.

    Raises
    ------
    ValueError
        For non-square, non-finite or unsupported input.
    SingularMatrixError
        If ``A`` is numerically singular (``||I - A X||`` cannot be made small).

    Examples
    --------
    >>> import torch, gdlinalg
    >>> A = torch.tensor([[4.0, 1.0], [2.0, 3.0]], dtype=torch.float64)
    >>> res = gdlinalg.inv_result(A)
    >>> res.converged, res.method
    (True, 'newton_schulz')
    >>> torch.allclose(A @ res.solution, torch.eye(2, dtype=torch.float64))
    True
    """
    A = check_matrix(A, square=True)
    if A.numel() == 0:
        return _run("inv", method, (A,), {}, lambda: torch.empty_like(A))
    As, e = _prepare(A, "inv", method)
    res = _run("inv", method, (As,), {"tol": tol, "max_iter": max_iter, **options}, None)
    # A = 2^e As, so A^{-1} = 2^-e As^{-1}: exact.
    X = scaling.scale(res.solution, -e).reshape(A.shape)
    return _replace_solution(res, derivatives.attach_inverse(A, X))


def inv(A: torch.Tensor, *, method: str = "newton_schulz", tol: float | None = None,
        max_iter: int | None = None, **options: Any) -> torch.Tensor:
    """Inverse of a square matrix, a drop-in for :func:`torch.linalg.inv`.

    Parameters
    ----------
    A : torch.Tensor
        Shape ``(*, n, n)``.
    method, tol, max_iter, **options
        Keyword-only; see :func:`inv_result`.

    Returns
    -------
    torch.Tensor
        The inverse, same shape, dtype and device as ``A``.

    Examples
    --------
    >>> import torch, gdlinalg
    >>> A = torch.tensor([[2.0, 0.0], [0.0, 4.0]], dtype=torch.float64)
    >>> gdlinalg.inv(A)
    tensor([[0.5000, 0.0000],
            [0.0000, 0.2500]], dtype=torch.float64)
    """
    return inv_result(A, method=method, tol=tol, max_iter=max_iter, **options).solution


# --------------------------------------------------------------------------------------------
# solve
# --------------------------------------------------------------------------------------------


def _broadcast_solve(A: torch.Tensor, B: torch.Tensor, left: bool) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Shapes exactly as in :func:`torch.linalg.solve`: ``B`` is a (batch of) vector(s) when it is
    1-D or when ``B.shape == A.shape[:-1]``; otherwise it is a (batch of) matrix (matrices), and
    the batch dimensions of ``A`` and ``B`` broadcast. A vector ``B`` is refused with ``left=False``,
    as torch refuses it."""
    if not isinstance(B, torch.Tensor):
        raise TypeError(f"expected B to be a torch.Tensor, got {type(B).__name__}")
    if B.dtype != A.dtype:
        raise ValueError(f"expected A and B to have the same dtype, got {A.dtype} and {B.dtype}")
    n = A.shape[-1]
    vector = B.dim() == 1 or (B.dim() == A.dim() - 1 and B.shape == A.shape[:-1])
    if vector:
        if not left:
            raise ValueError(
                f"B of shape {tuple(B.shape)} is a vector (or a batch of vectors) for A of shape "
                f"{tuple(A.shape)}; left=False (X A = B) needs B of shape (*, k, {n}), as in torch.linalg.solve"
            )
        if B.shape[-1] != n:
            raise ValueError(
                f"incompatible shapes: A has shape {tuple(A.shape)} but the vector B has shape {tuple(B.shape)}"
            )
        B = B.unsqueeze(-1)
    elif B.dim() < 2:
        raise ValueError(f"expected B to be a vector (*, n) or a matrix (*, n, k), got shape {tuple(B.shape)}")
    if not all_finite(B):
        raise ValueError("expected B to have finite entries, got NaN or Inf")
    if left and B.shape[-2] != n:
        raise ValueError(f"incompatible shapes for A X = B: A has shape {tuple(A.shape)} and B has shape {tuple(B.shape)}")
    if not left and B.shape[-1] != n:
        raise ValueError(f"incompatible shapes for X A = B: A has shape {tuple(A.shape)} and B has shape {tuple(B.shape)}")
    try:
        batch = torch.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"batch dimensions of A {tuple(A.shape)} and B {tuple(B.shape)} are not broadcastable"
        ) from None
    A = A.expand(*batch, n, n)
    B = B.expand(*batch, *B.shape[-2:])
    return A, B, vector


def solve_result(
    A: torch.Tensor,
    B: torch.Tensor,
    *,
    left: bool = True,
    method: str = "newton_schulz",
    tol: float | None = None,
    max_iter: int | None = None,
    **options: Any,
) -> Result:
    """Solve ``A X = B`` (or ``X A = B`` with ``left=False``) and return the full :class:`Result`.

    Parameters
    ----------
    A : torch.Tensor
        Square matrix or batch, shape ``(*, n, n)``.
    B : torch.Tensor
        Right-hand side, shape ``(*, n, k)`` or a vector ``(*, n)``; batch dimensions broadcast
        as in :func:`torch.linalg.solve`.
    left : bool, keyword-only
        Solve ``A X = B`` (default) or ``X A = B``.
    method : {"newton_schulz", "cgls", "gradient"}, keyword-only
        ``"newton_schulz"`` (default): the Newton–Schulz inverse ``X`` followed by iterative
        refinement ``x <- x + X (b - A x)`` in working precision, which makes the solution
        backward stable for any ``cond(A)`` well below ``1/u`` (1e12 in float64, 1e5 in float32).
        ``"cgls"``: conjugate gradients on the normal equations ``A^H A X = A^H B`` (CGLS, never
        forming ``A^H A``); about ``cond(A)`` steps, and it loses ``cond(A)^2 u`` to rounding.
        ``"gradient"``: any ``torch.optim`` optimizer on ``mse(A X, B)``. Whatever the method,
        inputs that require grad get the analytic derivative of the exact solve (one more solve,
        with ``A^H``, by the same method), not the optimizer's steps backpropagated.
    tol : float, optional, keyword-only
        Stop when the normwise backward error ``||A x - b|| / (||A||_2 ||x|| + ||b||)`` (largest
        column) is below ``tol``; by default iterate to the attainable accuracy and judge the
        answer against ``50 sqrt(n) u``.
    max_iter : int, optional, keyword-only
        Iteration cap.
    **options
        Method options (see :func:`inv_result`).

    Returns
    -------
    Result
        ``result.solution`` has the shape of ``B`` (broadcast).

    Raises
    ------
    ValueError
        For bad shapes, dtypes or non-finite entries.
    SingularMatrixError
        If ``A`` is numerically singular.

    Examples
    --------
    >>> import torch, gdlinalg
    >>> A = torch.tensor([[3.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    >>> b = torch.tensor([9.0, 8.0], dtype=torch.float64)
    >>> res = gdlinalg.solve_result(A, b)
    >>> res.solution.round(decimals=12)
    tensor([2., 3.], dtype=torch.float64)
    """
    A = check_matrix(A, square=True)
    A, B, vector = _broadcast_solve(A, B, left)
    if not left:
        # X A = B  <=>  A^H X^H = B^H
        A, B = A.mH, B.mH
    if A.numel() == 0 or B.numel() == 0:
        res = _run("solve", method, (A,), {}, lambda: torch.empty_like(B))
        X = res.solution
    else:
        As, ea = _prepare(A, "solve", method)
        Bs, eb = _prepare_columns(B, "solve", method)
        res = _run("solve", method, (As, Bs), {"tol": tol, "max_iter": max_iter, **options}, None)
        # (2^ea As) x_j = 2^eb_j bs_j  <=>  x_j = 2^(eb_j - ea) As^{-1} bs_j, column by column.
        X = scaling.scale_columns(res.solution, eb - ea.unsqueeze(-1)).reshape(B.shape)
        X = derivatives.attach_solve(A, B, X, _adjoint_solver(method, tol, max_iter, options))
    if not left:
        X = X.mH
    if vector:
        X = X.squeeze(-1)
    return _replace_solution(res, X)


def _adjoint_solver(method: str, tol: float | None, max_iter: int | None, options: dict[str, Any]):
    """The solve of the backward pass, ``M Y = G`` with ``M = A^H``: the same method and options."""
    def adjoint(M: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
        return solve(M, G, method=method, tol=tol, max_iter=max_iter, **options)
    return adjoint


def solve(A: torch.Tensor, B: torch.Tensor, *, left: bool = True, method: str = "newton_schulz",
          tol: float | None = None, max_iter: int | None = None, **options: Any) -> torch.Tensor:
    """Solution of ``A X = B``, a drop-in for :func:`torch.linalg.solve`.

    Parameters
    ----------
    A, B : torch.Tensor
        See :func:`solve_result`.
    left, method, tol, max_iter, **options
        Keyword-only; see :func:`solve_result`.

    Returns
    -------
    torch.Tensor

    Examples
    --------
    >>> import torch, gdlinalg
    >>> A = torch.tensor([[2.0, 0.0], [0.0, 4.0]], dtype=torch.float64)
    >>> gdlinalg.solve(A, torch.tensor([2.0, 2.0], dtype=torch.float64))
    tensor([1.0000, 0.5000], dtype=torch.float64)
    """
    return solve_result(A, B, left=left, method=method, tol=tol, max_iter=max_iter, **options).solution


# --------------------------------------------------------------------------------------------
# pinv
# --------------------------------------------------------------------------------------------


def pinv_result(
    A: torch.Tensor,
    *,
    atol: float | torch.Tensor | None = None,
    rtol: float | torch.Tensor | None = None,
    hermitian: bool = False,
    method: str = "svd",
    tol: float | None = None,
    max_iter: int | None = None,
    **options: Any,
) -> Result:
    """Moore–Penrose pseudo-inverse with the full :class:`Result`.

    Parameters
    ----------
    A : torch.Tensor
        Shape ``(*, m, n)``, any rank.
    atol, rtol : float or torch.Tensor, optional, keyword-only
        As in :func:`torch.linalg.pinv`: singular values at or below ``max(atol, rtol * s_1)`` are
        treated as zero, those above are inverted. ``atol`` defaults to 0; ``rtol`` to
        ``max(m, n) * eps`` if ``atol`` is not positive, else to 0. Tensors broadcast over the
        batch.
    hermitian : bool, keyword-only
        Declares ``A`` Hermitian, as in :func:`torch.linalg.pinv`: only the lower triangle is
        read, the cut applies to the absolute eigenvalues and ``X`` is Hermitian.
    method : {"svd", "newton_schulz", "gradient"}, keyword-only
        ``"svd"`` (default): ``V diag(1/s) U^H`` from the package's SVD (its eigendecomposition for
        ``hermitian=True``). ``"newton_schulz"``: ``X <- X (2I - A X)`` from ``X0 = alpha A^H``, with
        ``alpha`` and the number of steps chosen so that the cut-off falls exactly at the midpoint
        of the iteration's smooth step, then finished on the kept singular vectors; about
        ``2 log2(s_1 / cut-off)`` steps (see the ``newton_schulz`` module). ``"gradient"``: an
        optimizer on ``mse(A^H A X, A^H)`` from ``X = 0``, which converges to the minimum-norm
        solution without any cut-off (``atol``/``rtol`` do not apply). Whatever the method, an
        ``A`` that requires grad gets the derivative of the exact pseudo-inverse where the rank is
        constant (Golub & Pereyra's formula), at the answer.
    tol, max_iter : keyword-only
        Tolerance on the residual and iteration (sweep) cap, where the method has them.

    Returns
    -------
    Result
        ``result.solution`` has shape ``(*, n, m)``. The residual combines the two Penrose
        conditions that fix ``A^+``: ``max(||A X A - A|| / ||A||, ||X A X - X|| / (cond ||X||))``.

    Examples
    --------
    >>> import torch, gdlinalg
    >>> A = torch.tensor([[1.0, 2.0], [2.0, 4.0], [0.0, 0.0]], dtype=torch.float64)  # rank 1
    >>> X = gdlinalg.pinv_result(A).solution
    >>> torch.allclose(X, torch.linalg.pinv(A))
    True
    """
    A = check_matrix(A, square=hermitian, finite=not hermitian)
    given = A                 # the derivative is taken with respect to it, as torch's is
    if hermitian:
        A = check_hermitian_input(A, "L")
    if A.numel() == 0:
        return _run("pinv", method, (A,), {}, lambda: A.new_zeros(*A.shape[:-2], A.shape[-1], A.shape[-2]))
    As, e = _prepare(A, "pinv", method)
    kwargs: dict[str, Any] = {"tol": tol, "max_iter": max_iter, **options}
    if method == "gradient":
        if atol is not None or rtol is not None:
            raise ValueError("method='gradient' converges to the pseudo-inverse without a cut-off: "
                             "atol and rtol do not apply")
        kwargs["hermitian"] = hermitian
    else:
        a, r = pseudoinverse.cutoffs(A, atol, rtol)
        # The cut-off is absolute: it scales with the matrix (exactly, by 2^-e).
        kwargs.update(atol=scaling.scale(a, -e, trailing=0), rtol=r, hermitian=hermitian)
    res = _run("pinv", method, (As,), kwargs, None)
    # A = 2^e As, so A^+ = 2^-e As^+.
    X = scaling.scale(res.solution, -e).reshape(*A.shape[:-2], A.shape[-1], A.shape[-2])
    return _replace_solution(res, derivatives.attach_pinv(given, X))


def pinv(A: torch.Tensor, *, atol: float | torch.Tensor | None = None, rtol: float | torch.Tensor | None = None,
         hermitian: bool = False, method: str = "svd", tol: float | None = None, max_iter: int | None = None,
         **options: Any) -> torch.Tensor:
    """Moore–Penrose pseudo-inverse, a drop-in for :func:`torch.linalg.pinv`.

    Parameters
    ----------
    A : torch.Tensor
        Shape ``(*, m, n)``.
    atol, rtol, hermitian, method, tol, max_iter, **options
        Keyword-only; see :func:`pinv_result`.

    Returns
    -------
    torch.Tensor
        Shape ``(*, n, m)``.

    Examples
    --------
    >>> import torch, gdlinalg
    >>> gdlinalg.pinv(torch.tensor([[2.0], [0.0]], dtype=torch.float64))
    tensor([[0.5000, 0.0000]], dtype=torch.float64)
    """
    return pinv_result(A, atol=atol, rtol=rtol, hermitian=hermitian, method=method, tol=tol,
                       max_iter=max_iter, **options).solution


# --------------------------------------------------------------------------------------------
# svd / svdvals
# --------------------------------------------------------------------------------------------


def _empty_svd(A: torch.Tensor, full_matrices: bool) -> SVDResult:
    m, n = A.shape[-2:]
    k = min(m, n)
    batch = A.shape[:-2]
    S = A.new_zeros(*batch, k, dtype=real_dtype(A.dtype))
    if full_matrices:
        eye_m = torch.eye(m, dtype=A.dtype, device=A.device).expand(*batch, m, m).clone()
        eye_n = torch.eye(n, dtype=A.dtype, device=A.device).expand(*batch, n, n).clone()
        return SVDResult((eye_m, S, eye_n))
    return SVDResult((
        torch.eye(m, k, dtype=A.dtype, device=A.device).expand(*batch, m, k).clone(),
        S,
        torch.eye(k, n, dtype=A.dtype, device=A.device).expand(*batch, k, n).clone(),
    ))


def svd_result(
    A: torch.Tensor,
    full_matrices: bool = True,
    *,
    driver: str | None = None,
    method: str = "auto",
    tol: float | None = None,
    max_iter: int | None = None,
    **options: Any,
) -> Result:
    """Singular value decomposition ``A = U diag(S) Vh`` with the full :class:`Result`.

    Parameters
    ----------
    A : torch.Tensor
        Shape ``(*, m, n)``.
    full_matrices : bool
        As in :func:`torch.linalg.svd`: ``U`` is ``m x m`` and ``Vh`` is ``n x n`` (the extra
        columns complete an orthonormal basis), otherwise ``k = min(m, n)`` columns.
    driver : None, keyword-only
        Accepted for compatibility with :func:`torch.linalg.svd`, whose ``driver`` picks a cuSOLVER
        routine on CUDA; gdlinalg has no drivers (choose ``method``), so only ``None`` is accepted.
    method : {"auto", "polar", "jacobi", "stiefel", "gradient", "blog"}, keyword-only
        ``"auto"`` (default): ``"jacobi"`` for a graded matrix (column or row norms spanning more
        than a factor 10), whose small singular values it finds to high relative accuracy,
        ``"polar"`` otherwise; ``Result.method`` says which. ``"polar"``: the polar decomposition
        ``A = U_p H`` by scaled Newton–Schulz, then ``H = V diag(S) V^H`` by spectral divide and
        conquer and ``U = U_p V`` — matrix products and QR only. ``"jacobi"``: one-sided
        (Hestenes) Jacobi, i.e. exact coordinate descent on the off-diagonal mass of ``A^H A``,
        with all ``n/2`` disjoint column pairs of a round rotated at once; quadratic convergence,
        typically 6–12 sweeps. Single-precision input is computed in double precision and
        rounded once at the end. ``"stiefel"``: Riemannian gradient
        ascent of the Brockett cost on the Stiefel manifold with a QR retraction (exactly
        orthogonal iterates, linear rate). ``"gradient"``: the blog's penalty loss with any
        ``torch.optim`` optimizer. ``"blog"``: the 2020 blog recipe bit for bit (it fails on close
        singular values and can collapse a singular value to 0). Whatever the method, an ``A``
        that requires grad gets the analytic derivative of the exact SVD at the answer (torch's
        formula), not the optimizer's steps backpropagated.
    tol : float, optional, keyword-only
        Method-specific stopping tolerance (for Jacobi: the largest cosine between two columns).
    max_iter : int, optional, keyword-only
        Iteration (sweep) cap.

    Returns
    -------
    Result
        ``result.solution`` is ``torch.return_types.linalg_svd(U, S, Vh)``; ``S`` is real,
        non-negative and descending. The residual is ``||U diag(S) Vh - A||_F / ||A||_F``.

    Examples
    --------
    >>> import torch, gdlinalg
    >>> A = torch.tensor([[3.0, 0.0], [0.0, -2.0], [0.0, 0.0]], dtype=torch.float64)
    >>> res = gdlinalg.svd_result(A, full_matrices=False)
    >>> res.solution.S
    tensor([3., 2.], dtype=torch.float64)
    """
    A = check_matrix(A)
    if driver is not None:
        raise ValueError(f"driver={driver!r} selects a cuSOLVER routine of torch.linalg.svd (CUDA only); "
                         f"gdlinalg has no drivers: choose method= instead, one of {', '.join(methods('svd'))}")
    if A.numel() == 0:
        return _run("svd", method, (A,), {}, lambda: _empty_svd(A, full_matrices))
    As, e = _prepare(A, "svd", method)
    res = _run("svd", method, (As,), {"tol": tol, "max_iter": max_iter, **options}, None)
    U, S, Vh = res.solution
    if full_matrices:
        U = complete_orthonormal(U)
        Vh = complete_orthonormal(Vh.mH).mH
    batch = A.shape[:-2]
    # A = 2^e As: the singular vectors are those of As, the singular values scale exactly.
    S = scaling.scale(S, e, trailing=1)
    U, S, Vh = derivatives.attach_svd(A, U.reshape(*batch, *U.shape[-2:]), S.reshape(*batch, S.shape[-1]),
                                      Vh.reshape(*batch, *Vh.shape[-2:]))
    return _replace_solution(res, SVDResult((U, S, Vh)))


def svd(A: torch.Tensor, full_matrices: bool = True, *, driver: str | None = None, method: str = "auto",
        tol: float | None = None, max_iter: int | None = None, **options: Any) -> SVDResult:
    """Singular value decomposition, a drop-in for :func:`torch.linalg.svd`.

    Parameters
    ----------
    A : torch.Tensor
        Shape ``(*, m, n)``.
    full_matrices : bool
        Full or reduced ``U`` and ``Vh``.
    method, tol, max_iter, **options
        Keyword-only; see :func:`svd_result`.

    Returns
    -------
    torch.return_types.linalg_svd
        Named tuple ``(U, S, Vh)``.

    Examples
    --------
    >>> import torch, gdlinalg
    >>> U, S, Vh = gdlinalg.svd(torch.tensor([[0.0, 2.0], [1.0, 0.0]], dtype=torch.float64))
    >>> S
    tensor([2., 1.], dtype=torch.float64)
    """
    return svd_result(A, full_matrices, driver=driver, method=method, tol=tol, max_iter=max_iter, **options).solution


def svdvals(A: torch.Tensor, *, driver: str | None = None, method: str = "auto", tol: float | None = None,
            max_iter: int | None = None, **options: Any) -> torch.Tensor:
    """Singular values, a drop-in for :func:`torch.linalg.svdvals`.

    Parameters
    ----------
    A : torch.Tensor
        Shape ``(*, m, n)``.
    method, tol, max_iter, **options
        Keyword-only; see :func:`svd_result`.

    Returns
    -------
    torch.Tensor
        Real, non-negative, descending, shape ``(*, min(m, n))``.

    Examples
    --------
    >>> import torch, gdlinalg
    >>> gdlinalg.svdvals(torch.tensor([[0.0, 2.0], [1.0, 0.0]], dtype=torch.float64))
    tensor([2., 1.], dtype=torch.float64)
    """
    return svd_result(A, False, driver=driver, method=method, tol=tol, max_iter=max_iter, **options).solution.S


# --------------------------------------------------------------------------------------------
# eigh
# --------------------------------------------------------------------------------------------


def eigh_result(
    A: torch.Tensor,
    UPLO: str = "L",
    *,
    method: str = "auto",
    tol: float | None = None,
    max_iter: int | None = None,
    **options: Any,
) -> Result:
    """Eigendecomposition of a Hermitian matrix with the full :class:`Result`.

    Parameters
    ----------
    A : torch.Tensor
        Shape ``(*, n, n)``; only the triangle named by ``UPLO`` is read.
    UPLO : {"L", "U"}
        Which triangle to read, as in :func:`torch.linalg.eigh`.
    method : {"auto", "divide", "jacobi", "stiefel"}, keyword-only
        ``"auto"`` (default): ``"jacobi"`` for a positive definite matrix whose diagonal spans more
        than a factor 10 (graded), whose small eigenvalues it finds to high relative accuracy,
        ``"divide"`` otherwise; ``Result.method`` says which. ``"divide"``: spectral divide and
        conquer — the sign function of ``A - mu I`` by scaled Newton–Schulz splits the spectrum
        at ``mu``, recursively, down to 1 x 1 blocks (matrix products and QR only).
        ``"jacobi"``: one-sided Jacobi on the Cholesky factor of a positive definite ``A``
        (eigenvalues to relative accuracy), or on the shifted positive semidefinite ``A + c I``
        with Rayleigh quotients as eigenvalues. Single precision is computed in double
        precision. ``"stiefel"``:
        Riemannian gradient ascent of the Brockett cost ``tr(V^H A V N)`` on the orthogonal group.
    tol, max_iter : keyword-only
        Stopping tolerance and cap.

    Returns
    -------
    Result
        ``result.solution`` is ``torch.return_types.linalg_eigh(eigenvalues, eigenvectors)``,
        eigenvalues real and ascending. The residual is ``||A V - V diag(w)||_F / ||A||_F``.

    Examples
    --------
    >>> import torch, gdlinalg
    >>> A = torch.tensor([[2.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    >>> gdlinalg.eigh_result(A).solution.eigenvalues.round(decimals=12)
    tensor([1., 3.], dtype=torch.float64)
    """
    A = check_matrix(A, square=True, finite=False)
    given = A                 # the derivative is taken with respect to it, as torch's is
    A = check_hermitian_input(A, UPLO)
    if A.numel() == 0:
        n = A.shape[-1]
        return _run("eigh", method, (A,), {}, lambda: EighResult((
            A.new_zeros(*A.shape[:-1], dtype=real_dtype(A.dtype)),
            torch.eye(n, dtype=A.dtype, device=A.device).expand_as(A).clone(),
        )))
    As, e = _prepare(A, "eigh", method)
    res = _run("eigh", method, (As,), {"tol": tol, "max_iter": max_iter, **options}, None)
    w, V = res.solution
    w, V = derivatives.attach_eigh(given, scaling.scale(w, e, trailing=1).reshape(A.shape[:-1]),
                                   V.reshape(A.shape))
    return _replace_solution(res, EighResult((w, V)))


def eigh(A: torch.Tensor, UPLO: str = "L", *, method: str = "auto", tol: float | None = None,
         max_iter: int | None = None, **options: Any) -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of a Hermitian matrix, like :func:`torch.linalg.eigh`.

    Parameters
    ----------
    A : torch.Tensor
        Shape ``(*, n, n)``.
    UPLO : {"L", "U"}
        Triangle to read.
    method, tol, max_iter, **options
        Keyword-only; see :func:`eigh_result`.

    Returns
    -------
    torch.return_types.linalg_eigh
        Named tuple ``(eigenvalues, eigenvectors)``.

    Examples
    --------
    >>> import torch, gdlinalg
    >>> w, V = gdlinalg.eigh(torch.tensor([[2.0, 0.0], [0.0, 1.0]], dtype=torch.float64))
    >>> w
    tensor([1.0000, 2.0000], dtype=torch.float64)
    """
    return eigh_result(A, UPLO, method=method, tol=tol, max_iter=max_iter, **options).solution


# --------------------------------------------------------------------------------------------
# polar
# --------------------------------------------------------------------------------------------



def polar_result(
    A: torch.Tensor,
    *,
    method: str = "newton_schulz",
    tol: float | None = None,
    max_iter: int | None = None,
    **options: Any,
) -> Result:
    """Polar decomposition ``A = U H`` with the full :class:`Result` (no :mod:`torch.linalg`
    counterpart; the factors are those of ``scipy.linalg.polar``).

    Parameters
    ----------
    A : torch.Tensor
        Shape ``(*, m, n)``.
    method : {"newton_schulz", "qdwh"}, keyword-only
        ``"newton_schulz"`` (default): ``X <- X (3I - X^H X) / 2`` with the scaling of Chen & Chow
        (2014), which lifts a small singular value by up to 2.6 per step (two matrix products); the
        scaled phase from ``l = 1e-3`` takes 12 steps, and a matrix of condition number ``1e3``
        needs 14 in all (13 at ``1e1``, 19 at ``1e6``; ``n = 200``). ``"qdwh"``: the dynamically
        weighted Halley iteration (Nakatsukasa, Bai & Gygi 2010), six steps from the lower bound
        ``1e-15``; this package computes every step with a QR factorization of a ``(m + n) x n``
        matrix, where the paper switches to a cheaper Cholesky factorization once the weight
        ``c`` is at most 100 (after the first two steps).
    tol, max_iter : keyword-only
        Tolerance on ``||A - U H||_F / ||A||_F`` (default: what rounding allows) and step cap.

    Returns
    -------
    Result
        ``result.solution`` is ``PolarResult(U, H)``: ``U`` of shape ``(*, m, n)`` with orthonormal
        columns (rows, if ``m < n``) and ``H`` of shape ``(*, n, n)``, Hermitian positive
        semidefinite. For a rank-deficient ``A`` the factor ``U`` is not unique; it is then taken
        from the SVD, ``U = W V^H``.

    Examples
    --------
    >>> import torch, gdlinalg
    >>> A = torch.tensor([[3.0, 0.0], [4.0, 5.0]], dtype=torch.float64)
    >>> U, H = gdlinalg.polar(A)
    >>> torch.allclose(U @ H, A) and torch.allclose(U.mT @ U, torch.eye(2, dtype=torch.float64))
    True
    """
    A = check_matrix(A)
    m, n = A.shape[-2:]
    if A.numel() == 0:
        return _run("polar", method, (A,), {}, lambda: PolarResult(
            torch.eye(m, n, dtype=A.dtype, device=A.device).expand(*A.shape[:-2], m, n).clone(),
            A.new_zeros(*A.shape[:-2], n, n)))
    As, e = _prepare(A, "polar", method)
    res = _run("polar", method, (As,), {"tol": tol, "max_iter": max_iter, **options}, None)
    U, H = res.solution
    # A = 2^e As: the same U, and H scaled by 2^e.
    U, H = derivatives.attach_polar(A, U.reshape(A.shape), scaling.scale(H, e).reshape(*A.shape[:-2], n, n),
                                    lambda M: tuple(svd(M, full_matrices=False)))
    return _replace_solution(res, PolarResult(U, H))


def polar(A: torch.Tensor, *, method: str = "newton_schulz", tol: float | None = None,
          max_iter: int | None = None, **options: Any) -> PolarResult:
    """Polar decomposition ``A = U H``: ``U`` orthonormal, ``H`` Hermitian positive semidefinite.

    Parameters
    ----------
    A : torch.Tensor
        Shape ``(*, m, n)``.
    method, tol, max_iter, **options
        Keyword-only; see :func:`polar_result`.

    Returns
    -------
    tuple of Tensor
        Named tuple ``PolarResult(U, H)``.

    Examples
    --------
    >>> import torch, gdlinalg
    >>> U, H = gdlinalg.polar(torch.tensor([[0.0, 2.0], [-1.0, 0.0]], dtype=torch.float64))
    >>> H.round(decimals=12)
    tensor([[1., 0.],
            [0., 2.]], dtype=torch.float64)
    """
    return polar_result(A, method=method, tol=tol, max_iter=max_iter, **options).solution


# --------------------------------------------------------------------------------------------
# truncated
# --------------------------------------------------------------------------------------------


def truncated_svd_result(
    A: torch.Tensor,
    k: int,
    *,
    method: str = "subspace",
    tol: float | None = None,
    max_iter: int | None = None,
    **options: Any,
) -> Result:
    """The ``k`` leading singular triplets, with the full :class:`Result`.

    Parameters
    ----------
    A : torch.Tensor
        Shape ``(*, m, n)``.
    k : int
        Number of triplets, ``1 <= k <= min(m, n)``.
    method : {"subspace", "stiefel"}, keyword-only
        ``"subspace"`` (default): subspace iteration on ``A A^H`` with ``oversample`` extra
        columns (default 10), each iteration a Chebyshev filter (degree 6, raised when progress is
        slow: ``2 d`` products with ``A`` or ``A^H``) followed by a Rayleigh–Ritz step solved by the
        package's Jacobi SVD. Per product with ``A A^H`` the error of triplet ``i`` falls by about
        ``exp(-acosh(x))`` with ``x = 2 (s[i] / s[k+p+1])^2 - 1``, much faster than the
        ``(s[k+p+1] / s[i])^2`` of plain subspace iteration. A singular value repeated (or
        nearly) beyond the block is handled: the filter's bound is placed below its cluster, and
        the block widens until it reaches past a cluster that is close but not equal.
        ``"stiefel"``: Riemannian gradient ascent of the Brockett cost with QR retraction and
        Barzilai–Borwein steps.
    tol : float, optional, keyword-only
        Stop when ``max_i ||A v_i - s_i u_i|| / s_1`` is below ``tol``.
    max_iter : int, optional, keyword-only

    Returns
    -------
    Result
        ``result.solution`` is ``torch.return_types.linalg_svd(U, S, Vh)`` with ``U`` of shape
        ``(*, m, k)``, ``S`` ``(*, k)`` descending and ``Vh`` ``(*, k, n)``.

    Examples
    --------
    >>> import torch, gdlinalg
    >>> A = torch.diag(torch.tensor([5.0, 3.0, 1.0], dtype=torch.float64))
    >>> gdlinalg.truncated_svd_result(A, 2).solution.S.round(decimals=12)
    tensor([5., 3.], dtype=torch.float64)
    """
    A = check_matrix(A)
    if A.numel() == 0:
        raise ValueError(f"truncated_svd needs a non-empty matrix, got shape {tuple(A.shape)}")
    check_rank_k(A, k)
    As, e = _prepare(A, "truncated_svd", method)
    res = _run("truncated_svd", method, (As, k), {"tol": tol, "max_iter": max_iter, **options}, None)
    U, S, Vh = res.solution
    batch = A.shape[:-2]
    U, S, Vh = derivatives.attach_truncated_svd(A, U.reshape(*batch, *U.shape[-2:]),
                                                scaling.scale(S, e, trailing=1).reshape(*batch, k),
                                                Vh.reshape(*batch, *Vh.shape[-2:]), lambda M, R: solve(M, R))
    return _replace_solution(res, SVDResult((U, S, Vh)))


def truncated_svd(A: torch.Tensor, k: int, *, method: str = "subspace", tol: float | None = None,
                  max_iter: int | None = None, **options: Any) -> SVDResult:
    """The ``k`` leading singular triplets ``(U, S, Vh)`` of a large matrix.

    Parameters
    ----------
    A : torch.Tensor
        Shape ``(*, m, n)``.
    k : int
        Number of triplets.
    method, tol, max_iter, **options
        Keyword-only; see :func:`truncated_svd_result`.

    Returns
    -------
    torch.return_types.linalg_svd

    Examples
    --------
    >>> import torch, gdlinalg
    >>> U, S, Vh = gdlinalg.truncated_svd(torch.diag(torch.tensor([5.0, 3.0, 1.0], dtype=torch.float64)), 1)
    >>> S.round(decimals=12)
    tensor([5.], dtype=torch.float64)
    """
    return truncated_svd_result(A, k, method=method, tol=tol, max_iter=max_iter, **options).solution


def truncated_eigh_result(
    A: torch.Tensor,
    k: int,
    *,
    largest: bool = True,
    UPLO: str = "L",
    method: str = "subspace",
    tol: float | None = None,
    max_iter: int | None = None,
    **options: Any,
) -> Result:
    """The ``k`` extreme eigenpairs of a Hermitian matrix, with the full :class:`Result`.

    Parameters
    ----------
    A : torch.Tensor
        Shape ``(*, n, n)``; the triangle ``UPLO`` is read.
    k : int
        Number of eigenpairs.
    largest : bool, keyword-only
        The ``k`` largest (default) or smallest eigenvalues. As in :func:`torch.lobpcg`, the most
        extreme comes first: descending for ``largest=True``, ascending otherwise.
    UPLO : {"L", "U"}, keyword-only
    method : {"subspace", "stiefel"}, keyword-only
        ``"subspace"`` (default): Chebyshev-filtered subspace iteration on ``A - a I`` (or
        ``-A - a I`` for the smallest), ``a`` a lower bound of the spectrum, with Rayleigh–Ritz by
        the package's Jacobi eigensolver; the filter damps everything below the block's Ritz
        values (below the k-th value's cluster, if it fills the block), its degree rises when an
        iteration gains less than a factor 4, and the block widens when the k-th value's cluster
        is wider than it.
        ``"stiefel"``: Riemannian gradient of the Brockett cost with QR retraction.
    tol : float, optional, keyword-only
        Stop when ``max_i ||A v_i - w_i v_i|| / ||A||_2`` is below ``tol``.
    max_iter : int, optional, keyword-only

    Returns
    -------
    Result
        ``result.solution`` is ``torch.return_types.linalg_eigh(eigenvalues, eigenvectors)`` with
        shapes ``(*, k)`` and ``(*, n, k)``.

    Examples
    --------
    >>> import torch, gdlinalg
    >>> A = torch.diag(torch.tensor([1.0, 4.0, 2.0, 3.0], dtype=torch.float64))
    >>> gdlinalg.truncated_eigh_result(A, 2).solution.eigenvalues.round(decimals=12)
    tensor([4., 3.], dtype=torch.float64)
    """
    A = check_matrix(A, square=True, finite=False)
    if A.numel() == 0:
        raise ValueError(f"truncated_eigh needs a non-empty matrix, got shape {tuple(A.shape)}")
    check_rank_k(A, k)
    given = A                 # the derivative is taken with respect to it, as torch's eigh's is
    A = check_hermitian_input(A, UPLO)
    As, e = _prepare(A, "truncated_eigh", method)
    res = _run("truncated_eigh", method, (As, k), {"largest": largest, "tol": tol, "max_iter": max_iter, **options}, None)
    w, V = res.solution
    w, V = derivatives.attach_truncated_eigh(given, A, scaling.scale(w, e, trailing=1).reshape(*A.shape[:-2], k),
                                             V.reshape(*A.shape[:-1], k), lambda M, R: solve(M, R))
    return _replace_solution(res, EighResult((w, V)))


def truncated_eigh(A: torch.Tensor, k: int, *, largest: bool = True, UPLO: str = "L",
                   method: str = "subspace", tol: float | None = None, max_iter: int | None = None,
                   **options: Any) -> EighResult:
    """The ``k`` extreme eigenpairs ``(eigenvalues, eigenvectors)`` of a large Hermitian matrix.

    Parameters
    ----------
    A : torch.Tensor
        Shape ``(*, n, n)``.
    k : int
        Number of eigenpairs.
    largest, UPLO, method, tol, max_iter, **options
        Keyword-only; see :func:`truncated_eigh_result`.

    Returns
    -------
    torch.return_types.linalg_eigh

    Examples
    --------
    >>> import torch, gdlinalg
    >>> w, V = gdlinalg.truncated_eigh(torch.diag(torch.tensor([1.0, 4.0, 2.0], dtype=torch.float64)), 1, largest=False)
    >>> w.round(decimals=12)
    tensor([1.], dtype=torch.float64)
    """
    return truncated_eigh_result(A, k, largest=largest, UPLO=UPLO, method=method, tol=tol,
                                 max_iter=max_iter, **options).solution


def _replace_solution(res: Result, solution: Any) -> Result:
    from dataclasses import replace

    return replace(res, solution=solution)
