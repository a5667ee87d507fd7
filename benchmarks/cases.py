"""The benchmark cases: which matrices, which gdlinalg call, which torch reference, which metrics.

A :class:`Case` builds its input lazily (``setup``), runs gdlinalg through the public ``*_result``
API (``ours``), names its torch reference(s) (``refs``, possibly chosen for equal accuracy from
gdlinalg's own accuracy) and scores any output with one metric function shared by both sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

import gdlinalg
from gdlinalg import matrices

from . import measure

F64, F32 = torch.float64, torch.float32
DTYPE_NAMES = {F64: "float64", F32: "float32"}

# Accuracy level of the targets, and how close the reference must get to gdlinalg's own
# accuracy to count as "equal accuracy" (within this factor) when its parameters are searched.
TARGET_TOL = 1e-10
EQUAL_ACCURACY_FACTOR = 10.0


@dataclass
class Ref:
    """A torch reference routine, ready to call."""

    name: str
    fn: Callable[[], Any]
    params: str = ""
    note: str = ""


@dataclass
class Case:
    table: str
    op: str
    matrix: str
    shape: tuple[int, int]
    dtype: torch.dtype
    setup: Callable[[], dict]
    ours: Callable[[dict], gdlinalg.Result]
    refs: Callable[[dict, dict], list[Ref]]
    metrics: Callable[[dict, Any], dict]
    warmup: bool = True
    note: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def size(self) -> str:
        return f"{self.shape[0]}x{self.shape[1]}"


def _vector(n: int, dtype: torch.dtype, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, generator=gen, dtype=torch.float64).to(dtype)


def _kappa(c: float) -> str:
    return f"cond={c:g}"


def _eps(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).eps


# --------------------------------------------------------------------------------------------
# dense operations: inv, solve, pinv, svd, eigh
# --------------------------------------------------------------------------------------------


def _single(name: str, fn: Callable[[dict], Any]) -> Callable[[dict, dict], list[Ref]]:
    return lambda ctx, ours_acc: [Ref(name, lambda: fn(ctx))]


def inv_case(table: str, label: str, A_fn, *, shape, dtype, tags=(), note="", **kw) -> Case:
    return Case(
        table, "inv", label, shape, dtype, lambda: {"A": A_fn()},
        ours=lambda ctx: gdlinalg.inv_result(ctx["A"], **kw),
        refs=_single("torch.linalg.inv", lambda ctx: torch.linalg.inv(ctx["A"])),
        metrics=lambda ctx, X: measure.inv_metrics(ctx["A"], X, {}),
        tags=tags, note=note, warmup=kw.get("method") != "blog",
    )


def solve_case(table: str, label: str, A_fn, *, shape, dtype, tags=(), note="") -> Case:
    def setup():
        A = A_fn()
        return {"A": A, "b": _vector(A.shape[-1], A.dtype)}

    return Case(
        table, "solve", label, shape, dtype, setup,
        ours=lambda ctx: gdlinalg.solve_result(ctx["A"], ctx["b"]),
        refs=_single("torch.linalg.solve", lambda ctx: torch.linalg.solve(ctx["A"], ctx["b"])),
        metrics=lambda ctx, x: measure.solve_metrics(ctx["A"], x, ctx["b"], {}),
        tags=tags, note=note,
    )


def pinv_case(table: str, label: str, A_fn, *, shape, dtype, tags=(), note="") -> Case:
    def setup():
        A = A_fn()
        m, n = A.shape[-2:]
        # The true pseudo-inverse of the matrix as stored, singular values below the working
        # precision's noise level treated as zero.
        rtol = 10 * max(m, n) * _eps(A.dtype)
        return {"A": A, "truth": {"pinv": torch.linalg.pinv(A.double(), rtol=rtol)}}

    return Case(
        table, "pinv", label, shape, dtype, setup,
        ours=lambda ctx: gdlinalg.pinv_result(ctx["A"]),
        refs=_single("torch.linalg.pinv", lambda ctx: torch.linalg.pinv(ctx["A"])),
        metrics=lambda ctx, X: measure.pinv_metrics(ctx["A"], X, ctx["truth"]),
        tags=tags, note=note,
    )


def svd_case(table: str, label: str, A_fn, *, shape, dtype, tags=(), note="", **kw) -> Case:
    def setup():
        A = A_fn()
        return {"A": A, "truth": measure.svd_truth(A)}

    return Case(
        table, "svd", label, shape, dtype, setup,
        ours=lambda ctx: gdlinalg.svd_result(ctx["A"], full_matrices=False, **kw),
        refs=_single("torch.linalg.svd", lambda ctx: torch.linalg.svd(ctx["A"], full_matrices=False)),
        metrics=lambda ctx, out: measure.svd_metrics(ctx["A"], out, ctx["truth"]),
        tags=tags, note=note, warmup=kw.get("method") != "blog",
    )


def eigh_case(table: str, label: str, A_fn, *, shape, dtype, tags=(), note="") -> Case:
    def setup():
        A = A_fn()
        return {"A": A, "truth": measure.eigh_truth(A)}

    return Case(
        table, "eigh", label, shape, dtype, setup,
        ours=lambda ctx: gdlinalg.eigh_result(ctx["A"]),
        refs=_single("torch.linalg.eigh", lambda ctx: torch.linalg.eigh(ctx["A"])),
        metrics=lambda ctx, out: measure.eigh_metrics(ctx["A"], out, ctx["truth"]),
        tags=tags, note=note,
    )


def dense_cases(sizes: list[int], svd_sizes: list[int], conds: list[float], dtypes: list[torch.dtype],
                pinv_rank_deficient: list[tuple[int, int, int]]) -> list[Case]:
    cases: list[Case] = []
    for n in sizes:
        for c in conds:
            for dt in dtypes:
                A_fn = (lambda n=n, c=c, dt=dt: matrices.with_condition_number(n, n, c, dtype=dt))
                tag = (f"n={n}", _kappa(c), DTYPE_NAMES[dt])
                lbl = f"with_condition_number({_kappa(c)})"
                cases.append(inv_case("inv", lbl, A_fn, shape=(n, n), dtype=dt, tags=tag))
                cases.append(solve_case("solve", lbl, A_fn, shape=(n, n), dtype=dt, tags=tag))
                cases.append(pinv_case("pinv", lbl, A_fn, shape=(n, n), dtype=dt, tags=tag))
    for m, n, r in pinv_rank_deficient:
        for dt in dtypes:
            cases.append(pinv_case(
                "pinv", f"rank_deficient(rank={r})",
                (lambda m=m, n=n, r=r, dt=dt: matrices.rank_deficient(m, n, r, dtype=dt)),
                shape=(m, n), dtype=dt, tags=(f"n={n}", DTYPE_NAMES[dt]),
            ))
    for n in svd_sizes:
        for c in conds:
            for dt in dtypes:
                tag = (f"n={n}", _kappa(c), DTYPE_NAMES[dt])
                cases.append(svd_case(
                    "svd", f"with_condition_number({_kappa(c)})",
                    (lambda n=n, c=c, dt=dt: matrices.with_condition_number(n, n, c, dtype=dt)),
                    shape=(n, n), dtype=dt, tags=tag,
                ))
                cases.append(eigh_case(
                    "eigh", f"random_spd({_kappa(c)})",
                    (lambda n=n, c=c, dt=dt: matrices.random_spd(n, cond=c, dtype=dt)),
                    shape=(n, n), dtype=dt, tags=tag,
                ))
    return cases


# --------------------------------------------------------------------------------------------
# batches of small matrices, and eigh of a clustered spectrum
# --------------------------------------------------------------------------------------------

#: (batch, n): the issue's batches of small matrices.
BATCHES = ((10_000, 3), (10_000, 8), (2_000, 32))


def batched_case(op: str, batch: int, n: int, *, dtype=F64, seed: int = 7) -> Case:
    """``batch`` random ``n x n`` matrices (seeded): Gaussian for inv and svd (their condition
    numbers vary across the batch, a few are large), the symmetric part of a Gaussian for eigh."""
    def setup():
        gen = torch.Generator().manual_seed(seed)
        M = torch.randn(batch, n, n, generator=gen, dtype=torch.float64)
        A = ((M + M.mT) / 2 if op == "eigh" else M).to(dtype)
        truth = {}
        if op == "svd":
            truth["S"] = torch.linalg.svdvals(A.double())
        elif op == "eigh":
            truth["w"] = torch.linalg.eigvalsh(A.double())
        return {"A": A, "truth": truth}

    ours = {"inv": lambda ctx: gdlinalg.inv_result(ctx["A"]),
            "svd": lambda ctx: gdlinalg.svd_result(ctx["A"], full_matrices=False),
            "eigh": lambda ctx: gdlinalg.eigh_result(ctx["A"])}[op]
    ref = {"inv": ("torch.linalg.inv", lambda ctx: torch.linalg.inv(ctx["A"])),
           "svd": ("torch.linalg.svd", lambda ctx: torch.linalg.svd(ctx["A"], full_matrices=False)),
           "eigh": ("torch.linalg.eigh", lambda ctx: torch.linalg.eigh(ctx["A"]))}[op]
    return Case(
        "batched", op, f"{batch:,} x random", (n, n), dtype, setup, ours=ours,
        refs=_single(*ref), metrics=lambda ctx, out: measure.batched_metrics(op, ctx["A"], out, ctx["truth"]),
        tags=(f"batch={batch}", f"n={n}"),
    )


def clustered_spectrum(n: int, *, cond: float = 1e3, shift: float = 1e-3, seed: int = 0) -> torch.Tensor:
    """``C C^T + shift I`` with ``C`` of condition number ``cond``: the issue's clustered spectrum.
    ``C``'s singular values are geometric from 1 to ``1/cond``, so the eigenvalues ``s_i^2 + shift``
    of the lower third lie within ``s^2 <= 1e-4`` of ``shift`` when ``cond = 1e3``."""
    C = matrices.with_condition_number(n, n, cond, seed=seed)
    return C @ C.mT + shift * torch.eye(n, dtype=C.dtype)


# --------------------------------------------------------------------------------------------
# truncated: top-k SVD against svd_lowrank (searched for equal accuracy) and the full SVD
# --------------------------------------------------------------------------------------------

LOWRANK_Q = (10, 12, 15, 20, 25, 30)
LOWRANK_NITER = (1, 2, 3, 4, 6, 8, 10, 12)
LOBPCG_TOL = (1e-4, 1e-6, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13)
LOBPCG_NITER = 1000


def _lowrank(A: torch.Tensor, q: int, niter: int):
    # svd_lowrank draws its random start from the global generator: seed it for repeatability.
    torch.manual_seed(0)
    U, S, V = torch.svd_lowrank(A, q=q, niter=niter)
    return U, S, V.mH


def _required(ours_acc: dict) -> float:
    return EQUAL_ACCURACY_FACTOR * ours_acc["residual"]


def truncated_svd_case(m: int, n: int, k: int, decay: float, *, dtype=F64, tags=()) -> Case:
    label = f"with_singular_values(s_i={decay}^i)"

    def setup():
        s = decay ** torch.arange(min(m, n), dtype=torch.float64)
        A = matrices.with_singular_values(m, n, s, dtype=dtype)
        return {"A": A, "truth": measure.svd_truth(A)}

    def metrics(ctx, out):
        return measure.truncated_svd_metrics(ctx["A"], out, ctx["truth"], k)

    def refs(ctx, ours_acc):
        A = ctx["A"]
        need = _required(ours_acc)
        best, chosen = None, None
        # Cheapest grid point (cost ~ q (2 niter + 1) products with A) that is as accurate as ours.
        grid = sorted(((q, it) for q in LOWRANK_Q for it in LOWRANK_NITER if q <= min(m, n)),
                      key=lambda p: (p[0] * (2 * p[1] + 1), p[1]))
        for q, it in grid:
            acc = metrics(ctx, _lowrank(A, q, it))["residual"]
            if best is None or acc < best[0]:
                best = (acc, q, it)
            if acc <= need:
                chosen = (acc, q, it)
                break
        note = ""
        if chosen is None:
            chosen = best
            note = f"svd_lowrank grid never reached {need:.1e}: most accurate point used"
        _, q, it = chosen
        return [
            Ref("torch.svd_lowrank", lambda: _lowrank(A, q, it), f"q={q},niter={it}", note),
            Ref("torch.linalg.svd", lambda: torch.linalg.svd(A, full_matrices=False), "full"),
        ]

    return Case(
        "truncated_svd", f"top-{k} svd", label, (m, n), dtype, setup,
        ours=lambda ctx: gdlinalg.truncated_svd_result(ctx["A"], k),
        refs=refs, metrics=metrics, tags=tags,
    )


def _lobpcg(A: torch.Tensor, k: int, tol: float, niter: int):
    gen = torch.Generator().manual_seed(0)
    X0 = torch.randn(A.shape[-1], k, generator=gen, dtype=torch.float64).to(A.dtype)
    return torch.lobpcg(A, k=k, X=X0, largest=True, tol=tol, niter=niter)


def truncated_eigh_case(n: int, k: int, spectrum: str, *, dtype=F64, tags=(), niter: int = LOBPCG_NITER) -> Case:
    if spectrum == "gaussian":
        label = "random_symmetric(normal eigenvalues)"
    else:
        label = f"random_symmetric(w_i={spectrum}^i)"

    def setup():
        if spectrum == "gaussian":
            A = matrices.random_symmetric(n, dtype=dtype)
        else:
            A = matrices.random_symmetric(
                n, dtype=dtype, eigenvalues=float(spectrum) ** torch.arange(n, dtype=torch.float64))
        return {"A": A, "truth": measure.eigh_truth(A)}

    def metrics(ctx, out):
        return measure.truncated_eigh_metrics(ctx["A"], out, ctx["truth"], k)

    def refs(ctx, ours_acc):
        A = ctx["A"]
        need = _required(ours_acc)
        # The loosest tolerance (fewest iterations) on the grid that is as accurate as ours: start
        # at the grid point nearest the required residual, loosen while it still suffices, tighten
        # while it does not (stopping once a tighter tolerance no longer helps: lobpcg stalled).
        tried: dict[float, float] = {}

        def acc(tol):
            if tol not in tried:
                try:
                    tried[tol] = metrics(ctx, _lobpcg(A, k, tol, niter))["residual"]
                except (RuntimeError, ValueError):  # e.g. a singular Gram matrix at a tight tol
                    tried[tol] = math.inf
            return tried[tol]

        grid = list(LOBPCG_TOL)
        i = min(range(len(grid)), key=lambda j: abs(math.log10(grid[j]) - math.log10(need)))
        chosen = None
        if acc(grid[i]) <= need:
            while i > 0 and acc(grid[i - 1]) <= need:
                i -= 1
            chosen = grid[i]
        else:
            while i + 1 < len(grid):
                i += 1
                if acc(grid[i]) <= need:
                    chosen = grid[i]
                    break
                if acc(grid[i]) > tried[grid[i - 1]] / 2:
                    break
        best = min(tried, key=tried.get)
        if not math.isfinite(tried[best]):
            raise RuntimeError("torch.lobpcg failed at every tolerance tried")
        note = ""
        if chosen is None:
            chosen = best
            note = f"lobpcg never reached {need:.1e}: most accurate tol used"
        tol = chosen
        return [
            Ref("torch.lobpcg", lambda: _lobpcg(A, k, tol, niter),
                f"k={k},largest,tol={tol:g},niter<={niter}", note),
            Ref("torch.linalg.eigh", lambda: torch.linalg.eigh(A), "full"),
        ]

    return Case(
        "truncated_eigh", f"top-{k} eigh", label, (n, n), dtype, setup,
        ours=lambda ctx: gdlinalg.truncated_eigh_result(ctx["A"], k),
        refs=refs, metrics=metrics, tags=tags,
    )


# --------------------------------------------------------------------------------------------
# the blog's matrices: the defaults, and the 2020 recipe as written
# --------------------------------------------------------------------------------------------


def blog_default_cases(dtypes: list[torch.dtype]) -> list[Case]:
    """Every blog matrix, every operation that applies, with the default methods."""
    cases: list[Case] = []
    for dt in dtypes:
        inv_m = matrices.blog_inverse_matrices(dtype=dt)
        svd_m = matrices.blog_svd_matrices(dtype=dt)
        allm = {**{f"inverse:{k}": v for k, v in inv_m.items()}, **{f"svd:{k}": v for k, v in svd_m.items()}}
        tag = ("blog", DTYPE_NAMES[dt])
        for name, A in allm.items():
            shape = tuple(A.shape)
            fn = (lambda A=A: A.clone())
            square = shape[0] == shape[1]
            if square:
                cases.append(inv_case("blog_defaults", name, fn, shape=shape, dtype=dt, tags=tag))
                cases.append(solve_case("blog_defaults", name, fn, shape=shape, dtype=dt, tags=tag))
            cases.append(pinv_case("blog_defaults", name, fn, shape=shape, dtype=dt, tags=tag))
            cases.append(svd_case("blog_defaults", name, fn, shape=shape, dtype=dt, tags=tag))
            AtA = (A.mT @ A)
            n = shape[1]
            cases.append(eigh_case("blog_defaults", name + " (A^T A)", (lambda S=AtA: S.clone()),
                                   shape=(n, n), dtype=dt, tags=tag))
    return cases


def blog_recipe_cases(quick: bool) -> list[Case]:
    """The 2020 recipe as written (float32, method="blog"); quick mode caps the iterations."""
    cases: list[Case] = []
    cap = 200 if quick else None
    note = f"quick: max_iter={cap}" if quick else "the full recipe, one run, no warm-up"
    kw = {"method": "blog"}
    if cap:
        kw["max_iter"] = cap
    for name, A in matrices.blog_inverse_matrices().items():
        c = inv_case("blog_recipe", f"inverse:{name}", (lambda A=A: A.clone()), shape=tuple(A.shape),
                     dtype=F32, tags=("blog_recipe",), note=note, **kw)
        cases.append(c)
    svd_m = matrices.blog_svd_matrices()
    if quick:
        svd_m = {"M1": svd_m["M1"]}
    for name, A in svd_m.items():
        cases.append(svd_case("blog_recipe", f"svd:{name}", (lambda A=A: A.clone()), shape=tuple(A.shape),
                              dtype=F32, tags=("blog_recipe",), note=note, **kw))
    return cases


# --------------------------------------------------------------------------------------------
# the two suites
# --------------------------------------------------------------------------------------------


def all_cases(quick: bool) -> list[Case]:
    if quick:
        cases = dense_cases([100], [40], [10.0, 1e3], [F64, F32], [(100, 80, 60)])
        cases.append(truncated_svd_case(200, 100, 10, 0.9))
        cases.append(truncated_eigh_case(200, 10, "0.9", niter=200))
        cases += blog_default_cases([F32])
        cases += [batched_case(op, 200, 3) for op in ("inv", "eigh", "svd")]
    else:
        cases = dense_cases([100, 500], [100, 500], [10.0, 1e3], [F64, F32], [(100, 80, 60), (500, 400, 300)])
        # Does the cost grow like LAPACK's? The 1000 x 1000 SVD and eigh, float64, cond 1e3.
        cases += [c for c in dense_cases([], [1000], [1e3], [F64], []) if c.table in ("svd", "eigh")]
        cases.append(truncated_svd_case(1000, 500, 10, 0.9))
        cases.append(truncated_eigh_case(1000, 10, "0.9"))
        cases.append(truncated_eigh_case(1000, 10, "gaussian"))
        cases += blog_default_cases([F32, F64])
        cases.append(eigh_case("eigh", "clustered(C C^T + 1e-3 I, cond(C)=1e3)", lambda: clustered_spectrum(500),
                               shape=(500, 500), dtype=F64, tags=("n=500", "clustered")))
        cases += [batched_case(op, b, n) for b, n in BATCHES for op in ("inv", "eigh", "svd")]
    cases += blog_recipe_cases(quick)
    return cases
