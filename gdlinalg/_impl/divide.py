"""The symmetric eigendecomposition by spectral divide and conquer, built from matrix products.

The sign function splits a Hermitian matrix along any point ``mu`` of its spectrum:
``P = (I + sign(H - mu I)) / 2`` is the orthogonal projector onto the eigenvectors with eigenvalues
above ``mu`` (Beavers & Denman 1974; Nakatsukasa & Higham 2013 compute it by QDWH, this module by
the scaled Newton–Schulz iteration of ``polar.py``, which needs no factorization at all). With an
orthonormal basis ``Q1`` of its range and ``Q2`` of the complement, ``[Q1 Q2]^H H [Q1 Q2]`` is block
diagonal, and each block is split again, until every block is 1 x 1: its entry is an eigenvalue
and the accumulated bases are the eigenvectors.

* The split point is the midpoint between the two middle diagonal entries, so that the halves
  have about equal size and a nearly diagonal block splits in one of its gaps.
* The bases come from the projector applied to a seeded Gaussian block and orthonormalised
  twice (QR, used as an orthonormalisation only); for a level with a single block, only the
  smaller side is built so, and the larger one is its orthogonal complement from a complete QR
  factorisation (an uneven split then costs little more than its small side). A split is
  accepted when the coupling ``||Q2^H H Q1||_F`` it leaves is at rounding level; otherwise (an
  eigenvalue sat too close to ``mu`` for the sign iteration to decide) it is tried again at
  another point.
* All blocks of one level, of every matrix of a batch, are split together in one batched
  iteration, padded to a common size: the Python overhead is per level, not per block. A padding
  entry is an eigenvalue placed above ``mu`` and exactly decoupled, and the random blocks that
  build the bases are zero on it, so it never enters a basis.
* A block whose eigenvalues all agree to rounding (``||H - mean(diag) I||_F`` at rounding level)
  is final as it is.

Cost: the top split is the scaled phase from ``l = 0.1 / n`` (11 steps at ``n = 50``, 14 at ``n = 500``,
16 at ``n = 4000``; two products of size ``n`` each), a few unscaled steps, and a few products and QR
factorizations for the bases; each level below costs a quarter of the one above.
"""

from __future__ import annotations

import math

import torch

from . import progress, tolerances
from .checks import real_dtype
from .estimates import gaussian
from .polar import newton_schulz, start_scale
from .residuals import fro
from .outcome import hermitian_part



def _split_points(H: torch.Tensor, size: torch.Tensor, attempt: torch.Tensor) -> torch.Tensor:
    """Per block, a point inside its spectrum: between the two middle diagonal entries (attempt 0),
    then at other positions among the sorted diagonal for retries. Shape ``(nb,)``."""
    nb, S, _ = H.shape
    d = torch.diagonal(H, dim1=-2, dim2=-1).real.to(torch.float64)
    big = torch.finfo(torch.float64).max
    pos = torch.arange(S, device=H.device).unsqueeze(0)
    d = torch.where(pos < size.unsqueeze(-1), d, torch.full_like(d, big))
    d = torch.sort(d, dim=-1).values
    # Middle first; retries move the cut to the quartiles and then further out.
    frac = torch.tensor([0.5, 0.3, 0.7, 0.15, 0.85, 0.4, 0.6], dtype=torch.float64)[attempt.clamp_max(6)]
    h = (frac * size.to(torch.float64)).floor().to(torch.int64).clamp(1, None)
    h = torch.minimum(h, size - 1)
    lo = torch.take_along_dim(d, (h - 1).unsqueeze(-1), dim=-1).squeeze(-1)
    hi = torch.take_along_dim(d, h.unsqueeze(-1), dim=-1).squeeze(-1)
    return 0.5 * (lo + hi)


def _basis(M: torch.Tensor, cols: torch.Tensor, rows: torch.Tensor, seed: int) -> torch.Tensor:
    """Orthonormal bases of the ranges of the projectors ``M`` (``(nb, S, S)``): ``cols[b]`` columns
    for block ``b``, zero outside its first ``rows[b]`` rows and first ``cols[b]`` columns."""
    nb, S, _ = M.shape
    K = int(cols.max()) if cols.numel() else 0
    if K == 0:
        return M.new_zeros(nb, S, 0)
    r = torch.arange(S, device=M.device)
    c = torch.arange(K, device=M.device)
    rmask = (r.unsqueeze(0) < rows.unsqueeze(-1)).unsqueeze(-1)              # (nb, S, 1)
    cmask = (c.unsqueeze(0) < cols.unsqueeze(-1)).unsqueeze(-2)              # (nb, 1, K)
    # One draw for the whole batch: a block's basis fails only if its projector meets the draw
    # in a degenerate way, which is as unlikely for a shared draw as for its own (and thousands
    # of draws cost as much as the block products).
    G = gaussian((S, K), M, seed) * (rmask & cmask).to(M.dtype)
    Q = torch.linalg.qr(M @ G).Q * (rmask & cmask).to(M.dtype)
    # Twice: the second pass removes what rounding left outside the range.
    return torch.linalg.qr(M @ Q).Q * (rmask & cmask).to(M.dtype)


