"""The adversarial suite: inputs a numerical analyst would try, each answer classified.

    python benchmarks/adversarial.py            # one line per case, then counts per class
    python benchmarks/adversarial.py --only pinv,scale

Every case runs a public gdlinalg function with its defaults (or a named method), measures the
error the way the trustworthy-defaults contract does, and compares it with ``torch.linalg``'s
error on the same input measured the same way. The answer is

* ``accurate``: error within ``max(20 x torch's, 50 n u)`` (or the case's own bound), no warning;
* ``flagged``: not accurate, but a ``ConvergenceWarning`` (or ``converged=False``) says so;
* ``silent-wrong``: not accurate and reported as converged, the worst outcome;
* ``spurious-warning``: accurate, yet it warned;
* ``false-error``: ``SingularMatrixError`` on a matrix that is not singular to working precision;
* ``error``: any other exception (e.g. an option the package does not have).

Some cases expect an exception (a singular matrix must raise): for them ``accurate`` means it
raised. ``tests/contract/test_adversarial.py`` runs every case and fails on anything but ``accurate``.

Error measures (in double precision): inverse ``||I - A X||_F / sqrt(n)``; solve the normwise
backward error ``||A x - b|| / (||A||_2 ||x|| + ||b||)``; pseudo-inverse the forward error
``||X - A^+||_F / ||A^+||_F`` against the exact ``A^+`` of a matrix built from known factors;
SVD / eigh the largest of the reconstruction error, the loss of orthogonality and the
singular-value (eigenvalue) error relative to the largest; relative accuracy of graded matrices
the largest relative error of every singular value (eigenvalue) against 40-digit ``mpmath``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import torch

import gdlinalg
from gdlinalg import matrices

F32, F64, C64, C128 = torch.float32, torch.float64, torch.complex64, torch.complex128
OUTCOMES = ("accurate", "flagged", "silent-wrong", "spurious-warning", "false-error", "error")
FACTOR = 20.0


def u(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).eps / 2


def floor(n: int, dtype: torch.dtype) -> float:
    return 50 * n * u(dtype)


def wide(X: torch.Tensor) -> torch.Tensor:
    return X.to(C128 if X.is_complex() else F64)


def _exp2(A: torch.Tensor) -> torch.Tensor:
    """Per matrix, the power of two nearest its largest entry (shape ``(*, 1, 1)``), so that the
    measures below can divide it out exactly and never square a 1e300."""
    top = (torch.view_as_real(A).abs().amax(-1) if A.is_complex() else A.abs()).amax(dim=(-2, -1), keepdim=True)
    _, e = torch.frexp(torch.where(top > 0, top, torch.ones_like(top)).to(F64))
    return torch.pow(torch.tensor(2.0, dtype=F64), e.to(F64))


def _fro(X: torch.Tensor) -> float:
    return float(torch.linalg.matrix_norm(wide(X)))


# ------------------------------------------------------------------------------------------------
# error measures
# ------------------------------------------------------------------------------------------------


def inv_error(A: torch.Tensor, X: torch.Tensor) -> float:
    A, X = wide(A), wide(X)
    n = A.shape[-1]
    R = torch.eye(n, dtype=A.dtype) - A @ X
    return float((torch.linalg.matrix_norm(R) / math.sqrt(n)).max())


def backward_error(A: torch.Tensor, X: torch.Tensor, B: torch.Tensor) -> float:
    A, X, B = wide(A), wide(X), wide(B)
    if B.dim() == A.dim() - 1:
        X, B = X.unsqueeze(-1), B.unsqueeze(-1)
    # eta is unchanged by (A, x, b) -> (A / c, x / d, b / (c d)): divide out powers of two.
    c, d = _exp2(A), _exp2(X)
    A, X, B = A / c, X / d, B / (c * d)
    r = torch.linalg.vector_norm(A @ X - B, dim=-2)
    nA = torch.linalg.matrix_norm(A, 2).unsqueeze(-1)
    return float((r / (nA * torch.linalg.vector_norm(X, dim=-2) + torch.linalg.vector_norm(B, dim=-2))).max())


def forward_error(X: torch.Tensor, exact: torch.Tensor) -> float:
    X, exact = wide(X), wide(exact)
    return float((torch.linalg.matrix_norm(X - exact) / torch.linalg.matrix_norm(exact)).max())


def orth_error(Q: torch.Tensor) -> float:
    Q = wide(Q)
    return float((Q.mH @ Q - torch.eye(Q.shape[-1], dtype=Q.dtype)).abs().max())


def svd_error(A: torch.Tensor, out, s_true: torch.Tensor) -> float:
    U, S, Vh = (wide(t) for t in out)
    A = wide(A)
    c = _exp2(A)
    A, S, s_true = A / c, S / c.squeeze(-1), s_true.to(F64) / c.squeeze(-1)
    k = S.shape[-1]
    U, Vh = U[..., :k], Vh[..., :k, :]
    rec = torch.linalg.matrix_norm((U * S.to(U.dtype).unsqueeze(-2)) @ Vh - A) / torch.linalg.matrix_norm(A)
    val = (S - s_true.to(S.dtype)).abs().amax(-1) / s_true[..., :1].to(S.dtype).squeeze(-1)
    return max(float(rec.max()), orth_error(U), orth_error(Vh.mH), float(val.max()))


def eigh_error(A: torch.Tensor, out, w_true: torch.Tensor) -> float:
    w, V = wide(out[0]), wide(out[1])
    A = wide(A)
    c = _exp2(A)
    A, w, w_true = A / c, w / c.squeeze(-1), w_true.to(F64) / c.squeeze(-1)
    res = torch.linalg.matrix_norm(A @ V - V * w.to(V.dtype).unsqueeze(-2)) / torch.linalg.matrix_norm(A)
    val = (w - w_true.to(w.dtype)).abs().amax(-1) / w_true.abs().amax(-1).to(w.dtype)
    return max(float(res.max()), orth_error(V), float(val.max()))


def truncated_svd_error(A: torch.Tensor, out, s_true: torch.Tensor) -> float:
    U, S, Vh = (wide(t) for t in out)
    A = wide(A)
    r = torch.linalg.vector_norm(A @ Vh.mH - U * S.to(U.dtype).unsqueeze(-2), dim=-2).amax(-1)
    k = S.shape[-1]
    val = (S - s_true[..., :k].to(S.dtype)).abs().amax(-1)
    s1 = s_true[..., 0].to(S.dtype)
    return max(float((r / s1).max()), orth_error(U), orth_error(Vh.mH), float((val / s1).max()))


def truncated_eigh_error(A: torch.Tensor, out, w_true: torch.Tensor) -> float:
    """``w_true``: the wanted eigenvalues in the order returned (most extreme first)."""
    w, V = wide(out[0]), wide(out[1])
    A = wide(A)
    scale = torch.linalg.matrix_norm(A, 2)
    r = torch.linalg.vector_norm(A @ V - V * w.to(V.dtype).unsqueeze(-2), dim=-2).amax(-1)
    val = (w - w_true.to(w.dtype)).abs().amax(-1)
    return max(float((r / scale).max()), orth_error(V), float((val / scale).max()))


def relative_error(values: torch.Tensor, truth: torch.Tensor) -> float:
    values, truth = values.to(F64), truth.to(F64)
    return float(((values - truth).abs() / truth.abs()).max())


# ------------------------------------------------------------------------------------------------
# cases
# ------------------------------------------------------------------------------------------------


@dataclass
class Measured:
    """What a case measured: gdlinalg's error, the bound it must meet, and the Result (if any)."""

    error: float
    bound: float
    result: gdlinalg.Result | None = None
    note: str = ""


@dataclass
class Case:
    cls: str
    name: str
    run: Callable[[], Measured]
    expect_raise: type[BaseException] | None = None


@dataclass
class Verdict:
    case: Case
    outcome: str
    error: float = math.nan
    bound: float = math.nan
    seconds: float = 0.0
    message: str = ""


