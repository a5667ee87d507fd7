"""The Cholesky factor of a Hermitian positive definite matrix, computed by the package itself.

It serves one purpose: the symmetric eigendecomposition with *relative* accuracy. For a graded
positive definite ``A = D H D`` (``D`` diagonal, ``H`` well conditioned) the factor is ``L = D L_H``
whatever ``D`` is, because every operation of the algorithm commutes with the diagonal scaling
(Demmel 1989), and one-sided Jacobi on the column-graded ``L^H = L_H^H D`` then finds the
eigenvalues ``sigma_i(L)^2`` to a relative accuracy set by ``cond(H)``, not ``cond(A)``
(Demmel & Veselić 1992). A shift ``A + c I`` would instead give them to an absolute accuracy of
``u ||A||``.
"""

from __future__ import annotations

import torch

from . import tolerances


def cholesky(A: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(L, ok)`` for a batch ``A`` (``(B, n, n)``, Hermitian): lower triangular ``L`` with
    ``L L^H = A`` and, per member, whether every pivot was safely positive.

    Left-looking, one column per step (a matrix-vector product with the columns already done). A
    pivot counts as positive when it exceeds ``n u`` times the diagonal entry it came from: below
    that the matrix is not positive definite to working accuracy, and the member's ``L`` is
    meaningless (``ok`` is False).
    """
    Bn, n = A.shape[0], A.shape[-1]
    u = tolerances.unit_roundoff(A.dtype)
    L = torch.zeros_like(A)
    ok = torch.ones(Bn, dtype=torch.bool, device=A.device)
    diag = torch.diagonal(A, dim1=-2, dim2=-1).real
    for j in range(n):
        v = A[:, j:, j]
        if j:
            v = v - (L[:, j:, :j] @ L[:, j, :j].conj().unsqueeze(-1)).squeeze(-1)
        pivot = v[:, 0].real
        good = pivot > n * u * diag[:, j]
        ok &= good
        root = torch.sqrt(torch.where(good, pivot, torch.ones_like(pivot)))
        L[:, j:, j] = v / root.unsqueeze(-1).to(A.dtype)
        L[:, j, j] = root.to(A.dtype)  # exactly real, whatever rounding left in v's imaginary part
    return L, ok
