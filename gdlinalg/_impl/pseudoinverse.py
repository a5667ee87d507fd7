"""The Moore–Penrose pseudo-inverse from the package's own SVD, with the cut-off of
:func:`torch.linalg.pinv`.

``A^+ = V diag(1 / s_i) U^H`` (the SVD of ``spectral.py``: Jacobi for graded input, the polar
route otherwise) over the singular values above ``max(atol, rtol s_1)``; those at or
below it are treated as zero. The default ``rtol`` is ``max(m, n) eps`` when no positive ``atol``
is given, and 0 otherwise, exactly as in torch. With ``hermitian=True`` the eigendecomposition is
used instead and the cut applies to ``|lambda_i|``.

Why the SVD and not Newton–Schulz by default: the iteration can only tell a singular value from
rounding noise by running until the cut-off itself has converged, about ``2 log2(s_1 / tau)`` steps
(90 in float64 for the default cut), and it returns that answer to the accuracy the SVD gives
anyway (``newton_schulz.py`` explains the construction).
"""

from __future__ import annotations

import torch

from . import progress, tolerances
from .checks import real_dtype
from .outcome import Outcome, judge
from .result import Recorder
from .spectral import eigh_factors, svd_factors


def cutoffs(A: torch.Tensor, atol, rtol) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-matrix ``(atol, rtol)`` as float64 tensors of shape ``(B,)`` for ``A`` of shape
    ``(*, m, n)`` (``B`` the flattened batch), with torch's defaults."""
    m, n = A.shape[-2:]
    batch = A.shape[:-2]

    def per_member(t, default: float) -> torch.Tensor:
        if t is None:
            t = default
        t = torch.as_tensor(t, dtype=torch.float64, device="cpu")
        if not bool(torch.isfinite(t).all()) or bool((t < 0).any()):
            raise ValueError(f"expected finite, non-negative tolerances, got {t.tolist()}")
        try:
            return t.expand(batch).reshape(-1).clone()
        except RuntimeError:
            raise ValueError(f"tolerance of shape {tuple(t.shape)} does not broadcast to the batch shape {tuple(batch)}") from None

    a = per_member(atol, 0.0)
    if rtol is None:
        eps = torch.finfo(real_dtype(A.dtype)).eps
        r = torch.where(a > 0, torch.zeros_like(a), torch.full_like(a, max(m, n) * eps))
    else:
        r = per_member(rtol, 0.0)
    return a, r


def pinv(A: torch.Tensor, *, rec: Recorder, rtol: torch.Tensor, atol: torch.Tensor, hermitian: bool = False,
         tol: float | None = None, max_iter: int | None = None) -> Outcome:
    """Kernel for ``pinv(method="svd")`` on a flattened, normalised batch (``atol`` already in the
    normalised scale). The residual is the pair of Penrose conditions of ``residuals.pinv``."""
    work = A.to(tolerances.WIDER.get(A.dtype, A.dtype))
    rd = real_dtype(work.dtype)
    with progress.recording(rec):
        if hermitian:
            w, V, sweeps, converged, _ = eigh_factors(work, max_iter=max_iter)
            s = w.abs()
            cut = torch.maximum(atol.to(rd), rtol.to(rd) * s.amax(-1)).unsqueeze(-1)
            inv = torch.where(s > cut, 1 / torch.where(s > cut, w, torch.ones_like(w)), torch.zeros_like(w))
            X = (V * inv.unsqueeze(-2).to(V.dtype)) @ V.mH
            cut = cut.squeeze(-1)
        else:
            U, S, Vh, sweeps, converged, _ = svd_factors(work, max_iter=max_iter)
            cut = torch.maximum(atol.to(rd), rtol.to(rd) * S[..., 0]).unsqueeze(-1)
            inv = torch.where(S > cut, 1 / torch.where(S > cut, S, torch.ones_like(S)), torch.zeros_like(S))
            X = (Vh.mH * inv.unsqueeze(-2).to(Vh.dtype)) @ U.mH
            cut = cut.squeeze(-1)
    X = X.to(A.dtype)
    out = judge(A, X, rec.steps(), tol, tau=cut.to(torch.float64), extra_ok=converged)
    rec.final(out.residual)
    return out