def _complement(Q: torch.Tensor) -> torch.Tensor:
    """An orthonormal basis of the orthogonal complement of the orthonormal columns ``Q``
    (``(1, S, k)``): the last ``S - k`` columns of its complete QR factorisation."""
    return torch.linalg.qr(Q, mode="complete").Q[..., Q.shape[-1]:]


class _Group:
    """Blocks of one size bucket, padded to a common size ``S``: ``H`` ``(g, S, S)``, their bases
    ``U`` ``(g, n, S)`` in the coordinates of their batch member, true ``size``, ``member`` index
    and split ``attempt``."""

    def __init__(self, H, U, size, member, attempt):
        self.H, self.U, self.size, self.member, self.attempt = H, U, size, member, attempt

    def take(self, mask: torch.Tensor, size: torch.Tensor | None = None, attempt: torch.Tensor | None = None):
        return _Group(self.H[mask], self.U[mask], self.size[mask] if size is None else size[mask], self.member[mask],
                      self.attempt[mask] if attempt is None else attempt[mask])


def _bucket(size: torch.Tensor) -> torch.Tensor:
    # Blocks of sizes within a factor two share a batch, and all blocks up to 32 share one:
    # padding wastes at most 8x the flops of a block that is itself cheap, and the Python overhead
    # stays per bucket and level, not per block.
    return torch.ceil(torch.log2(size.to(torch.float64).clamp_min(32))).to(torch.int64)


def _regroup(parts: list[_Group]) -> list[_Group]:
    parts = [p for p in parts if p.H.shape[0]]
    if not parts:
        return []
    buckets = torch.cat([_bucket(p.size) for p in parts])
    out = []
    for b in torch.unique(buckets).tolist():
        pieces = []
        for p in parts:
            mask = _bucket(p.size) == b
            if bool(mask.any()):
                pieces.append(p.take(mask))
        S = max(int(q.size.max()) for q in pieces)
        out.append(_Group(torch.cat([_fit(q.H, S, square=True) for q in pieces]),
                          torch.cat([_fit(q.U, S, square=False) for q in pieces]),
                          torch.cat([q.size for q in pieces]), torch.cat([q.member for q in pieces]),
                          torch.cat([q.attempt for q in pieces])))
    return out


def divide_and_conquer(H: torch.Tensor, *, max_attempts: int = 7):
    """Eigenpairs of every Hermitian matrix of ``H`` (``(B, n, n)``).

    Returns ``(w, V, levels, ok)``: eigenvalues ascending ``(B, n)``, eigenvectors ``(B, n, n)``,
    the number of levels and, per member, whether every split was accepted (a block whose splits
    all failed is left as it is, and its member's residual will show it).
    """
    Bn, n, _ = H.shape
    dtype = H.dtype
    rd = real_dtype(dtype)
    u = tolerances.unit_roundoff(dtype)
    scale = fro(H).clamp_min(torch.finfo(torch.float64).tiny)                # per member
    eye_n = torch.eye(n, dtype=dtype, device=H.device)
    groups = [_Group(H.clone(), eye_n.expand(Bn, n, n).clone(), torch.full((Bn,), n, dtype=torch.int64),
                     torch.arange(Bn), torch.zeros(Bn, dtype=torch.int64))]
    w_out = torch.empty(Bn, n, dtype=rd, device=H.device)
    V_out = torch.empty(Bn, n, n, dtype=dtype, device=H.device)
    filled = torch.zeros(Bn, dtype=torch.int64, device=H.device)
    ok = torch.ones(Bn, dtype=torch.bool)
    levels = 0

    def emit(g: _Group) -> None:
        """Final blocks: their diagonal entries are eigenvalues, their basis columns eigenvectors,
        written for all blocks at once (a batch of small matrices ends in thousands of them)."""
        nb, S = g.H.shape[0], g.H.shape[-1]
        d = torch.diagonal(g.H, dim1=-2, dim2=-1).real.to(rd)
        # Each block's first column in its member: what the member has filled so far, plus the
        # sizes of the member's blocks before it in this call.
        order = torch.argsort(g.member, stable=True)
        size, member = g.size[order], g.member[order]
        before = torch.cumsum(size, 0) - size
        start = torch.full((Bn,), torch.iinfo(torch.int64).max, dtype=torch.int64, device=H.device)
        start = start.scatter_reduce(0, member, before, reduce="amin")
        first = filled[member] + before - start[member]
        filled.scatter_add_(0, member, size)
        cols = torch.arange(S, device=H.device)
        live = cols.unsqueeze(0) < size.unsqueeze(-1)                          # (nb, S)
        dest_member = member.unsqueeze(-1).expand(nb, S)[live]
        dest_col = (first.unsqueeze(-1) + cols)[live]
        w_out[dest_member, dest_col] = d[order][live]
        V_out[dest_member, :, dest_col] = g.U[order].mT[live]

    while groups:
        levels += 1
        parts: list[_Group] = []
        dropped: list[float] = [0.0]
        with progress.quiet():          # a level's sign-function steps count as one iteration
            for g in groups:
                parts += _split_group(g, scale, u, levels, max_attempts, emit, ok, dropped)
        # Progress: the largest coupling a split of this level neglected, relative to ||H||_F.
        progress.step(max(dropped))
        groups = _regroup(parts)
    w, idx = torch.sort(w_out, dim=-1)
    V = torch.take_along_dim(V_out, idx.unsqueeze(-2), dim=-1)
    return w, V, levels, ok


