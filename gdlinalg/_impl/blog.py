"""The 2020 blog recipes ("Matrix operations with pytorch – optimizer", parts 2 and 3), bit for bit.

These kernels reproduce what the blog series did, including its choices that a numerical analyst
would not make, because the book's point is to show what they give and where they fail:

* **Inverse** (part 2). Start from ``X = torch.rand(n, n)`` and minimise ``mse(X @ M, I)`` (option
  "a", ``loss="left"``; "b" is ``M @ X``, "c" their average) by hand-written gradient steps
  ``X -= lr * X.grad`` with ``lr = 0.9``, *not* zeroing the gradient but multiplying it by
  ``momentum = 0.9`` so that the next backward pass adds to it. That accumulation is exactly
  heavy-ball momentum, ``g <- 0.9 g + grad; X <- X - 0.9 g``. 10,000 iterations.
* **SVD** (part 3). Parametrise ``M ≈ U diag(d) V^T`` with ``d = diag_sqrt**2`` (so ``d >= 0``),
  start from ``torch.rand`` for ``U`` (``m x n``), ``diag_sqrt`` (``n``) and ``V`` (``n x n``),
  and minimise ``mse(U diag(d) V^T, M) + mse(U^T U, I)/100 + mse(V V^T, I)/100`` for 20,000
  iterations with the same momentum trick (``variant="momentum"``), with
  ``torch.optim.SGD(lr=0.9, momentum=0.9)`` (``"sgd"``, the same trajectory) or with
  ``torch.optim.Adam(weight_decay=1e-5)`` at its default ``lr=1e-3`` (``"adam"``). The result is
  sorted by ``d`` but neither sign-fixed nor orthonormalised.

Known behaviour, measured on the blog's matrices (float32): the momentum recipe converges on M1, M2
and M4, but on M3 (singular values 0.612 and 0.554 close together) it is still at relative
reconstruction error ~1e-3 after 20,000 iterations, and on M5 one ``diag_sqrt`` entry is driven to
the stationary point ``diag_sqrt = 0`` of ``d = diag_sqrt**2``, losing a singular value (error
~16 %). Adam reaches every matrix but only to ~1e-4 (its weight decay biases the answer).

Derivatives: the recipes run on detached copies. When an input requires grad, the public function
attaches the answer through the analytic derivative of the exact operation (``derivatives.py``):
of the inverse for ``inv``, of the SVD for ``svd``, evaluated at the recipe's answer; the 10,000
or 20,000 steps are not backpropagated through.

The random start comes from a private generator seeded with ``seed`` (the same numbers as the
blog's ``torch.manual_seed(seed)``) and is always drawn in float32 (complex64 for complex input)
and then cast, so that runs in other dtypes start from the blog's point and differ only by
precision. A float32 input therefore reproduces the blog bit for bit. Complex input uses ``.mH``
where the blog, which is real, uses ``.T``; with its larger random start the SVD recipe diverges at
``lr=0.9`` on complex matrices (measured: NaN for ``lr >= 0.5``), so pass ``lr=0.3`` there. A wide input (``m < n``) is decomposed through its
conjugate transpose, since the recipe's ``U^T U = I`` penalty needs ``m >= n``.
"""

from __future__ import annotations

import math

import torch

from . import residuals, tolerances
from .checks import real_dtype
from .outcome import Outcome, SVDResult
from .result import Recorder


_INV_LOSSES = ("left", "right", "symmetric")
_SVD_VARIANTS = ("momentum", "sgd", "adam")


