"""The analytic derivatives of the operations: one ``torch.autograd.Function`` per operation.

The kernels iterate on detached tensors; nothing of an iteration is recorded. When an input
requires grad, the public function computes its answer as before and then *attaches* it to the
inputs through the derivative of the exact operation, so that autograd sees one node per call:

- inverse, ``X = A^{-1}``:  ``dX = -X dA X``, so the vector-Jacobian product (adjoint) of ``G`` is
  ``-X^H G X^H`` (Giles 2008, "An extended collection of matrix derivative results for forward
  and reverse mode automatic differentiation", section 2.2.3);
- solve, ``A X = B``:  ``dX = A^{-1}(dB - dA X)``; the adjoints are ``G_B = A^{-H} G``, one solve
  with ``A^H`` (by the package's own :func:`gdlinalg.solve`), and ``G_A = -G_B X^H`` (Giles 2008,
  2.3.1);
- Hermitian eigendecomposition, ``A = V diag(w) V^H``: with ``E_ij = w_j - w_i``, the adjoint is
  ``V (diag(G_w) + skew(V^H G_V) / E) V^H``, where ``skew(M) = (M - M^H) / 2`` and the division
  leaves the diagonal alone (Giles 2008, 3.1; the form of PyTorch's ``linalg_eig_backward``). An
  eigenvector is defined up to a phase ``e^{i phi}`` (a sign in the real case); a loss that depends
  on it has ``Im diag(V^H G_V) != 0``, and is refused with the message torch gives;
- SVD, ``A = U diag(S) V^H`` (``k = min(m, n)`` triplets): with ``E_ij = S_j^2 - S_i^2`` and
  ``skew(M) = M - M^H``, the adjoint is ``U (diag(G_S) + (skew(U^H G_U) S + S skew(V^H G_V)) / E)
  V^H``, plus, for a tall ``A``, ``(I - U U^H) G_U S^{-1} V^H`` (for a wide one the same on the
  right), and for complex input the diagonal term ``Im diag(U^H G_U) / S`` (Townsend 2016, "Differentiating the
  singular value decomposition"; the form of PyTorch's ``svd_backward``). With
  ``full_matrices=True`` the completed columns are arbitrary and their gradients are ignored, as
  torch ignores them. A loss that depends on the phases of the singular vectors is refused;
- pseudo-inverse, ``X = A^+``, where the rank is constant (Golub & Pereyra 1973, "The
  differentiation of pseudo-inverses and nonlinear least squares problems whose variables
  separate", eq. 4.12): ``dX = -X dA X + X X^H dA^H (I - A X) + (I - X A) dA^H X^H X``; the adjoint
  of ``G`` is ``-X^H G X^H + (I - A X) G^H X X^H + X^H X G^H (I - X A)``. With a cut-off, ``X`` is
  the pseudo-inverse of the matrix with the cut singular values removed, and the formula is the
  derivative along perturbations that keep that rank;
- polar decomposition, ``A = U_p H``: from the reduced SVD ``A = W diag(S) V^H`` (computed in the
  backward pass by the package's own ``svd``), ``U_p = W V^H`` and ``dU_p = W Omega V^H`` with
  ``Omega_ij = (M - M^H)_ij / (S_i + S_j)``, ``M = W^H dA V``, plus ``(I - W W^H) dA V S^-1 V^H``
  for a tall ``A`` (``W S^-1 W^H dA (I - V V^H)`` for a wide one); ``H = U_p^H A``. No gap
  ``S_i - S_j`` appears: the polar factor is smooth wherever ``A`` has full rank, repeated singular
  values included (at ``A = I`` too), where the route through the SVD's adjoint would divide by
  ``S_j^2 - S_i^2`` and set to zero, at a tie, a term whose true limit is not zero (from
  ``dA = dU_p H + U_p dH``: in the bases ``W`` and ``V``, ``M = Omega S + V^H dH V`` with ``Omega``
  skew and ``V^H dH V`` Hermitian, so ``M - M^H = Omega S + S Omega``);
- partial eigendecomposition (``k`` eigenpairs ``V_k``, ``w_k`` of Hermitian ``A``): the formula of
  the full one, with the sum over the other ``n - k`` eigenvectors done by solves on the complement:
  ``y_i = (I - P)(w_i I - A)^+ (I - P) G_i`` with ``P = V_k V_k^H``, computed as one solve with the
  deflated ``w_i I - A + sigma P`` (``sigma = 2 ||A||_F``: nonsingular on ``range(P)``, the same
  map on its complement); the adjoint is ``V_k inner V_k^H + (Y V_k^H + V_k Y^H) / 2``;
- partial SVD: the ``k`` leading triplets are ``k`` eigenpairs ``(s_i, [u_i; v_i] / sqrt 2)`` of the
  Hermitian ``J = [[0, A], [A^H, 0]]``, so the partial eigendecomposition's adjoint of ``J`` gives
  ``A``'s as ``G_J[:m, m:] + G_J[m:, :m]^H``.

Repeated values. The eigenvectors' and singular vectors' terms divide by gaps ``w_j - w_i`` (or
``S_j^2 - S_i^2``). As a gap closes the derivative of the vectors grows like its inverse, exactly as
torch's does (the formula is the same). At an exact tie the decomposition has no derivative; a
term for two tied vectors that the loss does not use at all (both of their gradients exactly
zero) is zero, where torch's formula gives ``0/0 = nan``. Any other tied term is divided as it
stands, as torch's: ``nan`` or ``inf``, never a guessed limit. (A loss that no rotation of the tied
vectors changes, such as a matrix function ``V f(Lambda) V^H``, does have a derivative there, but
its limit needs ``f'`` at the tie, which the adjoints of ``w`` and ``V`` do not carry; see
:func:`gap_divide`. The polar factors, smooth at ties, are differentiated without the SVD's gaps.)

The backward passes are written with differentiable operations on the saved output (and, for the
solve, a call of the public solve, itself attached), so second derivatives (``gradgradcheck``,
Hessian-vector products) follow the same formulas.

The answer is passed to ``forward`` already computed: ``forward`` only records the node. The
output is a fresh tensor object (``detach`` of the computed answer), never the input object.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def wants_grad(*tensors: torch.Tensor) -> bool:
    """Whether autograd records an operation on these inputs now."""
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


class _Inverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, A: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        out = X.detach()
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, G: torch.Tensor):
        (X,) = ctx.saved_tensors
        Xh = X.mH
        return -(Xh @ G @ Xh), None


class _Solve(torch.autograd.Function):
    @staticmethod
    def forward(ctx, A: torch.Tensor, B: torch.Tensor, X: torch.Tensor,
                adjoint_solve: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
        out = X.detach()
        ctx.save_for_backward(A, out)
        ctx.adjoint_solve = adjoint_solve
        return out

    @staticmethod
    def backward(ctx, G: torch.Tensor):
        A, X = ctx.saved_tensors
        GB = ctx.adjoint_solve(A.mH, G)                       # A^H G_B = G
        GA = -(GB @ X.mH) if ctx.needs_input_grad[0] else None
        return GA, GB if ctx.needs_input_grad[1] else None, None, None


def attach_inverse(A: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """``X`` (computed as ``A^{-1}``) with autograd history: the inverse's derivative."""
    if not wants_grad(A):
        return X
    return _Inverse.apply(A, X)