def _split_group(g: _Group, scale, u, level, max_attempts, emit, ok, dropped: list[float]) -> list[_Group]:
    """Split every block of a group once; returns the children and the blocks to retry, and appends
    to ``dropped`` the largest coupling an accepted split neglects, relative to its member's ``||H||_F``."""
    dtype = g.H.dtype
    nb, S, _ = g.H.shape
    n = g.U.shape[1]
    pos = torch.arange(S, device=g.H.device)
    real = pos.unsqueeze(0) < g.size.unsqueeze(-1)                            # (nb, S)
    diag = torch.diagonal(g.H, dim1=-2, dim2=-1).real.to(torch.float64)
    mean = (diag * real).sum(-1) / g.size.to(torch.float64)
    spread = fro(g.H - torch.diag_embed((mean.unsqueeze(-1) * real).to(dtype)))
    # Final: 1 x 1 blocks, and blocks whose eigenvalues agree to rounding.
    final = (g.size <= 1) | (spread <= 4 * u * math.sqrt(n) * scale[g.member]) | (g.attempt >= max_attempts)
    if bool(final.any()):
        ok[g.member[final & (g.attempt >= max_attempts) & (g.size > 1)]] = False
        emit(g.take(final))
    if bool(final.all()):
        return []
    g = g.take(~final)
    real = real[~final]
    Hs, Us, size = g.H, g.U, g.size
    mu = _split_points(Hs, size, g.attempt)
    Bm = Hs - torch.diag_embed((mu.unsqueeze(-1) * real).to(dtype))
    c = start_scale(Bm)
    # Padding: an eigenvalue half-way up the scaled range, exactly decoupled.
    X = Bm / c.view(-1, 1, 1).to(dtype) + torch.diag_embed((0.5 * ~real).to(dtype))
    # Eigenvalues of an S x S block are about 2/S apart, so the one nearest mu is at about 1/S:
    # a tenth of that as the scaling's lower bound keeps all but the rare closer one in range.
    Sg, _ = newton_schulz(X, hermitian=True, lower=min(0.1, 0.1 / int(size.max())))
    eye = torch.eye(S, dtype=dtype, device=Hs.device)
    P = hermitian_part(0.5 * (eye + Sg))
    pads = S - size
    k = torch.round(torch.diagonal(P, dim1=-2, dim2=-1).real.sum(-1).to(torch.float64)).to(torch.int64) - pads
    k = torch.minimum(torch.maximum(k, torch.zeros_like(k)), size)
    rm = real.to(dtype)
    if Hs.shape[0] == 1 and int(size[0]) == S and 0 < int(k) < S:
        # One block, unpadded: only the smaller side is built from its projector, the larger one
        # is its orthogonal complement, from the same Householder reflectors (a complete QR):
        # peeling 37 eigenvalues off 462 then costs two QR factorisations of 462 x 37 and one
        # complete one, not two more of 462 x 425.
        if 2 * int(k) <= S:
            Q1 = _basis(P, k, size, seed=level)
            Q2 = _complement(Q1)
        else:
            Q2 = _basis(eye - P, size - k, size, seed=level + 1000)
            Q1 = _complement(Q2)
    else:
        Q1 = _basis(P, k, size, seed=level)
        Q2 = _basis((eye - P) * rm.unsqueeze(-1) * rm.unsqueeze(-2), size - k, size, seed=level + 1000)
    HQ1 = Hs @ Q1
    coupling = fro(Q2.mH @ HQ1)
    good = (k > 0) & (k < size) & (coupling <= 8 * u * math.sqrt(S) * fro(Hs))
    out = []
    if bool((~good).any()):
        out.append(g.take(~good, attempt=g.attempt + 1))
    if bool(good.any()):
        dropped.append(float((coupling[good].to(torch.float64) / scale[g.member[good]]).max()))
        zeros = torch.zeros_like(size)
        H1 = hermitian_part(Q1.mH @ HQ1)
        H2 = hermitian_part(Q2.mH @ (Hs @ Q2))
        out.append(_Group(H1[good], (Us @ Q1)[good], k[good], g.member[good], zeros[good]))
        out.append(_Group(H2[good], (Us @ Q2)[good], (size - k)[good], g.member[good], zeros[good]))
    return out


def _fit(X: torch.Tensor, S: int, *, square: bool) -> torch.Tensor:
    """``X`` with its last dimension (and, if ``square``, the one before) cut or zero-padded to ``S``,
    so that groups of different sizes stack into one batch."""
    d = S - X.shape[-1]
    return torch.nn.functional.pad(X, (0, d, 0, d) if square else (0, d))
