"""The blog's losses minimised with any ``torch.optim`` optimizer.

Each operation is posed as a smooth loss whose minimiser is the answer, and handed to an optimizer:

* ``inv``: ``mse(X A, I)`` (``loss="left"``), ``mse(A X, I)`` (``"right"``) or
  ``mse((X A + A X)/2, I)`` (``"symmetric"``), from a seeded ``torch.rand`` start.
* ``solve``: ``mse(A X, B)``, from a seeded ``torch.rand`` start.
* ``pinv``: the least-squares form ``mse(A^H A X, A^H)`` (the normal equations of
  ``min ||A X - I||``, whose minimum is 0 even for rank-deficient or rectangular ``A``), from
  ``X = 0``. Gradient methods whose steps are linear combinations of gradients (gradient descent,
  momentum, L-BFGS) keep ``X`` of the form ``p(A^H A) A^H``, i.e. in the row space of ``A^H``,
  and therefore converge to the *minimum-norm* solution, the pseudo-inverse; started elsewhere
  they converge to another solution. Adam's per-entry scaling breaks that invariance.
* ``svd``: the blog's penalty loss ``mse(U diag(s) V^H, A) + mse(U^H U, I)/100 + mse(V^H V, I)/100``
  with ``s`` itself as the parameter (not ``s**2`` as in the blog, whose stationary point at 0 can
  swallow a singular value), from a seeded random start; signs and order are fixed at the end.

The default optimizer is :class:`torch.optim.LBFGS` with a strong-Wolfe line search, the most
accurate here. Its rate is still only linear, governed by the condition number of the loss's
Hessian: ``cond(A)^2`` for ``inv`` and ``solve``, ``cond(A)^4`` for ``pinv``. Out of the box it
stalls near a loss of 1e-9 because of absolute tolerances (``tolerance_change=1e-9`` in its
line search and stopping tests, ``ys > 1e-10`` for its curvature pairs). This module therefore
sets ``tolerance_grad = tolerance_change = 0``, minimises the loss divided by its value at the
latest restart, and restarts the optimizer (fresh state, new scale) whenever the scaled loss has
fallen by a factor of 1e6 or a step stops making progress; it stops on the true residual.

Any other optimizer works through ``optimizer=`` and ``optimizer_kwargs=`` (for example
``optimizer=torch.optim.Adam, optimizer_kwargs={"lr": 1e-2}``); those run on the unscaled loss,
one ``step()`` per iteration. Complex matrices are optimised through their real view, so every
optimizer sees real parameters.

Derivatives: the optimizer works on detached copies, so nothing of its trajectory is recorded;
when an input requires grad, the public function attaches the answer through the analytic
derivative of the exact operation (``derivatives.py``), as for every other method. The gradient is
that of the operation at the given input, not of the optimisation that approximated it.

Stopping: with ``tol`` the iteration stops as soon as the true residual (``residuals.py``) is below
it. Without ``tol`` it stops when the residual reaches ``10 eps`` or has not improved by 1 % for
``patience`` iterations (100 for L-BFGS, whose penalty-loss SVD crosses long plateaus,
500 for the others), and ``converged`` means
``residual <= sqrt(eps)``.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch

from . import residuals, tolerances
from .checks import real_dtype
from .estimates import norm2
from .outcome import Outcome, SVDResult, hermitian_part
from .result import Recorder


_INV_LOSSES = ("left", "right", "symmetric")
_LBFGS_MAX_ITER = 1_000
_OTHER_MAX_ITER = 20_000
# Restart L-BFGS once the scaled loss has dropped this much, well before its fixed tolerances bite.
_RESCALE_FACTOR = 1e-6


def _mse(y_hat: torch.Tensor, y_true: torch.Tensor) -> torch.Tensor:
    # Sum over the batch of each matrix's own mean, so each matrix gets exactly its own gradient.
    err = y_hat - y_true
    sq = (err * err.conj()).real if err.is_complex() else err**2
    return sq.mean(dim=(-2, -1)).sum()


class _Param:
    """A leaf tensor the optimizer updates, viewed as a matrix of the working dtype.

    Complex matrices are stored as their real view so that every optimizer, including L-BFGS,
    sees real parameters.
    """

    def __init__(self, init: torch.Tensor) -> None:
        self.complex = init.is_complex()
        raw = torch.view_as_real(init).clone() if self.complex else init.clone()
        self.leaf = raw.requires_grad_(True)

    def value(self) -> torch.Tensor:
        return torch.view_as_complex(self.leaf) if self.complex else self.leaf

    def detached(self) -> torch.Tensor:
        v = self.leaf.detach()
        return torch.view_as_complex(v) if self.complex else v


def _random(shape: tuple[int, ...], seed: int, like: torch.Tensor) -> torch.Tensor:
    gen = torch.Generator(device="cpu").manual_seed(seed)
    draw = torch.complex128 if like.is_complex() else torch.float64
    return torch.rand(shape, generator=gen, dtype=draw).to(dtype=like.dtype, device=like.device)


def _minimise(
    params: list[_Param],
    loss_fn: Callable[[], torch.Tensor],
    residual_fn: Callable[[], float],
    *,
    rec: Recorder,
    dtype: torch.dtype,
    tol: float | None,
    max_iter: int | None,
    optimizer: type[torch.optim.Optimizer] | None,
    optimizer_kwargs: dict[str, Any] | None,
) -> tuple[float, int, float]:
    """Run the optimizer until the stopping rule; return ``(residual, iterations, tol_judged)``."""
    opt_cls = torch.optim.LBFGS if optimizer is None else optimizer
    if not (isinstance(opt_cls, type) and issubclass(opt_cls, torch.optim.Optimizer)):
        raise TypeError(f"expected optimizer to be a torch.optim.Optimizer subclass, got {opt_cls!r}")
    lbfgs = issubclass(opt_cls, torch.optim.LBFGS)
    kwargs = dict(optimizer_kwargs or {})
    if lbfgs:
        # One L-BFGS iteration per step() so that every iteration is recorded; tolerances are ours.
        # max_eval must be set too: its default, max_iter * 5 // 4 = 1, leaves the line search no
        # function evaluations at all.
        kwargs = {"line_search_fn": "strong_wolfe", "max_iter": 1, "max_eval": 25, "history_size": 20,
                  "tolerance_grad": 0.0, "tolerance_change": 0.0, **kwargs}
    if max_iter is None:
        max_iter = _LBFGS_MAX_ITER if lbfgs else _OTHER_MAX_ITER
    patience = 100 if lbfgs else 500
    floor = 10 * tolerances.machine_epsilon(dtype)
    leaves = [p.leaf for p in params]

    scale = 1.0

    def closure() -> torch.Tensor:
        opt.zero_grad()
        value = loss_fn() * scale
        value.backward()
        return value

    def restart() -> torch.optim.Optimizer:
        nonlocal scale
        if lbfgs:
            with torch.no_grad():
                current = float(loss_fn())
            scale = 1.0 / current if current > 0 else 1.0
        return opt_cls(leaves, **kwargs)

    with torch.enable_grad():
        opt = restart()
        best = residual_fn()
        since_best = 0
        res = best
        iterations = 0
        failed_restarts = 0
        while iterations < max_iter:
            if tol is not None and res <= tol:
                break
            if tol is None and res <= floor:
                break
            before = [leaf.detach().clone() for leaf in leaves]
            if lbfgs:
                opt.step(closure)
            else:
                closure()
                opt.step()
            iterations += 1
            with torch.no_grad():
                loss_now = float(loss_fn())
            res = residual_fn()
            rec.record(loss_now, res)
            if not math.isfinite(res):
                break
            if res < 0.99 * best:
                best, since_best = res, 0
            else:
                since_best += 1
            if lbfgs:
                moved = any(not torch.equal(b, leaf.detach()) for b, leaf in zip(before, leaves))
                if not moved:
                    failed_restarts += 1
                    if failed_restarts > 2:
                        break
                    opt = restart()
                    continue
                failed_restarts = 0
                if loss_now * scale < _RESCALE_FACTOR:
                    opt = restart()
            if tol is None and since_best >= patience:
                break
    target = math.sqrt(tolerances.machine_epsilon(dtype)) if tol is None else float(tol)
    return res, iterations, target


def inv(
    A: torch.Tensor,
    *,
    rec: Recorder,
    tol: float | None = None,
    max_iter: int | None = None,
    optimizer: type[torch.optim.Optimizer] | None = None,
    optimizer_kwargs: dict[str, Any] | None = None,
    loss: str = "left",
    seed: int = 0,
) -> Outcome:
    """Inverse by minimising ``mse(X A, I)`` (or the ``"right"``/``"symmetric"`` variants)."""
    if loss not in _INV_LOSSES:
        raise ValueError(f"unknown loss {loss!r} for the gradient inverse: expected one of {', '.join(_INV_LOSSES)}")
    n = A.shape[-1]
    eye = torch.eye(n, dtype=A.dtype, device=A.device)
    X = _Param(_random(tuple(A.shape), seed, A))

    def loss_fn() -> torch.Tensor:
        Xv = X.value()
        if loss == "left":
            return _mse(Xv @ A, eye)
        if loss == "right":
            return _mse(A @ Xv, eye)
        return _mse((Xv @ A + A @ Xv) / 2, eye)

    res, its, target = _minimise(
        [X], loss_fn, lambda: residuals.inverse(A, X.detached()), rec=rec, dtype=A.dtype,
        tol=tol, max_iter=max_iter, optimizer=optimizer, optimizer_kwargs=optimizer_kwargs,
    )
    sol = X.detached().clone()
    res = residuals.inverse(A, sol)
    return Outcome(sol, res <= target, res, its, target)


def solve(
    A: torch.Tensor,
    B: torch.Tensor,
    *,
    rec: Recorder,
    tol: float | None = None,
    max_iter: int | None = None,
    optimizer: type[torch.optim.Optimizer] | None = None,
    optimizer_kwargs: dict[str, Any] | None = None,
    seed: int = 0,
) -> Outcome:
    """Solution of ``A X = B`` by minimising ``mse(A X, B)``."""
    X = _Param(_random(tuple(B.shape), seed, B))
    norm = norm2(A)
    res, its, target = _minimise(
        [X], lambda: _mse(A @ X.value(), B), lambda: residuals.solve(A, X.detached(), B, norm), rec=rec,
        dtype=A.dtype, tol=tol, max_iter=max_iter, optimizer=optimizer, optimizer_kwargs=optimizer_kwargs,
    )
    sol = X.detached().clone()
    res = residuals.solve(A, sol, B, norm)
    return Outcome(sol, res <= target, res, its, target)


def pinv(
    A: torch.Tensor,
    *,
    rec: Recorder,
    tol: float | None = None,
    max_iter: int | None = None,
    hermitian: bool = False,
    optimizer: type[torch.optim.Optimizer] | None = None,
    optimizer_kwargs: dict[str, Any] | None = None,
) -> Outcome:
    """Pseudo-inverse by minimising ``mse(A^H A X, A^H)`` from ``X = 0``.

    With ``hermitian=True`` the parameter is symmetrised, ``X = (Y + Y^H)/2``, so every iterate is
    Hermitian.
    """
    m, n = A.shape[-2:]
    AH = A.mH
    G = AH @ A
    Y = _Param(torch.zeros(*A.shape[:-2], n, m, dtype=A.dtype, device=A.device))

    def current() -> torch.Tensor:
        Yv = Y.value()
        return hermitian_part(Yv) if hermitian else Yv

    def loss_fn() -> torch.Tensor:
        return _mse(G @ current(), AH)

    def residual() -> float:
        # Per iteration the cheap first Penrose condition; the answer is judged on both below.
        with torch.no_grad():
            return float(residuals.penrose_members(A, current()).max())

    res, its, target = _minimise(
        [Y], loss_fn, residual, rec=rec, dtype=A.dtype, tol=tol, max_iter=max_iter,
        optimizer=optimizer, optimizer_kwargs=optimizer_kwargs,
    )
    with torch.no_grad():
        sol = current().detach().clone()
    res = residuals.pinv(A, sol)
    return Outcome(sol, res <= target, res, its, target)


def svd(
    A: torch.Tensor,
    *,
    rec: Recorder,
    tol: float | None = None,
    max_iter: int | None = None,
    optimizer: type[torch.optim.Optimizer] | None = None,
    optimizer_kwargs: dict[str, Any] | None = None,
    seed: int = 0,
) -> Outcome:
    """Reduced SVD by minimising the blog's penalty loss with ``s`` (not ``s**2``) as parameter."""
    wide = A.shape[-2] < A.shape[-1]
    M = A.mH if wide else A
    m, n = M.shape[-2:]
    batch = tuple(M.shape[:-2])
    eye = torch.eye(n, dtype=M.dtype, device=M.device)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    draw = torch.complex128 if M.is_complex() else torch.float64
    U0 = torch.rand((*batch, m, n), generator=gen, dtype=draw)
    s0 = torch.rand((*batch, n), generator=gen, dtype=torch.float64)
    V0 = torch.rand((*batch, n, n), generator=gen, dtype=draw)
    U = _Param(U0.to(dtype=M.dtype, device=M.device))
    s = _Param(s0.to(dtype=real_dtype(M.dtype), device=M.device))
    V = _Param(V0.to(dtype=M.dtype, device=M.device))

    def loss_fn() -> torch.Tensor:
        Uv, sv, Vv = U.value(), s.value(), V.value()
        recon = (Uv * sv.to(M.dtype).unsqueeze(-2)) @ Vv.mH
        return _mse(recon, M) + _mse(Uv.mH @ Uv, eye) / 100 + _mse(Vv.mH @ Vv, eye) / 100

    res, its, target = _minimise(
        [U, s, V], loss_fn, lambda: residuals.svd(M, U.detached(), s.detached(), V.detached().mH),
        rec=rec, dtype=A.dtype, tol=tol, max_iter=max_iter, optimizer=optimizer,
        optimizer_kwargs=optimizer_kwargs,
    )
    Uf, sf, Vf = U.detached().clone(), s.detached().clone(), V.detached().clone()
    # A negative s_i is the same triplet as (-u_i, |s_i|, v_i); flipping u_i keeps U diag(s) V^H.
    Uf = Uf * torch.where(sf < 0, -1.0, 1.0).to(Uf.dtype).unsqueeze(-2)
    S, order = torch.sort(sf.abs(), dim=-1, descending=True)
    idx = order.unsqueeze(-2)
    Uf = torch.take_along_dim(Uf, idx.expand(*batch, m, n), dim=-1)
    Vf = torch.take_along_dim(Vf, idx.expand(*batch, n, n), dim=-1)
    if wide:
        Uf, Vh = Vf, Uf.mH
    else:
        Vh = Vf.mH
    res = residuals.svd(A, Uf, S, Vh)
    return Outcome(SVDResult((Uf, S, Vh)), res <= target, res, its, target)