def _mse(y_hat: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    # The blog's loss for one matrix; for a batch, the sum of each matrix's own mean, so that every
    # matrix receives exactly the gradient it would get alone.
    err = y_hat - y_true
    sq = (err * err.conj()).real if err.is_complex() else err**2
    if sq.dim() <= 2:
        return sq.mean()
    return sq.mean(dim=(-2, -1)).sum()


def _rand(shape: tuple[int, ...], gen: torch.Generator, like: torch.Tensor, real: bool = False) -> torch.Tensor:
    draw_dtype = torch.complex64 if (like.is_complex() and not real) else torch.float32
    target = real_dtype(like.dtype) if real else like.dtype
    return torch.rand(shape, generator=gen, dtype=draw_dtype).to(dtype=target, device=like.device)


def _stop_tol(tol: float | None, dtype: torch.dtype) -> float:
    return math.sqrt(tolerances.machine_epsilon(dtype)) if tol is None else float(tol)


def inv(
    A: torch.Tensor,
    *,
    rec: Recorder,
    tol: float | None = None,
    max_iter: int | None = None,
    lr: float = 0.9,
    momentum: float = 0.9,
    loss: str = "left",
    seed: int = 314,
) -> Outcome:
    """The blog's inverse: ``mse(X @ A, I)`` by gradient steps with accumulated gradients.

    Runs ``max_iter`` (default 10,000) iterations, or stops as soon as the residual
    ``||I - A X||_F / sqrt(n)`` is below ``tol`` when ``tol`` is given.
    """
    if loss not in _INV_LOSSES:
        raise ValueError(f"unknown loss {loss!r} for the blog inverse: expected one of {', '.join(_INV_LOSSES)}")
    max_iter = 10_000 if max_iter is None else int(max_iter)
    n = A.shape[-1]
    gen = torch.Generator(device="cpu").manual_seed(seed)
    eye = torch.eye(n, dtype=A.dtype, device=A.device)
    iterations = 0
    with torch.enable_grad():
        X = _rand(tuple(A.shape), gen, A).requires_grad_(True)
        for _ in range(max_iter):
            if loss == "left":
                y_hat = X @ A
            elif loss == "right":
                y_hat = A @ X
            else:
                y_hat = (X @ A + A @ X) / 2
            value = _mse(y_hat, eye)
            res = residuals.inverse(A, X.detach())
            rec.record(value.detach(), res)
            if tol is not None and res <= tol:
                break
            value.backward()
            with torch.no_grad():
                X -= lr * X.grad
                # Scaling instead of zeroing: the next backward adds to it, which is heavy-ball momentum.
                X.grad *= momentum
            iterations += 1
    X = X.detach()
    res = residuals.inverse(A, X)
    target = _stop_tol(tol, A.dtype)
    return Outcome(X, res <= target, res, iterations, target)


def svd(
    A: torch.Tensor,
    *,
    rec: Recorder,
    tol: float | None = None,
    max_iter: int | None = None,
    variant: str = "momentum",
    lr: float = 0.9,
    momentum: float = 0.9,
    seed: int = 314,
) -> Outcome:
    """The blog's SVD: penalty loss on ``U diag(diag_sqrt**2) V^T``, 20,000 iterations by default.

    ``lr`` and ``momentum`` apply to the ``"momentum"`` and ``"sgd"`` variants; ``"adam"`` uses
    the blog's ``torch.optim.Adam(weight_decay=1e-5)`` with its default learning rate.
    """
    if variant not in _SVD_VARIANTS:
        raise ValueError(f"unknown variant {variant!r} for the blog SVD: expected one of {', '.join(_SVD_VARIANTS)}")
    max_iter = 20_000 if max_iter is None else int(max_iter)
    wide = A.shape[-2] < A.shape[-1]
    M = A.mH if wide else A
    m, n = M.shape[-2:]
    batch = tuple(M.shape[:-2])
    gen = torch.Generator(device="cpu").manual_seed(seed)
    eye = torch.eye(n, dtype=M.dtype, device=M.device)
    T = (lambda X: X.mH) if M.is_complex() else (lambda X: X.T if X.dim() == 2 else X.mT)
    diag = torch.diag if not batch else torch.diag_embed
    norm_M = float(torch.linalg.matrix_norm(M).max()) or 1.0
    iterations = 0
    with torch.enable_grad():
        U = _rand((*batch, m, n), gen, M).requires_grad_(True)
        diag_sqrt = _rand((*batch, n), gen, M, real=True).requires_grad_(True)
        V = _rand((*batch, n, n), gen, M).requires_grad_(True)
        params = [U, diag_sqrt, V]
        if variant == "sgd":
            opt = torch.optim.SGD(params, lr=lr, momentum=momentum)
        elif variant == "adam":
            opt = torch.optim.Adam(params, weight_decay=1e-5)
        for _ in range(max_iter):
            d = diag_sqrt * diag_sqrt
            y_hat = U @ diag(d).to(M.dtype) @ T(V)
            loss1 = _mse(y_hat, M)
            loss2 = _mse(T(U) @ U, eye)
            loss3 = _mse(V @ T(V), eye)
            value = loss1 + loss2 / 100 + loss3 / 100
            if batch:
                with torch.no_grad():
                    res = residuals.svd(M, U, d, V.mH)
            else:
                # loss1 is the mean squared entry of U diag(d) V^H - M, so the relative
                # reconstruction error of residuals.svd follows without another product.
                res = math.sqrt(float(loss1.detach()) * m * n) / norm_M
            rec.record(value.detach(), res)
            if tol is not None and res <= tol:
                break
            if variant == "momentum":
                value.backward()
                with torch.no_grad():
                    U -= lr * U.grad
                    diag_sqrt -= lr * diag_sqrt.grad
                    V -= lr * V.grad
                    for p in params:
                        p.grad *= momentum
            else:
                opt.zero_grad()
                value.backward()
                opt.step()
            iterations += 1
    with torch.no_grad():
        d = diag_sqrt.detach() ** 2
        S, order = torch.sort(d, dim=-1, descending=True)
        idx = order.unsqueeze(-2)
        U_out = torch.take_along_dim(U.detach(), idx.expand(*batch, m, n), dim=-1)
        V_out = torch.take_along_dim(V.detach(), idx.expand(*batch, n, n), dim=-1)
        if wide:
            # M = A^H = U S V^H, so A = V S U^H.
            U_out, Vh_out = V_out, U_out.mH
        else:
            Vh_out = V_out.mH
        res = residuals.svd(A, U_out, S, Vh_out)
    target = _stop_tol(tol, A.dtype)
    return Outcome(SVDResult((U_out, S, Vh_out)), res <= target, res, iterations, target)