def classify(case: Case) -> Verdict:
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            m = case.run()
        except gdlinalg.SingularMatrixError as exc:
            seconds = time.perf_counter() - t0
            if case.expect_raise is not None and isinstance(exc, case.expect_raise):
                return Verdict(case, "accurate", seconds=seconds, message=f"raised as expected: {exc}")
            return Verdict(case, "false-error", seconds=seconds, message=str(exc))
        except Exception as exc:  # noqa: BLE001 - every other failure is reported, not hidden
            return Verdict(case, "error", seconds=time.perf_counter() - t0, message=f"{type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - t0
    if case.expect_raise is not None:
        return Verdict(case, "silent-wrong", m.error, m.bound, seconds, "no exception on a singular matrix")
    warned = [w for w in caught if issubclass(w.category, gdlinalg.ConvergenceWarning)]
    flagged = bool(warned) or (m.result is not None and not m.result.converged)
    ok = math.isfinite(m.error) and m.error <= m.bound
    if ok:
        outcome = "spurious-warning" if flagged else "accurate"
    else:
        outcome = "flagged" if flagged else "silent-wrong"
    msg = str(warned[0].message) if warned else m.note
    return Verdict(case, outcome, m.error, m.bound, seconds, msg)


def _each(fn, *mats):
    """``fn`` applied to one matrix at a time and stacked: torch's batched LAPACK calls run a
    parallel loop over the batch around multithreaded MKL, which can spin for minutes on a busy
    two-core machine (seen with a complex128 batch in ``zgetrf``)."""
    if mats[0].dim() == 2:
        return fn(*mats)
    out = [fn(*(m[i] for m in mats)) for i in range(mats[0].shape[0])]
    if isinstance(out[0], tuple):
        return type(out[0])(tuple(torch.stack([o[j] for o in out]) for j in range(len(out[0]))))
    return torch.stack(out)


def _torch_bound(ref_error: float, n: int, dtype: torch.dtype) -> float:
    return max(FACTOR * ref_error, floor(n, dtype))


def _vec(n: int, dtype: torch.dtype, seed: int, k: int | None = None) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    shape = (n,) if k is None else (n, k)
    if dtype.is_complex:
        return torch.complex(torch.randn(shape, generator=gen, dtype=F64), torch.randn(shape, generator=gen, dtype=F64)).to(dtype)
    return torch.randn(shape, generator=gen, dtype=F64).to(dtype)


def _factors(m: int, n: int, s: torch.Tensor, seed: int, dtype: torch.dtype):
    """``A = U diag(s) V^H`` in double precision with its exact factors, and ``A`` rounded to ``dtype``."""
    gen = torch.Generator().manual_seed(seed)
    k = min(m, n)
    wd = C128 if dtype.is_complex else F64
    U = matrices._haar(m, k, gen, wd)
    V = matrices._haar(n, k, gen, wd)
    A = ((U * s.to(wd).unsqueeze(-2)) @ V.mH).to(dtype)
    return A, U, s.to(F64), V


def inv_case(cls: str, name: str, A: Callable[[], torch.Tensor], scale: float = 1.0, **kw) -> Case:
    def run() -> Measured:
        M = A()
        res = gdlinalg.inv_result(M * scale, **kw)
        err = inv_error(M * scale, res.solution)
        ref = inv_error(M, _each(torch.linalg.inv, M))
        return Measured(err, _torch_bound(ref, M.shape[-1], M.dtype), res)
    return Case(cls, name, run)


def solve_case(cls: str, name: str, A: Callable[[], torch.Tensor], k: int | None = None, scale: float = 1.0,
               bscale: float = 1.0, **kw) -> Case:
    def run() -> Measured:
        M = A()
        b = _vec(M.shape[-1], M.dtype, seed=99, k=k)
        if M.dim() > 2:
            b = b.expand(*M.shape[:-2], *b.shape)
        res = gdlinalg.solve_result(M * scale, b * bscale, **kw)
        err = backward_error(M * scale, res.solution, b * bscale)
        ref = backward_error(M, _each(torch.linalg.solve, M, b), b)
        return Measured(err, _torch_bound(ref, M.shape[-1], M.dtype), res)
    return Case(cls, name, run)


def pinv_case(cls: str, name: str, m: int, n: int, s: list[float] | torch.Tensor, dtype: torch.dtype, *, seed: int = 0,
              keep: Callable[[torch.Tensor], torch.Tensor] | None = None, scale: float = 1.0, batch_odd: Any = None,
              **kw) -> Case:
    """``A`` from known factors; the exact ``A^+`` inverts the singular values ``keep`` selects
    (default: the nonzero ones)."""
    def run() -> Measured:
        sv = torch.as_tensor(s, dtype=F64)
        A, U, sv, V = _factors(m, n, sv, seed, dtype)
        kept = (sv > 0) if keep is None else keep(sv)
        inv = torch.where(kept, 1 / torch.where(kept, sv, torch.ones_like(sv)), torch.zeros_like(sv))
        exact = (V * inv.to(V.dtype).unsqueeze(-2)) @ U.mH
        if batch_odd is not None:
            other, exact_other = batch_odd()
            A, exact = torch.stack([A, other.to(dtype)]), torch.stack([exact, exact_other.to(exact.dtype)])
        res = gdlinalg.pinv_result(A * scale, **kw)
        err = forward_error(res.solution * scale, exact)
        torch_kw = {k: v for k, v in kw.items() if k in ("atol", "rtol", "hermitian")}
        ref = forward_error(_each(lambda x: torch.linalg.pinv(x, **torch_kw), A), exact)
        return Measured(err, _torch_bound(ref, max(m, n), dtype), res)
    return Case(cls, name, run)


def svd_case(cls: str, name: str, A: Callable[[], tuple[torch.Tensor, torch.Tensor]], scale: float = 1.0,
             **kw) -> Case:
    """``A()`` returns the matrix and its true singular values (descending)."""
    def run() -> Measured:
        M, s = A()
        res = gdlinalg.svd_result(M * scale, full_matrices=False, **kw)
        U, S, Vh = res.solution
        err = svd_error(M, (U, S / scale, Vh), s)
        ref = svd_error(M, _each(lambda x: torch.linalg.svd(x, full_matrices=False), M), s)
        return Measured(err, _torch_bound(ref, max(M.shape[-2:]), M.dtype), res)
    return Case(cls, name, run)


def eigh_case(cls: str, name: str, A: Callable[[], tuple[torch.Tensor, torch.Tensor]], scale: float = 1.0,
              **kw) -> Case:
    """``A()`` returns the Hermitian matrix and its true eigenvalues (ascending)."""
    def run() -> Measured:
        M, w = A()
        res = gdlinalg.eigh_result(M * scale, **kw)
        ww, V = res.solution
        err = eigh_error(M, (ww / scale, V), w)
        ref = eigh_error(M, _each(torch.linalg.eigh, M), w)
        return Measured(err, _torch_bound(ref, M.shape[-1], M.dtype), res)
    return Case(cls, name, run)


def truncated_svd_case(cls: str, name: str, A: Callable[[], tuple[torch.Tensor, torch.Tensor]], k: int,
                       scale: float = 1.0, **kw) -> Case:
    def run() -> Measured:
        M, s = A()
        res = gdlinalg.truncated_svd_result(M * scale, k, **kw)
        U, S, Vh = res.solution
        err = truncated_svd_error(M, (U, S / scale, Vh), s)
        Ut, St, Vht = _each(lambda x: torch.linalg.svd(x, full_matrices=False), M)
        ref = truncated_svd_error(M, (Ut[..., :k], St[..., :k], Vht[..., :k, :]), s)
        return Measured(err, _torch_bound(ref, max(M.shape[-2:]), M.dtype), res)
    return Case(cls, name, run)


def truncated_eigh_case(cls: str, name: str, A: Callable[[], tuple[torch.Tensor, torch.Tensor]], k: int,
                        largest: bool = True, scale: float = 1.0, **kw) -> Case:
    def run() -> Measured:
        M, w = A()  # ascending
        res = gdlinalg.truncated_eigh_result(M * scale, k, largest=largest, **kw)
        ww, V = res.solution
        want = w.flip(-1)[..., :k] if largest else w[..., :k]
        err = truncated_eigh_error(M, (ww / scale, V), want)
        wt, Vt = _each(torch.linalg.eigh, M)
        if largest:
            wt, Vt = wt.flip(-1), Vt.flip(-1)
        ref = truncated_eigh_error(M, (wt[..., :k], Vt[..., :k]), want)
        return Measured(err, _torch_bound(ref, M.shape[-1], M.dtype), res)
    return Case(cls, name, run)


def _known(m: int, n: int, s: torch.Tensor, seed: int, dtype: torch.dtype):
    return lambda: (_factors(m, n, s, seed, dtype)[0], s)


def _geometric(k: int, cond: float) -> torch.Tensor:
    return torch.tensor(float(cond), dtype=F64) ** (-torch.linspace(0, 1, k, dtype=F64))


def _sym(n: int, w: torch.Tensor, seed: int, dtype: torch.dtype):
    def make():
        A = matrices.random_symmetric(n, seed=seed, dtype=dtype, eigenvalues=w)
        return A, torch.sort(w.to(F64)).values
    return make


def _stacked(*makers):
    def make():
        parts = [mk() for mk in makers]
        return torch.stack([p[0] for p in parts]), torch.stack([p[1] for p in parts])
    return make


def _scaled_members(make, scales: list[float]):
    """A batch of copies of ``make()``'s matrix scaled by ``scales``, with scaled true values."""
    def mk():
        M, v = make()
        s = torch.tensor(scales, dtype=F64)
        return M.unsqueeze(0) * s.view(-1, 1, 1).to(M.dtype), v.unsqueeze(0) * s.view(-1, 1)
    return mk


# -- class 1: extreme scaling ---------------------------------------------------------------------


def scale_cases() -> list[Case]:
    out: list[Case] = []
    cond_mat = lambda dtype, seed: (lambda: matrices.with_condition_number(24, 24, 100.0, seed=seed, dtype=dtype))
    for dtype, scales in ((F64, (1e300, 1e-300)), (F32, (1e35, 1e-35)), (C128, (1e250, 1e-250)),
                          (C64, (3e34,))):
        for sc in scales:
            tag = f"{dtype} x{sc:.0e}"
            out.append(inv_case("scale", f"inv {tag}", cond_mat(dtype, 1), scale=sc))
            out.append(solve_case("scale", f"solve {tag}", cond_mat(dtype, 2), scale=sc))
            out.append(solve_case("scale", f"solve {tag}, b scaled too", cond_mat(dtype, 3), scale=sc, bscale=sc))
            out.append(pinv_case("scale", f"pinv rank 8 {tag}", 20, 12, [2, 1.8, 1.5, 1.2, 1.0, .9, .8, .7, 0, 0, 0, 0], dtype, seed=4, scale=sc))
            out.append(svd_case("scale", f"svd {tag}", _known(30, 18, _geometric(18, 1e3), 5, dtype), scale=sc))
            out.append(eigh_case("scale", f"eigh {tag}", _sym(20, torch.linspace(-3, 5, 20, dtype=F64), 6, dtype), scale=sc))
            out.append(truncated_svd_case("scale", f"truncated_svd {tag}", _known(60, 40, 0.8 ** torch.arange(40, dtype=F64), 7, dtype), 4, scale=sc))
            out.append(truncated_eigh_case("scale", f"truncated_eigh {tag}", _sym(50, torch.linspace(-1, 2, 50, dtype=F64) ** 3, 8, dtype), 4, scale=sc))
    # One batch whose members span the whole range: each is normalised on its own.
    svals = _geometric(16, 1e2)
    out.append(svd_case("scale", "svd float64 batch x(1e-280, 1, 1e280)",
                        _scaled_members(_known(20, 16, svals, 9, F64), [1e-280, 1.0, 1e280])))
    out.append(eigh_case("scale", "eigh float64 batch x(1e-280, 1, 1e280)",
                         _scaled_members(_sym(16, torch.linspace(1, 4, 16, dtype=F64), 10, F64), [1e-280, 1.0, 1e280])))
    return out


# -- class 2: the pseudo-inverse --------------------------------------------------------------------


def pinv_cases() -> list[Case]:
    out: list[Case] = []
    for method in ("svd", "newton_schulz"):
        kw = {"method": method}
        for dtype, cond in ((F32, 3e3), (F32, 1e5), (F64, 1e8), (F64, 1e12), (C128, 1e10), (C64, 1e4)):
            out.append(pinv_case("pinv", f"{method} full rank 30x30 cond {cond:g} {dtype}", 30, 30,
                                 _geometric(30, cond), dtype, seed=11, **kw))
        out.append(pinv_case("pinv", f"{method} rank 15 of 30x30 float64", 30, 30,
                             torch.cat([torch.linspace(2, 1, 15, dtype=F64), torch.zeros(15, dtype=F64)]), F64, seed=12, **kw))
        out.append(pinv_case("pinv", f"{method} rank 5 of 40x25, kept cond 1e6, complex128", 40, 25,
                             torch.cat([_geometric(5, 1e6), torch.zeros(20, dtype=F64)]), C128, seed=13, **kw))
        out.append(pinv_case("pinv", f"{method} wide 12x40 rank 12 cond 1e4 float64", 12, 40, _geometric(12, 1e4), F64,
                             seed=14, **kw))
        # The cut: rtol = 1e-4 keeps 1 and 1e-3, drops 1e-5 and 1e-7.
        s = torch.tensor([1.0, 0.3, 1e-3, 1e-5, 1e-7, 0.0], dtype=F64)
        out.append(pinv_case("pinv", f"{method} rtol=1e-4 cuts between 1e-3 and 1e-5", 10, 6, s, F64, seed=15,
                             keep=lambda sv: sv > 1e-4, rtol=1e-4, **kw))
        out.append(pinv_case("pinv", f"{method} atol=2e-5 (rtol defaults to 0) keeps 1e-5? no", 10, 6, s, F64, seed=16,
                             keep=lambda sv: sv > 2e-5, atol=2e-5, **kw))
        out.append(pinv_case("pinv", f"{method} float32 rtol=1e-2 drops 1e-3", 10, 6, s, F32, seed=17,
                             keep=lambda sv: sv > 1e-2, rtol=1e-2, **kw))
    # Hermitian (indefinite): the cut applies to |lambda|.
    def herm():
        w = torch.tensor([-2.0, -1e-3, 1e-9, 0.5, 3.0], dtype=F64)
        A = matrices.random_symmetric(5, seed=18, eigenvalues=w)
        return A, w
    def herm_case(method: str) -> Case:
        def run() -> Measured:
            A, w = herm()
            Q = torch.linalg.eigh(A).eigenvectors
            wt = torch.linalg.eigvalsh(A)
            inv = torch.where(wt.abs() > 1e-6, 1 / wt, torch.zeros_like(wt))
            exact = (Q * inv) @ Q.mT
            res = gdlinalg.pinv_result(A, hermitian=True, rtol=1e-6, method=method)
            ref = forward_error(torch.linalg.pinv(A, hermitian=True, rtol=1e-6), exact)
            return Measured(forward_error(res.solution, exact), _torch_bound(ref, 5, F64), res)
        return Case("pinv", f"{method} hermitian indefinite, rtol=1e-6 drops 1e-9", run)
    out += [herm_case("svd"), herm_case("newton_schulz")]
    return out


# -- class 3: batches with one odd member -------------------------------------------------------------


def batch_cases() -> list[Case]:
    out: list[Case] = []
    def rank_def_member():
        sv = torch.cat([torch.linspace(2, 1, 15, dtype=F64), torch.zeros(15, dtype=F64)])
        A, U, sv, V = _factors(30, 30, sv, 21, F64)
        inv = torch.where(sv > 0, 1 / torch.where(sv > 0, sv, torch.ones_like(sv)), torch.zeros_like(sv))
        return A, (V * inv) @ U.mT
    for method in ("svd", "newton_schulz"):
        out.append(pinv_case("batch", f"pinv {method}: cond 1e7 member next to a rank-deficient one", 30, 30,
                             _geometric(30, 1e7), F64, seed=22, batch_odd=rank_def_member, method=method))
    mk = lambda cond, seed, dtype=F64: (lambda: matrices.with_condition_number(30, 30, cond, seed=seed, dtype=dtype))
    out.append(inv_case("batch", "inv: cond 1e12 next to cond 10", lambda: torch.stack([mk(1e12, 23)(), mk(10.0, 24)()])))
    out.append(inv_case("batch", "inv complex64: cond 1e4 next to cond 2", lambda: torch.stack([mk(1e4, 25, C64)(), mk(2.0, 26, C64)()])))
    out.append(solve_case("batch", "solve: cond 1e11 next to cond 3, 2 right-hand sides",
                          lambda: torch.stack([mk(1e11, 27)(), mk(3.0, 28)()]), k=2))
    out.append(svd_case("batch", "svd: close pair next to a spread spectrum",
                        _stacked(_known(24, 20, torch.cat([torch.tensor([1.0, 1 - 1e-9], dtype=F64), torch.linspace(0.5, 0.1, 18, dtype=F64)]), 29, F64),
                                 _known(24, 20, _geometric(20, 1e12), 30, F64))))
    out.append(eigh_case("batch", "eigh: positive definite next to indefinite with a cluster",
                         _stacked(_sym(20, _geometric(20, 1e10), 31, F64),
                                  _sym(20, torch.cat([torch.full((5,), 1.0, dtype=F64), torch.linspace(-3, 0.5, 15, dtype=F64)]), 32, F64))))
    out.append(truncated_svd_case("batch", "truncated_svd: fast decay next to slow decay",
                                  _stacked(_known(80, 50, 0.5 ** torch.arange(50, dtype=F64), 33, F64),
                                           _known(80, 50, 0.97 ** torch.arange(50, dtype=F64), 34, F64)), 5))
    out.append(truncated_eigh_case("batch", "truncated_eigh smallest: separated next to clustered",
                                   _stacked(_sym(60, torch.linspace(1, 100, 60, dtype=F64), 35, F64),
                                            _sym(60, torch.cat([torch.linspace(1, 1.001, 10, dtype=F64), torch.linspace(50, 51, 50, dtype=F64)]), 36, F64)),
                                   4, largest=False))
    return out


# -- class 4: solve -------------------------------------------------------------------------------------


def solve_cases() -> list[Case]:
    out: list[Case] = []
    for dtype, cond, n, seed in ((F64, 1e6, 60, 41), (F64, 1e9, 100, 42), (F64, 1e12, 40, 43), (F32, 1e4, 60, 44),
                                 (F32, 1e5, 30, 45), (C128, 1e10, 50, 46), (C64, 3e4, 30, 47)):
        out.append(solve_case("solve", f"cond {cond:g} n={n} {dtype}",
                              lambda dtype=dtype, cond=cond, n=n, seed=seed: matrices.with_condition_number(n, n, cond, seed=seed, dtype=dtype)))
    out.append(solve_case("solve", "hilbert(10), 3 right-hand sides", lambda: matrices.hilbert(10), k=3))
    out.append(solve_case("solve", "cond 1e4 n=300 (single-precision inverse, double refinement)",
                          lambda: matrices.with_condition_number(300, 300, 1e4, seed=48)))
    out.append(solve_case("solve", "cond 1e11 n=260 (single precision fails, double precision takes over)",
                          lambda: matrices.with_condition_number(260, 260, 1e11, seed=49), k=2))
    out.append(solve_case("solve", "graded spd 1e-8..1 (cond 1e16 of A, 10 of H)", lambda: matrices.graded(12, 12, spread=1e4, symmetric=True)))
    return out


# -- class 5: the inverse at attainable accuracy ----------------------------------------------------------


def inv_cases() -> list[Case]:
    out: list[Case] = []
    for dtype, cond, n, seed in ((F64, 1e10, 50, 51), (F64, 1e13, 30, 52), (F64, 1e14, 8, 53), (F32, 1e5, 40, 54),
                                 (C64, 1e4, 30, 55), (C128, 1e12, 40, 56)):
        out.append(inv_case("inv", f"cond {cond:g} n={n} {dtype}",
                            lambda dtype=dtype, cond=cond, n=n, seed=seed: matrices.with_condition_number(n, n, cond, seed=seed, dtype=dtype)))
    out.append(inv_case("inv", "hilbert(11), cond 5e14", lambda: matrices.hilbert(11)))
    out.append(inv_case("inv", "orthogonal 300x300 (cond 1, accelerated path)", lambda: matrices.with_condition_number(300, 300, 1.0, seed=57)))
    # n >= 256 runs a single-precision phase first: where single precision cannot invert
    # (cond 1e7), the double-precision iteration must start afresh.
    out.append(inv_case("inv", "cond 1e4 n=260 (mixed precision)", lambda: matrices.with_condition_number(260, 260, 1e4, seed=62)))
    out.append(inv_case("inv", "cond 1e9 n=260 (single-precision phase fails)", lambda: matrices.with_condition_number(260, 260, 1e9, seed=63)))
    out.append(inv_case("inv", "complex128 batch n=256: cond 1e7 next to cond 5 (mixed precision)",
                        lambda: torch.stack([matrices.with_condition_number(256, 256, c, seed=64 + i, dtype=C128)
                                             for i, c in enumerate((1e7, 5.0))])))
    # Singular to working precision: must raise, naming the condition-number estimate.
    def singular(A):
        def run() -> Measured:
            gdlinalg.inv_result(A())
            return Measured(math.nan, 0.0)
        return run
    out.append(Case("inv", "exactly singular 20x20 rank 19 must raise",
                    singular(lambda: matrices.rank_deficient(20, 20, 19, seed=58)), gdlinalg.SingularMatrixError))
    out.append(Case("inv", "float32 cond 1e9 (singular in float32) must raise",
                    singular(lambda: matrices.with_condition_number(20, 20, 1e9, seed=59, dtype=F32)), gdlinalg.SingularMatrixError))
    def singular_solve() -> Measured:
        A = matrices.rank_deficient(20, 20, 18, seed=60)
        gdlinalg.solve_result(A, _vec(20, F64, 61))
        return Measured(math.nan, 0.0)
    out.append(Case("inv", "solve with a rank-18 20x20 matrix must raise", singular_solve, gdlinalg.SingularMatrixError))
    return out


# -- class 6: relative accuracy --------------------------------------------------------------------------


def _digits(A: torch.Tensor) -> int:
    """Decimal digits for an ``mpmath`` reference that resolves the smallest entry of ``A``
    relative to the largest, with 30 to spare."""
    a = A.abs()[A != 0].to(F64)
    return 30 + int(math.ceil(math.log10(float(a.max())) - math.log10(float(a.min())))) if a.numel() else 30


def _mp_matrix(A: torch.Tensor):
    """``A`` as an ``mpmath`` matrix, its entries exactly (complex entries as ``mpc``)."""
    import mpmath

    if A.is_complex():
        A = A.to(C128)
        return mpmath.matrix([[mpmath.mpc(float(z.real), float(z.imag)) for z in row] for row in A])
    return mpmath.matrix(A.to(F64).tolist())


def _mp_svdvals(A: torch.Tensor) -> torch.Tensor:
    import mpmath

    with mpmath.workdps(2 * _digits(A)):
        M = _mp_matrix(A)
        s = (mpmath.svd_c if A.is_complex() else mpmath.svd_r)(M, compute_uv=False)
        return torch.tensor(sorted((float(x) for x in s), reverse=True), dtype=F64)


def _mp_eigvalsh(A: torch.Tensor) -> torch.Tensor:
    import mpmath

    with mpmath.workdps(_digits(A)):
        M = _mp_matrix(A)
        w = mpmath.eighe(M, eigvals_only=True) if A.is_complex() else mpmath.eigsy(M, eigvals_only=True)
        return torch.tensor(sorted(float(mpmath.re(x)) for x in w), dtype=F64)


def relative_cases() -> list[Case]:
    out: list[Case] = []
    def rel_svd(name, A, bound_factor=100):
        def run() -> Measured:
            M = A()
            truth = _mp_svdvals(M)
            res = gdlinalg.svd_result(M, full_matrices=False)
            S = res.solution.S
            err = relative_error(S, truth)
            U, _, Vh = res.solution
            err = max(err, orth_error(U), orth_error(Vh.mH))
            return Measured(err, bound_factor * max(M.shape) * u(M.dtype), res,
                            f"torch: {relative_error(torch.linalg.svdvals(M), truth):.1e}")
        return Case("relative", name, run)
    def rel_eigh(name, A, bound_factor=100):
        def run() -> Measured:
            M = A()
            truth = _mp_eigvalsh(M)
            res = gdlinalg.eigh_result(M)
            err = max(relative_error(res.solution.eigenvalues, truth), orth_error(res.solution.eigenvectors))
            return Measured(err, bound_factor * M.shape[-1] * u(M.dtype), res,
                            f"torch: {relative_error(torch.linalg.eigvalsh(M), truth):.1e}")
        return Case("relative", name, run)
    def diag_svd() -> Measured:
        D = torch.diag(torch.tensor([1.0, 1e-20], dtype=F64))
        res = gdlinalg.svd_result(D)
        U, S, Vh = res.solution
        err = _fro((U * S) @ Vh - D) / 1e-20  # relative to the small entry: the sign must survive
        return Measured(err, 4 * u(F64), res)
    out.append(Case("relative", "svd(diag(1, 1e-20)) reconstructs the small entry", diag_svd))
    out.append(rel_svd("column-graded 20x12, spread 1e12", lambda: matrices.graded(20, 12, spread=1e12, seed=71)))
    out.append(rel_svd("column-graded 16x16, spread 1e100", lambda: matrices.graded(16, 16, spread=1e100, seed=72)))
    out.append(rel_svd("row-graded 12x20 (transpose), spread 1e30", lambda: matrices.graded(20, 12, spread=1e30, seed=73).mT.contiguous()))
    out.append(rel_eigh("graded spd D H D 20x20, spread 1e6", lambda: matrices.graded(20, 20, spread=1e6, symmetric=True, seed=74)))
    out.append(rel_eigh("graded spd D H D 16x16, spread 1e50", lambda: matrices.graded(16, 16, spread=1e50, symmetric=True, seed=75)))
    out.append(rel_eigh("graded spd float32 D H D 12x12, spread 1e3",
                        lambda: matrices.graded(12, 12, spread=1e3, symmetric=True, seed=76, dtype=F32)))
    return out


# -- class 7: truncated decompositions -----------------------------------------------------------------------


def truncated_cases() -> list[Case]:
    out: list[Case] = []
    spectrum = torch.cat([torch.linspace(0.01, 1, 20, dtype=F64), torch.linspace(970, 1000, 100, dtype=F64)])
    for seed, k in ((81, 5), (82, 5), (83, 10)):
        out.append(truncated_eigh_case("truncated", f"smallest {k} of 20 in [0.01, 1] under 100 in [970, 1000], seed {seed}",
                                       _sym(120, spectrum, seed, F64), k, largest=False))
    out.append(truncated_eigh_case("truncated", "largest 6, indefinite: big negative eigenvalues do not count",
                                   _sym(80, torch.cat([torch.linspace(-100, -50, 20, dtype=F64), torch.linspace(0, 10, 60, dtype=F64)]), 84, F64), 6))
    out.append(truncated_eigh_case("truncated", "smallest 5, complex128, cluster of 3 at the bottom",
                                   _sym(60, torch.cat([torch.full((3,), -2.0, dtype=F64), torch.linspace(-1, 5, 57, dtype=F64)]), 85, C128), 5, largest=False))
    out.append(truncated_svd_case("truncated", "top 5, sigma_5 = sigma_6 (cluster across the cut)",
                                  _known(70, 50, torch.cat([torch.tensor([3.0, 2.5, 2.0, 1.5, 1.0, 1.0, 1.0], dtype=F64), torch.linspace(0.5, 0.01, 43, dtype=F64)]), 86, F64), 5))
    out.append(truncated_svd_case("truncated", "top 8, float32, slow decay 0.98^i",
                                  _known(90, 60, 0.98 ** torch.arange(60, dtype=F64), 87, F32), 8))
    out.append(truncated_svd_case("truncated", "top 3, complex64, wide 40x90",
                                  _known(40, 90, 0.7 ** torch.arange(40, dtype=F64), 88, C64), 3))
    # A value repeated far beyond the block of k + 10 vectors: sigma_2 = ... = sigma_30 with k = 6
    # (issue 20). Any basis of the repeated value's space is a correct answer; the iteration must
    # reach rounding level, not stall with its filter's bound inside the cluster.
    out.append(truncated_svd_case("truncated", "top 6, sigma_2 = ... = sigma_30 (repeated far beyond the block)",
                                  _known(200, 100, _repeated(2.0, 1.0, 29, 0.0, 0.5 * 0.9 ** torch.arange(70, dtype=F64)), 102, F64), 6))
    out.append(truncated_svd_case("truncated", "top 6, complex128, sigma_2 = ... = sigma_30",
                                  _known(200, 100, _repeated(2.0, 1.0, 29, 0.0, 0.5 * 0.9 ** torch.arange(70, dtype=F64)), 91, C128), 6))
    tail = torch.linspace(0, 0.5, 70, dtype=F64)
    out.append(truncated_eigh_case("truncated", "largest 6, w_2 = ... = w_30 (repeated far beyond the block)",
                                   _sym(100, _repeated(2.0, 1.0, 29, 0.0, tail), 93, F64), 6))
    out.append(truncated_eigh_case("truncated", "smallest 6, w_2 = ... = w_30 (repeated far beyond the block)",
                                   _sym(100, -_repeated(2.0, 1.0, 29, 0.0, tail), 94, F64), 6, largest=False))
    out.append(truncated_eigh_case("truncated", "smallest 6, complex128, w_2 = ... = w_30",
                                   _sym(100, -_repeated(2.0, 1.0, 29, 0.0, tail), 94, C128), 6, largest=False))
    # Close but not equal: the wanted vectors must be resolved inside the cluster.
    out.append(truncated_svd_case("truncated", "top 6, sigma_2..sigma_30 within 1e-10 (near-repeated)",
                                  _known(200, 100, _repeated(2.0, 1.0, 29, 1e-10, 0.5 * 0.9 ** torch.arange(70, dtype=F64)), 92, F64), 6))
    out.append(truncated_eigh_case("truncated", "smallest 6, w_2..w_30 within 1e-6 (near-repeated)",
                                   _sym(100, -_repeated(2.0, 1.0, 29, 1e-6, tail), 95, F64), 6, largest=False))
    out.append(truncated_eigh_case("truncated", "largest 6, w_2..w_30 within 1e-10 (near-repeated)",
                                   _sym(100, _repeated(2.0, 1.0, 29, 1e-10, tail), 96, F64), 6))

    def one_clustered():
        A1, w1 = _sym(100, _repeated(2.0, 1.0, 29, 0.0, tail), 98, F64)()
        A2, w2 = _sym(100, torch.linspace(-1, 2, 100, dtype=F64) ** 3, 99, F64)()
        return torch.stack([A1, A2]), torch.stack([w1, w2])
    out.append(truncated_eigh_case("truncated", "largest 6, batch of 2: one member repeated beyond the block",
                                   one_clustered, 6))
    # sigma_1 100 times the rest: a filter strong enough for the rest would drown them under the
    # top vector's rounding errors unless that vector is locked.
    out.append(truncated_svd_case("truncated", "top 10, sigma_1 = 100, the rest in [0.9, 1]",
                                  _known(300, 200, torch.cat([torch.tensor([100.0], dtype=F64), torch.linspace(1, 0.9, 199, dtype=F64)]), 105, F64), 10))
    out.append(truncated_eigh_case("truncated", "largest 10, w_1 = 1000, the rest in [0.9, 1]",
                                   _sym(200, torch.cat([torch.tensor([1000.0], dtype=F64), torch.linspace(0.9, 1, 199, dtype=F64)]), 106, F64), 10))
    return out


def _repeated(top: float, value: float, count: int, spread: float, rest: torch.Tensor) -> torch.Tensor:
    """``top``, then ``count`` values in ``value * [1, 1 + spread]`` (all equal for spread 0), then ``rest``."""
    cluster = value * (1 + spread * torch.linspace(1, 0, count, dtype=F64))
    return torch.cat([torch.tensor([top], dtype=F64), cluster, rest.to(F64)])


# -- torch's semantics, scale per right-hand side, equilibration, one schedule per batch member ----------


def column_backward_error(A: torch.Tensor, X: torch.Tensor, B: torch.Tensor) -> float:
    """:func:`backward_error` with every column of ``X`` and ``B`` first divided by the same power of two
    (the column's backward error does not change): a column at 1e-250 beside one at 1 is measured on its
    own scale instead of squaring to zero."""
    X, B = wide(X), wide(B)
    if B.dim() == A.dim() - 1:
        X, B = X.unsqueeze(-1), B.unsqueeze(-1)
    c = _exp2(B.mT.unsqueeze(-1)).squeeze(-1).mT          # (*, 1, k): per column
    return backward_error(A, X / c, B / c)


def rhs_case(name: str, n: int, dtype: torch.dtype, scales: tuple[float, ...], seed: int) -> Case:
    """A well-scaled ``A`` and right-hand sides whose columns differ by up to 1e500 in scale."""
    def run() -> Measured:
        A = matrices.with_condition_number(n, n, 100.0, seed=seed, dtype=dtype)
        B = _vec(n, dtype, seed + 1, k=len(scales)) * torch.tensor(scales, dtype=F64).to(dtype)
        res = gdlinalg.solve_result(A, B)
        err = column_backward_error(A, res.solution, B)
        ref = column_backward_error(A, torch.linalg.solve(A, B), B)
        return Measured(err, _torch_bound(ref, n, dtype), res)
    return Case("solve", name, run)


def shape_case(name: str, a_shape: tuple[int, ...], b_shape: tuple[int, ...], left: bool = True) -> Case:
    """Which ``B`` is a vector and how batches broadcast, as torch decides: a different shape, or the
    rows of ``B`` solved for its columns, is an error of order one."""
    def run() -> Measured:
        A = _vec(a_shape[-1], F64, 70, k=a_shape[-1]).expand(*a_shape).clone()
        A = A + 3 * a_shape[-1] ** 0.5 * torch.eye(a_shape[-1], dtype=F64)
        A = A + 0.1 * torch.arange(A[..., :1, :1].numel(), dtype=F64).reshape(*a_shape[:-2], 1, 1)
        B = torch.randn(*b_shape, generator=torch.Generator().manual_seed(71), dtype=F64)
        res = gdlinalg.solve_result(A, B, left=left)
        ref = torch.linalg.solve(A, B, left=left)
        if res.solution.shape != ref.shape:
            return Measured(math.inf, 0.0, res, f"shape {tuple(res.solution.shape)}, torch {tuple(ref.shape)}")
        err = forward_error(res.solution.reshape(-1, ref.shape[-1]), ref.reshape(-1, ref.shape[-1]))
        return Measured(err, floor(a_shape[-1], F64), res)
    return Case("solve", name, run)


def polar_batch_case(name: str, count: int, n: int, dtype: torch.dtype, seed: int) -> Case:
    """``count`` random ``n x n`` matrices in one call: every member must stop on its own test (the
    shared schedule once left one of 10^4 with orthogonality 3e-14 against its tolerance)."""
    def run() -> Measured:
        gen = torch.Generator().manual_seed(seed)
        A = torch.randn(count, n, n, generator=gen, dtype=F64).to(dtype)
        res = gdlinalg.polar_result(A)
        U, H = res.solution
        W, _, Vh = torch.linalg.svd(A)
        Ut = W @ Vh
        Ht = Ut.mH @ A
        ours = max(forward_error(U @ H, A), orth_error(U))
        ref = max(forward_error(Ut @ (0.5 * (Ht + Ht.mH)), A), orth_error(Ut))
        return Measured(ours, _torch_bound(ref, n, dtype), res)
    return Case("batch", name, run)


def torch_semantics_cases() -> list[Case]:
    out: list[Case] = [
        rhs_case("B: a column at 1e-250 beside one at 1, n=300 (Schur start)", 300, F64, (1e-250, 1.0), 72),
        rhs_case("B: columns at 1e-300, 1 and 1e150, n=40", 40, F64, (1e-300, 1.0, 1e150), 74),
        rhs_case("B float32: a column at 1e-30 beside one at 1e8, n=300", 300, F32, (1e-30, 1e8), 76),
        rhs_case("B complex128: a column at 1e-280 beside one at 1, n=8", 8, C128, (1e-280, 1.0), 78),
        shape_case("A (1, 3, 3), B (3, 3): one matrix right-hand side, not three vectors", (1, 3, 3), (3, 3)),
        shape_case("A (4, 3, 3), B (3, 3): B broadcast over the batch", (4, 3, 3), (3, 3)),
        shape_case("A (4, 3, 3), B (4, 3): a batch of vectors", (4, 3, 3), (4, 3)),
        shape_case("A (2, 1, 3, 3), B (5, 3, 2): batches broadcast on both sides", (2, 1, 3, 3), (5, 3, 2)),
        shape_case("X A = B: A (4, 3, 3), B (5, 3)", (4, 3, 3), (5, 3), left=False),
        polar_batch_case("polar of 10^4 random 2x2 (seed 2): every member on its own test", 10_000, 2, F64, 2),
        polar_batch_case("polar of 10^4 random 2x2 (seed 0): an ill-conditioned member", 10_000, 2, F64, 0),
        polar_batch_case("polar of 10^4 random 3x3 complex128", 10_000, 3, C128, 3),
        polar_batch_case("polar of 10^4 random 2x2 float32", 10_000, 2, F32, 1),
        inv_case("inv", "diag(1e200, 1, 1e-100): exact, as LAPACK's (columns equilibrated)",
                 lambda: torch.diag(torch.tensor([1e200, 1.0, 1e-100], dtype=F64))),
        inv_case("inv", "column-graded 50x50 B D, D from 1 to 1e-250",
                 lambda: matrices.with_condition_number(50, 50, 10.0, seed=80) * torch.logspace(0, -250, 50, dtype=F64)),
        inv_case("inv", "column-graded complex64 30x30, D from 1 to 1e-30",
                 lambda: matrices.with_condition_number(30, 30, 10.0, seed=81, dtype=C64) * torch.logspace(0, -30, 30, dtype=F64).to(C64)),
    ]
    def singular(A):
        def run() -> Measured:
            gdlinalg.inv_result(A())
            return Measured(math.nan, 0.0)
        return run
    # cond 1.7e16 > 1/u: it was returned with converged=True, a tolerance of 9.87 and 19 % error.
    out.append(Case("inv", "hilbert(12), cond 1.7e16 > 1/u, must raise", singular(lambda: matrices.hilbert(12)),
                    gdlinalg.SingularMatrixError))
    return out


# -- class 8: the whole float range inside one matrix ------------------------------------------------


def _powers(hi: int, lo: int, n: int) -> torch.Tensor:
    """``n`` exact powers of two from ``2^hi`` down to ``2^lo`` (geometric), so that ``B D`` and
    ``D B`` are formed exactly."""
    return torch.pow(torch.tensor(2.0, dtype=F64), torch.linspace(hi, lo, n, dtype=F64).round())


def _gauss(m: int, n: int, seed: int, dtype: torch.dtype = F64) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    if dtype.is_complex:
        return torch.complex(torch.randn(m, n, generator=gen, dtype=F64), torch.randn(m, n, generator=gen, dtype=F64))
    return torch.randn(m, n, generator=gen, dtype=F64)


def _norm(X: torch.Tensor, dim) -> torch.Tensor:
    """Euclidean norm over ``dim`` without overflow or underflow: each slice divided by the power of
    two of its largest entry first."""
    top = X.abs().amax(dim=dim, keepdim=True)
    _, e = torch.frexp(torch.where(top > 0, top, torch.ones_like(top)))
    e = e.to(F64)
    half = torch.floor(e / 2)
    two = torch.tensor(2.0, dtype=F64)
    Y = X * torch.pow(two, -half) * torch.pow(two, half - e)
    return torch.linalg.vector_norm(Y, dim=dim) * torch.pow(two, half).squeeze() * torch.pow(two, e - half).squeeze()


def componentwise_error(A: torch.Tensor, out) -> float:
    """Largest relative reconstruction error of a column or a row, ``||(U S Vh - A) e_j|| /
    ||A e_j||`` and the same for rows: it sees a singular vector of a tiny singular value (a tiny
    column or row of ``A``) that the normwise measure cannot."""
    U, S, Vh = (wide(t) for t in out)
    A = wide(A)
    k = S.shape[-1]
    R = (U[..., :k] * S.to(U.dtype).unsqueeze(-2)) @ Vh[..., :k, :] - A
    cols = _norm(R, -2) / _norm(A, -2)
    rows = _norm(R, -1) / _norm(A, -1)
    return float(torch.maximum(cols.max(), rows.max()))


def pinv_forward_error(X: torch.Tensor, exact: torch.Tensor) -> float:
    """``||X - A^+||_F / ||A^+||_F`` without overflow (``A^+`` may have entries near 1e300)."""
    X, exact = wide(X), wide(exact)
    return float((_norm(X - exact, (-2, -1)) / _norm(exact, (-2, -1))).max())


def _worst(parts: list[tuple[str, float, float, float]], res=None) -> Measured:
    """The component furthest beyond its bound (``parts``: name, error, torch's error, bound); the
    note lists them all."""
    name, err, _, bound = max(parts, key=lambda p: p[1] / p[3] if math.isfinite(p[1]) else math.inf)
    note = "; ".join(f"{n} {e:.1e} (torch {t:.1e}, bound {b:.1e})" for n, e, t, b in parts)
    return Measured(err, bound, res, note)


def range_svd_case(name: str, make: Callable[[], torch.Tensor], *, values: torch.Tensor | None = None,
                   relative: bool = True, componentwise: bool = False, svdvals: bool = False) -> Case:
    """SVD (or ``svdvals``) of a matrix whose entries span much of the float range. Measured: the
    normwise error of ``svd_error`` against torch's; the largest relative error of a singular value
    against ``mpmath`` (or ``values``), within ``100 n u`` when ``relative`` (the matrix determines
    its singular values to that relative accuracy), else within 20x torch's; and with
    ``componentwise``, the column- and row-wise reconstruction error against torch's."""
    def run() -> Measured:
        M = make()
        if values is not None:
            truth = values
        else:
            truth = torch.stack([_mp_svdvals(x) for x in M]) if M.dim() > 2 else _mp_svdvals(M)
        n = max(M.shape[-2:])
        T = _each(lambda x: torch.linalg.svd(x, full_matrices=False), M)
        t_rel = relative_error(T.S, truth)
        rel = ("relative", t_rel, 100 * n * u(M.dtype) if relative else _torch_bound(t_rel, n, M.dtype))
        if svdvals:
            S = gdlinalg.svdvals(M)
            return _worst([(rel[0], relative_error(S, truth), rel[1], rel[2])])
        res = gdlinalg.svd_result(M, full_matrices=False)
        t_norm = svd_error(M, T, truth)
        parts = [("normwise", svd_error(M, res.solution, truth), t_norm, _torch_bound(t_norm, n, M.dtype)),
                 (rel[0], relative_error(res.solution.S, truth), rel[1], rel[2])]
        if componentwise:
            t_comp = componentwise_error(M, T)
            parts.append(("componentwise", componentwise_error(M, res.solution), t_comp, _torch_bound(t_comp, n, M.dtype)))
        return _worst(parts, res)
    return Case("range", name, run)


def range_eigh_case(name: str, make: Callable[[], torch.Tensor], *, values: torch.Tensor | None = None,
                    relative: bool | None = True) -> Case:
    """eigh of a Hermitian matrix whose entries span much of the float range: normwise
    (``eigh_error``) against torch's, and the relative error of every eigenvalue against ``mpmath``
    (or ``values``), within ``100 n u`` when ``relative``, within 20x torch's when False, not
    measured when None (an indefinite matrix: its eigenvalues are promised to ``u ||A||``)."""
    def run() -> Measured:
        M = make()
        truth = _mp_eigvalsh(M) if values is None else values
        n = M.shape[-1]
        T = torch.linalg.eigh(M)
        t_rel, t_norm = relative_error(T.eigenvalues, truth), eigh_error(M, T, truth)
        res = gdlinalg.eigh_result(M)
        parts = [("normwise", eigh_error(M, res.solution, truth), t_norm, _torch_bound(t_norm, n, M.dtype))]
        if relative is not None:
            parts.append(("relative", relative_error(res.solution.eigenvalues, truth), t_rel,
                          100 * n * u(M.dtype) if relative else _torch_bound(t_rel, n, M.dtype)))
        return _worst(parts, res)
    return Case("range", name, run)


def range_pinv_case(name: str, B: Callable[[], torch.Tensor], d: torch.Tensor, dtype: torch.dtype = F64, *,
                    relative: bool = False, **kw) -> Case:
    """pinv of the column-graded ``A = B D`` (``D`` powers of two, so ``A`` is exact), whose
    pseudo-inverse is ``D^-1 B^+``: its largest rows come from the smallest singular values. The
    forward error must be within 20x torch's, or within ``50 n u`` when ``relative`` (the matrix
    determines its pseudo-inverse to that accuracy)."""
    def run() -> Measured:
        Bm = B()
        A = (Bm * d.to(Bm.dtype)).to(dtype)
        exact = (1 / d).unsqueeze(-1).to(Bm.dtype) * torch.linalg.pinv(Bm)
        res = gdlinalg.pinv_result(A, **kw)
        torch_kw = {k: v for k, v in kw.items() if k in ("atol", "rtol", "hermitian")}
        ref = pinv_forward_error(torch.linalg.pinv(A, **torch_kw), exact)
        bound = floor(max(A.shape), dtype) if relative else _torch_bound(ref, max(A.shape), dtype)
        return _worst([("forward", pinv_forward_error(res.solution, exact), ref, bound)], res)
    return Case("range", name, run)


def _hermitian_graded(n: int, hi: int, lo: int, seed: int, dtype: torch.dtype = F64) -> Callable[[], torch.Tensor]:
    """``D H D`` with ``H`` positive definite (condition 10, unit diagonal) and ``D`` exact powers
    of two from ``2^hi`` to ``2^lo``: eigenvalues from about ``4^hi`` to ``4^lo``."""
    def make():
        H = matrices.random_spd(n, cond=10.0, seed=seed, dtype=C128 if dtype.is_complex else F64)
        h = torch.diagonal(H).real.rsqrt()
        D = _powers(hi, lo, n)
        A = (D * h).unsqueeze(-1).to(H.dtype) * H * (D * h).unsqueeze(-2).to(H.dtype)
        return ((A + A.mH) / 2).to(dtype)
    return make


def range_cases() -> list[Case]:
    out: list[Case] = []
    # (a) Columns far below the largest: their squared norms and inner products underflow unless
    # every rotation is computed from scaled columns.
    out.append(range_svd_case("column-graded B D 12x8, D from 1 to 2^-830 (1e-250)",
                              lambda: _gauss(12, 8, 101) * _powers(0, -830, 8), componentwise=True))
    out.append(range_svd_case("row-graded D B 12x8, D from 1 to 2^-830 (1e-250)",
                              lambda: _powers(0, -830, 12).unsqueeze(-1) * _gauss(12, 8, 102), componentwise=True))
    out.append(range_svd_case("row-graded D B 12x8, D from 2^990 to 2^-990 (row-sorted, pivoted QR first)",
                              lambda: _powers(990, -990, 12).unsqueeze(-1) * _gauss(12, 8, 118)))
    out.append(range_svd_case("row-graded D B 10x10, D from 2^990 to 2^-990 (rotates the rows)",
                              lambda: _powers(990, -990, 10).unsqueeze(-1) * _gauss(10, 10, 119)))
    out.append(range_svd_case("wide column-graded 6x14 complex128, D from 2^990 to 2^-990",
                              lambda: _gauss(6, 14, 120, C128) * _powers(990, -990, 14)))
    def big_entry():
        G = _gauss(10, 10, 103)
        G[2, 5] = 1e200
        return G
    out.append(range_svd_case("one 1e200 entry among 10x10 Gaussians", big_entry, componentwise=True))
    # (b) Entries more than 2^1022 apart: a normalisation by the largest entry flushes the small ones.
    out.append(range_svd_case("svd diag(2^540, 2^-540)", lambda: torch.diag(torch.tensor([2.0 ** 540, 2.0 ** -540], dtype=F64)),
                              values=torch.tensor([2.0 ** 540, 2.0 ** -540], dtype=F64), componentwise=True))
    out.append(range_eigh_case("eigh diag(2^540, 2^-540)", lambda: torch.diag(torch.tensor([2.0 ** 540, 2.0 ** -540], dtype=F64)),
                               values=torch.tensor([2.0 ** -540, 2.0 ** 540], dtype=F64)))
    out.append(range_eigh_case("eigh indefinite diag(2^540, -2^-540, 1)",
                               lambda: torch.diag(torch.tensor([2.0 ** 540, -2.0 ** -540, 1.0], dtype=F64)),
                               values=torch.tensor([-2.0 ** -540, 1.0, 2.0 ** 540], dtype=F64)))
    out.append(range_svd_case("complex128 i diag(2^530, 1, 2^-530)",
                              lambda: 1j * torch.diag(torch.tensor([2.0 ** 530, 1.0, 2.0 ** -530], dtype=F64)).to(C128),
                              values=torch.tensor([2.0 ** 530, 1.0, 2.0 ** -530], dtype=F64), componentwise=True))
    # The whole range: entries from 1e-300 to 1e300 in one matrix.
    out.append(range_svd_case("column-graded B D 12x8, D from 2^990 to 2^-990 (1e+-298)",
                              lambda: _gauss(12, 8, 104) * _powers(990, -990, 8)))
    def both_ends():
        G = _gauss(10, 10, 105)
        G[2, 5], G[7, 1] = 1e300, 1e-300
        return G
    out.append(range_svd_case("svdvals: 1e300 and 1e-300 among 10x10 Gaussians", both_ends, svdvals=True))
    out.append(range_eigh_case("graded spd D H D 10x10, diagonal from 2^990 to 2^-990",
                               _hermitian_graded(10, 495, -495, 106)))
    def indefinite():
        H = matrices.random_symmetric(10, seed=121, eigenvalues=torch.tensor([-3, -2, -1, -.5, .5, 1, 2, 3, 4, 5.], dtype=F64))
        d = _powers(300, -300, 10)
        return d.unsqueeze(-1) * H * d
    out.append(range_eigh_case("indefinite D H D 10x10, D from 2^300 to 2^-300 (normwise)", indefinite, relative=None))
    # (c) A singular value 1e-295 below the largest: its singular vector is computed, not completed.
    def tiny_column():
        B = _gauss(8, 6, 107)
        B[:, -1] *= 1e-295
        return B
    out.append(range_svd_case("last column scaled by 1e-295 (sigma_min 1e-295 below sigma_1)", tiny_column, componentwise=True))
    # float32 and complex analogues.
    out.append(range_svd_case("float32 column-graded 10x10, D from 2^100 to 2^-100",
                              lambda: (_gauss(10, 10, 108) * _powers(100, -100, 10)).to(F32)))
    out.append(range_svd_case("float32 row-graded 10x10, D from 2^100 to 2^-100",
                              lambda: (_powers(100, -100, 10).unsqueeze(-1) * _gauss(10, 10, 109)).to(F32)))
    out.append(range_eigh_case("float32 eigh diag(2^80, 2^-80)", lambda: torch.diag(torch.tensor([2.0 ** 80, 2.0 ** -80])),
                               values=torch.tensor([2.0 ** -80, 2.0 ** 80], dtype=F64)))
    out.append(range_eigh_case("float32 graded spd D H D 8x8, diagonal from 2^100 to 2^-100",
                               _hermitian_graded(8, 50, -50, 110, F32)))
    out.append(range_svd_case("complex128 column-graded 10x6, D from 1 to 2^-900",
                              lambda: _gauss(10, 6, 111, C128) * _powers(0, -900, 6), componentwise=True))
    out.append(range_svd_case("complex64 column-graded 8x6, D from 2^100 to 2^-100",
                              lambda: (_gauss(8, 6, 112, C128) * _powers(100, -100, 6)).to(C64)))
    out.append(range_eigh_case("complex128 graded D H D 10x10, diagonal from 1 to 2^-900",
                               _hermitian_graded(10, 0, -450, 113, C128)))
    # A batch: a whole-range member next to a plain one, each normalised and routed on its own.
    def batch():
        return torch.stack([_gauss(9, 6, 114) * _powers(990, -990, 6), _gauss(9, 6, 115)])
    out.append(range_svd_case("batch: whole-range member next to a Gaussian one", batch))
    # pinv without a cut-off: the rows of A^+ near 2^830 come from the smallest singular values.
    out.append(range_pinv_case("pinv(rtol=0) of column-graded B D 12x8, D from 1 to 2^-830",
                               lambda: _gauss(12, 8, 116), _powers(0, -830, 8), rtol=0.0))
    out.append(range_pinv_case("pinv(rtol=0) of column-graded B D 12x8, D from 2^990 to 2^-990",
                               lambda: _gauss(12, 8, 117), _powers(990, -990, 8), relative=True, rtol=0.0))
    return out


def all_cases() -> list[Case]:
    return (scale_cases() + pinv_cases() + batch_cases() + solve_cases() + inv_cases() + relative_cases()
            + truncated_cases() + torch_semantics_cases() + range_cases())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default="", help="comma-separated classes (scale, pinv, batch, solve, inv, relative, truncated, range)")
    args = p.parse_args(argv)
    only = {c for c in args.only.split(",") if c}
    torch.set_num_threads(max(1, torch.get_num_threads()))
    counts: dict[str, dict[str, int]] = {}
    for case in all_cases():
        if only and case.cls not in only:
            continue
        v = classify(case)
        counts.setdefault(case.cls, {o: 0 for o in OUTCOMES})[v.outcome] += 1
        print(f"{v.outcome:17s} {case.cls:9s} {case.name[:70]:70s} err {v.error:9.2e} bound {v.bound:9.2e} "
              f"{v.seconds:6.2f}s {v.message[:100]}", flush=True)
    print()
    print(f"{'class':10s}" + "".join(f"{o:>18s}" for o in OUTCOMES))
    for cls, c in counts.items():
        print(f"{cls:10s}" + "".join(f"{c[o]:18d}" for o in OUTCOMES))
    total = {o: sum(c[o] for c in counts.values()) for o in OUTCOMES}
    print(f"{'total':10s}" + "".join(f"{total[o]:18d}" for o in OUTCOMES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