def attach_solve(A: torch.Tensor, B: torch.Tensor, X: torch.Tensor,
                 adjoint_solve: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``X`` (computed from ``A X = B``, both ``(*, n, k)``-shaped after broadcasting) with autograd
    history: the solve's derivative; ``adjoint_solve(M, G)`` solves ``M Y = G``."""
    if not wants_grad(A, B):
        return X
    return _Solve.apply(A, B, X, adjoint_solve)


#: The message of torch.linalg.eigh's backward for a loss that depends on the eigenvectors' phases.
PHASE_MESSAGE = ("linalg_eigh_backward: The eigenvectors in the complex case are specified up to "
                 "multiplication by e^{i phi}. The specified loss function depends on this quantity, "
                 "so it is ill-defined.")


def eigenvector_inner(w: torch.Tensor, V: torch.Tensor, gV: torch.Tensor, phase_message: str) -> torch.Tensor:
    """``skew(V^H G_V) / E`` with ``E_ij = w_j - w_i`` and a zero diagonal: the eigenvectors' share of
    ``V^H G_A V``. A loss that depends on the eigenvectors' phases (``Im diag(V^H G_V) != 0`` beyond
    rounding) is refused with ``phase_message``."""
    VhgV = V.mH @ gV
    if V.is_complex():
        phase = VhgV.diagonal(dim1=-2, dim2=-1).imag.abs()
        scale = VhgV.abs().amax(dim=(-2, -1)).clamp_min(torch.finfo(w.dtype).tiny)
        if bool((phase > 100 * torch.finfo(w.dtype).eps * scale[..., None]).any()):
            raise RuntimeError(phase_message)
    unused = (gV == 0).all(dim=-2)
    inner = gap_divide((VhgV - VhgV.mH) / 2, w, unused)
    return inner - torch.diag_embed(inner.diagonal(dim1=-2, dim2=-1))


def gap_divide(N: torch.Tensor, w: torch.Tensor, unused: torch.Tensor) -> torch.Tensor:
    """``N_ij / (w_j - w_i)`` off the diagonal (the diagonal divided by 1), for the eigenvectors' and
    singular vectors' terms of the adjoints; ``unused`` (``(..., k)``, bool) marks the vectors
    whose gradient is exactly zero.

    A term for two vectors that are both unused is zero whatever the gap: the loss does not depend
    on them, and the formula's ``0 / (w_j - w_i)`` is ``0/0 = nan`` (torch's result) only at an
    exact tie. Every other term is divided as it stands, as torch divides it: at a tie the loss does
    see, the result is ``nan`` or ``inf`` (or, for values apart by rounding only, as meaningless
    as torch's), never a limit the adjoint cannot know.
    """
    k = w.shape[-1]
    eye = torch.eye(k, dtype=torch.bool, device=w.device)
    E = w.unsqueeze(-2) - w.unsqueeze(-1)
    both_unused = unused.unsqueeze(-1) & unused.unsqueeze(-2)
    E = torch.where(eye | both_unused, torch.ones_like(E), E)
    return torch.where(both_unused & ~eye, torch.zeros_like(N), N / E)


class _Eigh(torch.autograd.Function):
    @staticmethod
    def forward(ctx, A: torch.Tensor, w: torch.Tensor, V: torch.Tensor):
        w, V = w.detach(), V.detach()
        ctx.save_for_backward(w, V)
        return w, V

    @staticmethod
    def backward(ctx, gw: torch.Tensor | None, gV: torch.Tensor | None):
        w, V = ctx.saved_tensors
        if gV is None:
            inner = torch.zeros(*w.shape, w.shape[-1], dtype=V.dtype, device=V.device)
        else:
            inner = eigenvector_inner(w, V, gV, PHASE_MESSAGE)
        if gw is not None:
            inner = inner + torch.diag_embed(gw.to(V.dtype))
        return V @ inner @ V.mH, None, None


def attach_eigh(A: torch.Tensor, w: torch.Tensor, V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(w, V)`` (computed as the eigendecomposition of Hermitian ``A``) with autograd history."""
    if not wants_grad(A):
        return w, V
    return _Eigh.apply(A, w, V)


SVD_PHASE_MESSAGE = ("svd_backward: The singular vectors in the complex case are specified up to "
                     "multiplication by e^{i phi}. The specified loss function depends on this phase "
                     "term, making it ill-defined.")


class _SVD(torch.autograd.Function):
    @staticmethod
    def forward(ctx, A: torch.Tensor, U: torch.Tensor, S: torch.Tensor, Vh: torch.Tensor):
        U, S, Vh = U.detach(), S.detach(), Vh.detach()
        ctx.save_for_backward(U, S, Vh)
        ctx.shape = A.shape
        return U, S, Vh

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        U, S, Vh = ctx.saved_tensors
        m, n = ctx.shape[-2:]
        k = S.shape[-1]
        U, Vh = U[..., :k], Vh[..., :k, :]                     # completed columns: ignored
        gU = None if gU is None else gU[..., :k]
        gVh = None if gVh is None else gVh[..., :k, :]
        return svd_adjoint(U, S, Vh, gU, gS, gVh, m, n), None, None, None


def svd_adjoint(U: torch.Tensor, S: torch.Tensor, Vh: torch.Tensor, gU: torch.Tensor | None,
                gS: torch.Tensor | None, gVh: torch.Tensor | None, m: int, n: int) -> torch.Tensor:
    """The adjoint of ``A`` for the reduced SVD ``A = U diag(S) Vh`` (``k = min(m, n)``) and the
    adjoints ``gU``, ``gS``, ``gVh`` of its factors (``None``: zero)."""
    if gU is None and gVh is None:
        gS = torch.zeros_like(S) if gS is None else gS
        return (U * gS.to(U.dtype).unsqueeze(-2)) @ Vh
    skew = lambda M: M - M.mH
    UhgU = skew(U.mH @ gU) if gU is not None else None
    VhgV = skew(Vh @ gVh.mH) if gVh is not None else None
    if U.is_complex():
        diag = sum(M.diagonal(dim1=-2, dim2=-1) for M in (UhgU, VhgV) if M is not None)
        scale = max(M.abs().amax() for M in (UhgU, VhgV) if M is not None).clamp_min(torch.finfo(S.dtype).tiny)
        if bool((diag.imag.abs() > 100 * torch.finfo(S.dtype).eps * scale).any()):
            raise RuntimeError(SVD_PHASE_MESSAGE)
    Sc = S.to(U.dtype)
    unused = torch.ones_like(S, dtype=torch.bool)
    if gU is not None:
        unused = unused & (gU == 0).all(dim=-2)
    if gVh is not None:
        unused = unused & (gVh == 0).all(dim=-1)
    if UhgU is not None and VhgV is not None:
        inner = gap_divide(UhgU * Sc.unsqueeze(-2) + Sc.unsqueeze(-1) * VhgV, S * S, unused)
    elif UhgU is not None:
        inner = gap_divide(UhgU * Sc.unsqueeze(-2), S * S, unused)
    else:
        inner = gap_divide(Sc.unsqueeze(-1) * VhgV, S * S, unused)
    if gS is not None:
        inner = inner + torch.diag_embed(gS.to(U.dtype))
    if U.is_complex() and UhgU is not None:
        inner = inner + torch.diag_embed(UhgU.diagonal(dim1=-2, dim2=-1) / (2 * Sc))
    if m > n and gU is not None:
        gUSinv = gU / Sc.unsqueeze(-2)
        return (U @ inner + gUSinv - U @ (U.mH @ gUSinv)) @ Vh
    if m < n and gVh is not None:
        gVhSinv = gVh / Sc.unsqueeze(-1)
        return U @ (inner @ Vh + gVhSinv - (gVhSinv @ Vh.mH) @ Vh)
    return U @ inner @ Vh


def attach_svd(A: torch.Tensor, U: torch.Tensor, S: torch.Tensor, Vh: torch.Tensor):
    """``(U, S, Vh)`` (the SVD of ``A``, reduced or full) with autograd history."""
    if not wants_grad(A):
        return U, S, Vh
    return _SVD.apply(A, U, S, Vh)


class _PInv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, A: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        out = X.detach()
        ctx.save_for_backward(A.detach(), out)
        return out

    @staticmethod
    def backward(ctx, G: torch.Tensor):
        A, X = ctx.saved_tensors
        Xh, Gh = X.mH, G.mH
        m, n = A.shape[-2:]
        P = torch.eye(m, dtype=A.dtype, device=A.device) - A @ X      # I - A X, on the left
        Q = torch.eye(n, dtype=A.dtype, device=A.device) - X @ A      # I - X A, on the right
        return -(Xh @ G @ Xh) + P @ Gh @ (X @ Xh) + (Xh @ X) @ Gh @ Q, None


def attach_pinv(A: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """``X`` (computed as ``A^+``) with autograd history: the constant-rank derivative."""
    if not wants_grad(A):
        return X
    return _PInv.apply(A, X)


class _Polar(torch.autograd.Function):
    @staticmethod
    def forward(ctx, A: torch.Tensor, U: torch.Tensor, H: torch.Tensor,
                reduced_svd: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]):
        U, H = U.detach(), H.detach()
        ctx.save_for_backward(A.detach())
        ctx.reduced_svd = reduced_svd
        return U, H

    @staticmethod
    def backward(ctx, gUp, gH):
        (A,) = ctx.saved_tensors
        m, n = A.shape[-2:]
        W, S, Vh = ctx.reduced_svd(A)                            # A = W diag(S) Vh, U_p = W Vh
        Up = W @ Vh
        G = torch.zeros_like(Up) if gUp is None else gUp
        gA = torch.zeros_like(A)
        if gH is not None:                                       # H = U_p^H A
            G = G + A @ gH.mH
            gA = gA + Up @ gH
        R = W.mH @ G @ Vh.mH
        Sc = S.to(A.dtype)
        gA = gA + W @ ((R - R.mH) / (Sc.unsqueeze(-1) + Sc.unsqueeze(-2))) @ Vh
        if m > n:                                                # (I - W W^H) G V S^-1 V^H
            gA = gA + ((G - W @ (W.mH @ G)) @ (Vh.mH / Sc.unsqueeze(-2))) @ Vh
        elif m < n:                                              # W S^-1 W^H G (I - V V^H)
            T = W.mH @ G
            gA = gA + W @ ((T - (T @ Vh.mH) @ Vh) / Sc.unsqueeze(-1))
        return gA, None, None, None


def attach_polar(A: torch.Tensor, U: torch.Tensor, H: torch.Tensor,
                 reduced_svd: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]):
    """``(U, H)`` (the polar decomposition of ``A``) with autograd history."""
    if not wants_grad(A):
        return U, H
    return _Polar.apply(A, U, H, reduced_svd)


class _TruncatedEigh(torch.autograd.Function):
    @staticmethod
    def forward(ctx, A: torch.Tensor, H: torch.Tensor, w: torch.Tensor, V: torch.Tensor,
                solve: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
        w, V = w.detach(), V.detach()
        ctx.save_for_backward(H.detach(), w, V)
        ctx.solve = solve
        return w, V

    @staticmethod
    def backward(ctx, gw, gV):
        H, w, V = ctx.saved_tensors
        return partial_eigh_adjoint(H, w, V, gw, gV, ctx.solve, PHASE_MESSAGE), None, None, None, None


def partial_eigh_adjoint(H: torch.Tensor, w: torch.Tensor, V: torch.Tensor, gw: torch.Tensor | None,
                         gV: torch.Tensor | None, solve: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                         phase_message: str) -> torch.Tensor:
    """The adjoint of the Hermitian ``H`` for ``k`` of its eigenpairs ``(w, V)`` and their adjoints."""
    n = V.shape[-2]
    gA = torch.zeros_like(H)
    if gw is not None:
        gA = gA + V @ torch.diag_embed(gw.to(V.dtype)) @ V.mH
    if gV is None:
        return gA
    gA = gA + V @ eigenvector_inner(w, V, gV, phase_message) @ V.mH
    # the other n - k eigenvectors: one deflated solve per wanted pair, batched over the pairs
    P = V @ V.mH
    I = torch.eye(n, dtype=H.dtype, device=H.device)
    sigma = 2 * torch.linalg.matrix_norm(H).clamp_min(1)[..., None, None, None]
    M = w.to(H.dtype)[..., :, None, None] * I - H.unsqueeze(-3) + sigma * P.unsqueeze(-3)
    R = ((I - P) @ gV).mT.unsqueeze(-1)                          # (..., k, n, 1): (I - P) G_i
    Y = (I - P) @ solve(M, R).squeeze(-1).mT                     # (..., n, k)
    return gA + (Y @ V.mH + V @ Y.mH) / 2


class _TruncatedSVD(torch.autograd.Function):
    @staticmethod
    def forward(ctx, A: torch.Tensor, U: torch.Tensor, S: torch.Tensor, Vh: torch.Tensor,
                solve: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
        U, S, Vh = U.detach(), S.detach(), Vh.detach()
        ctx.save_for_backward(A.detach(), U, S, Vh)
        ctx.solve = solve
        return U, S, Vh

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        # The Jordan-Wielandt matrix J = [[0, A], [A^H, 0]] has the eigenpairs (s_i, [u_i; v_i] / sqrt 2):
        # the k leading singular triplets are k eigenpairs of J, and J's adjoint gives A's.
        A, U, S, Vh = ctx.saved_tensors
        m, n = A.shape[-2:]
        Z = lambda r, c: A.new_zeros(*A.shape[:-2], r, c)
        J = torch.cat([torch.cat([Z(m, m), A], -1), torch.cat([A.mH, Z(n, n)], -1)], -2)
        X = torch.cat([U, Vh.mH], -2) / 2 ** 0.5
        gX = None
        if gU is not None or gVh is not None:
            gU = torch.zeros_like(U) if gU is None else gU
            gV = torch.zeros_like(Vh.mH) if gVh is None else gVh.mH
            gX = torch.cat([gU, gV], -2) * 2 ** 0.5
        gJ = partial_eigh_adjoint(J, S, X, gS, gX, ctx.solve, SVD_PHASE_MESSAGE)
        return gJ[..., :m, m:] + gJ[..., m:, :m].mH, None, None, None, None


def attach_truncated_svd(A: torch.Tensor, U: torch.Tensor, S: torch.Tensor, Vh: torch.Tensor,
                         solve: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
    """``(U, S, Vh)`` (``k`` leading singular triplets of ``A``) with autograd history."""
    if not wants_grad(A):
        return U, S, Vh
    return _TruncatedSVD.apply(A, U, S, Vh, solve)


def attach_truncated_eigh(A: torch.Tensor, H: torch.Tensor, w: torch.Tensor, V: torch.Tensor,
                          solve: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
    """``(w, V)`` (``k`` eigenpairs of the Hermitian ``H`` read from ``A``) with autograd history."""
    if not wants_grad(A):
        return w, V
    return _TruncatedEigh.apply(A, H, w, V, solve)
