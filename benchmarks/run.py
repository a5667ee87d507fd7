"""Benchmark gdlinalg against torch.linalg: time, iterations and accuracy, one table per operation.

Usage::

    python benchmarks/run.py            # full suite (several minutes)
    python benchmarks/run.py --quick    # CI-sized suite (under a minute)
    python benchmarks/run.py --out DIR  # where results.{csv,json} go (default benchmarks/results/)

Every gdlinalg default is timed back to back with the matching torch routine in the same process
(warm-up once, then the median of repeated runs) and both answers are scored by the same accuracy
metrics. The script ends with the issue's targets, each marked "met" or "NOT met"; a missed target
never changes the exit status, an exception does.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

import gdlinalg  # noqa: E402
from benchmarks import cases as cases_mod  # noqa: E402
from benchmarks import measure  # noqa: E402

COLUMNS = [
    "table", "op", "matrix", "size", "dtype", "method", "iterations", "converged", "runs", "seconds",
    "ref", "ref_params", "ref_runs", "ref_seconds", "ratio",
    "residual", "ref_residual", "orthogonality", "ref_orthogonality",
    "value_error", "ref_value_error", "subspace_angle", "ref_subspace_angle",
    "left_residual", "ref_left_residual", "note",
]
METRICS = ("residual", "orthogonality", "value_error", "subspace_angle", "left_residual")
MEMORY_COLUMNS = ["op", "size", "dtype", "method", "input_mb", "peak_mb", "peak_ratio", "ref", "ref_peak_mb",
                  "ref_peak_ratio", "mode"]
TARGET_COLUMNS = ["target", "requirement", "measured", "status"]

TABLE_TITLES = {
    "inv": "inv — gdlinalg.inv vs torch.linalg.inv",
    "solve": "solve — gdlinalg.solve vs torch.linalg.solve (one right-hand side)",
    "pinv": "pinv — gdlinalg.pinv vs torch.linalg.pinv",
    "svd": "svd — gdlinalg.svd vs torch.linalg.svd (reduced)",
    "eigh": "eigh — gdlinalg.eigh vs torch.linalg.eigh",
    "truncated_svd": "truncated_svd — top-k triplets vs torch.svd_lowrank (equal accuracy) and the full SVD",
    "truncated_eigh": "truncated_eigh — top-k eigenpairs vs torch.lobpcg (equal accuracy) and the full eigh",
    "batched": "batched — batches of small matrices, worst member's accuracy",
    "blog_defaults": "blog matrices — the defaults on every blog matrix and operation",
    "blog_recipe": "blog recipe — the 2020 recipe as written (method='blog', float32)",
}


# --------------------------------------------------------------------------------------------
# running the cases
# --------------------------------------------------------------------------------------------


def run_case(case: cases_mod.Case, repeats: int, budget: float, slow: float) -> list[dict]:
    ctx = case.setup()
    # gdlinalg's first call is its warm-up; its accuracy picks the references' parameters where
    # they are searched for equal accuracy.
    first_ours = measure.timed(lambda: case.ours(ctx))
    acc_ours = case.metrics(ctx, first_ours[1].solution)
    refs = case.refs(ctx, acc_ours)
    firsts = [first_ours] + [measure.timed(r.fn) for r in refs]
    fns = [lambda: case.ours(ctx)] + [r.fn for r in refs]
    single = [not case.warmup] + [False] * len(refs)
    timings = measure.time_back_to_back(fns, firsts, repeats, budget, slow, single)
    res: gdlinalg.Result = timings[0].output
    acc_ours = case.metrics(ctx, res.solution)
    rows = []
    for ref, t in zip(refs, timings[1:]):
        acc_ref = case.metrics(ctx, t.output)
        notes = [n for n in (case.note, ref.note) if n]
        if not timings[0].warmed_up and case.warmup:
            notes.append(f"single run (> {slow:g} s)")
        row = {
            "table": case.table, "op": case.op, "matrix": case.matrix, "size": case.size,
            "dtype": cases_mod.DTYPE_NAMES[case.dtype], "method": res.method, "iterations": res.iterations,
            "converged": res.converged, "runs": timings[0].runs, "seconds": timings[0].seconds,
            "ref": ref.name, "ref_params": ref.params, "ref_runs": t.runs, "ref_seconds": t.seconds,
            "ratio": timings[0].seconds / t.seconds if t.seconds > 0 else math.inf,
            "note": "; ".join(notes),
        }
        for k in METRICS:
            row[k] = acc_ours.get(k, math.nan)
            row["ref_" + k] = acc_ref.get(k, math.nan)
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# memory (in a fresh subprocess)
# --------------------------------------------------------------------------------------------


def _memory_ops(n: int, n_dec: int) -> list[tuple[str, str, Any, Any, dict]]:
    from gdlinalg import matrices

    A = matrices.with_condition_number(n, n, 1e3)
    b = cases_mod._vector(n, torch.float64)
    Ad = matrices.with_condition_number(n_dec, n_dec, 1e3)
    S = matrices.random_spd(n_dec, cond=1e3)
    return [
        ("inv", "torch.linalg.inv", lambda: gdlinalg.inv_result(A), lambda: torch.linalg.inv(A), {"A": A}),
        ("solve", "torch.linalg.solve", lambda: gdlinalg.solve_result(A, b), lambda: torch.linalg.solve(A, b), {"A": A}),
        ("pinv", "torch.linalg.pinv", lambda: gdlinalg.pinv_result(A), lambda: torch.linalg.pinv(A), {"A": A}),
        ("svd", "torch.linalg.svd", lambda: gdlinalg.svd_result(Ad, full_matrices=False),
         lambda: torch.linalg.svd(Ad, full_matrices=False), {"A": Ad}),
        ("eigh", "torch.linalg.eigh", lambda: gdlinalg.eigh_result(S), lambda: torch.linalg.eigh(S), {"A": S}),
    ]


def memprobe(n: int, n_dec: int) -> None:
    """Child process: peak resident-set growth of each default and its reference, as JSON."""
    warnings.simplefilter("ignore")
    out = []
    reset = measure.can_reset_peak()
    for op, ref, ours, theirs, inputs in _memory_ops(n, n_dec):
        # Warm up both (loads code pages, thread pools and library work buffers), then measure.
        ours(), theirs()
        if reset:
            p_ours, p_ref, mode = measure.peak_rss_delta(ours), measure.peak_rss_delta(theirs), "VmHWM reset"
        else:
            base = measure.maxrss_bytes()
            ours()
            p_ours, p_ref, mode = measure.maxrss_bytes() - base, math.nan, "ru_maxrss (upper part only)"
        A = inputs["A"]
        out.append({"op": op, "ref": ref, "n": A.shape[-1], "input_bytes": A.numel() * A.element_size(),
                    "ours_bytes": p_ours, "ref_bytes": p_ref, "mode": mode,
                    "method": gdlinalg.methods(op)[0]})
    print(json.dumps(out))


def run_memory(n: int, n_dec: int) -> list[dict]:
    """Peak memory at size n (svd and eigh at n_dec), measured in a fresh subprocess."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--memprobe", str(n), str(n_dec)]
    proc = subprocess.run(cmd, env=measure.memory_env(), capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"memory probe failed:\n{proc.stderr}")
    rows = []
    for r in json.loads(proc.stdout.strip().splitlines()[-1]):
        mb = 1024.0**2
        rows.append({
            "op": r["op"], "size": f"{r['n']}x{r['n']}", "dtype": "float64", "method": r["method"],
            "input_mb": r["input_bytes"] / mb, "peak_mb": r["ours_bytes"] / mb,
            "peak_ratio": r["ours_bytes"] / r["input_bytes"], "ref": r["ref"],
            "ref_peak_mb": r["ref_bytes"] / mb, "ref_peak_ratio": r["ref_bytes"] / r["input_bytes"],
            "mode": r["mode"],
        })
    return rows


# --------------------------------------------------------------------------------------------
# targets
# --------------------------------------------------------------------------------------------


def _find(rows, table, size, dtype="float64", matrix=None, ref=None):
    for r in rows:
        if (r["table"] == table and r["size"] == size and r["dtype"] == dtype
                and (matrix is None or matrix in r["matrix"]) and (ref is None or r["ref"] == ref)):
            return r
    return None


def _status(ok: bool | None) -> str:
    return "not measured" if ok is None else ("met" if ok else "NOT met")


def evaluate_targets(rows: list[dict], memory: list[dict]) -> list[dict]:
    out = []

    def add(name, requirement, row, checks, fmt):
        if row is None:
            out.append({"target": name, "requirement": requirement, "measured": "-", "status": _status(None)})
            return
        ok = all(c(row) for c in checks)
        out.append({"target": name, "requirement": requirement, "measured": fmt(row), "status": _status(ok)})

    tol = cases_mod.TARGET_TOL

    def ratio_res(r):
        return f"{r['ratio']:.2f}x, residual {r['residual']:.1e}, {r['iterations']} it"

    add("inverse n=500 cond=1e3 float64", "residual <= 1e-10 and <= 10x torch.linalg.inv",
        _find(rows, "inv", "500x500", matrix="cond=1000"),
        [lambda r: r["residual"] <= tol, lambda r: r["ratio"] <= 10], ratio_res)
    add("solve n=500 cond=10 float64, one right-hand side", "residual <= 1e-10 and <= 4x torch.linalg.solve",
        _find(rows, "solve", "500x500", matrix="cond=10)"),
        [lambda r: r["residual"] <= tol, lambda r: r["ratio"] <= 4], ratio_res)
    for n in (500, 1000):
        svd_row = _find(rows, "svd", f"{n}x{n}", matrix="cond=1000")
        eigh_row = _find(rows, "eigh", f"{n}x{n}", matrix="cond=1000")
        if n == 500:
            add("full SVD n=500 cond=1e3 float64", "recon <= 1e-10, orthogonality <= 1e-11, <= 25x torch.linalg.svd",
                svd_row, [lambda r: r["residual"] <= tol, lambda r: r["orthogonality"] <= 1e-11, lambda r: r["ratio"] <= 25],
                lambda r: f"{r['ratio']:.1f}x, recon {r['residual']:.1e}, orth {r['orthogonality']:.1e}")
            add("full eigh n=500 random SPD cond=1e3 float64", "residual <= 1e-10, <= 15x torch.linalg.eigh", eigh_row,
                [lambda r: r["residual"] <= tol, lambda r: r["ratio"] <= 15], ratio_res)
            add("full eigh n=500 clustered (C C^T + 1e-3 I) float64", "residual <= 1e-10, <= 20x torch.linalg.eigh",
                _find(rows, "eigh", "500x500", matrix="clustered"),
                [lambda r: r["residual"] <= tol, lambda r: r["ratio"] <= 20], ratio_res)
            base = {"svd": svd_row, "eigh": eigh_row}
        else:
            for name, row in (("svd", svd_row), ("eigh", eigh_row)):
                ref = base[name]
                add(f"full {name} n=1000 cond=1e3 float64", "ratio <= the n=500 ratio (cost grows no faster than LAPACK's)",
                    row if ref is not None else None,
                    [lambda r, ref=ref: r["ratio"] <= ref["ratio"], lambda r: r["residual"] <= tol],
                    lambda r, ref=ref: f"{r['ratio']:.1f}x (n=500: {ref['ratio']:.1f}x), residual {r['residual']:.1e}")

    def equal_or_better(r):
        # Equal accuracy: the reference was tuned to reach ours. When no setting reaches it (the
        # note says so), its most accurate setting was timed; ours is then faster only if it is
        # faster than the reference at its best, which is a fair comparison in the reference's
        # favour, so the target may still be met.
        return not r["note"] or r["ref_residual"] > r["residual"]

    add("top-10 SVD 1000x500 float64", "recon <= 1e-10, <= 1x torch.svd_lowrank at equal accuracy",
        _find(rows, "truncated_svd", "1000x500", ref="torch.svd_lowrank"),
        [lambda r: r["residual"] <= tol, equal_or_better, lambda r: r["ratio"] <= 1],
        lambda r: (f"{r['ratio']:.2f}x ({r['ref_params']}), recon {r['residual']:.1e} "
                   f"vs {r['ref_residual']:.1e}" + (f" [{r['note']}]" if r["note"] else "")))
    teigh = [r for r in rows if r["table"] == "truncated_eigh" and r["size"] == "1000x1000"
             and r["ref"] == "torch.lobpcg"] or [None]
    for r0 in teigh:
        add(f"top-10 eigh 1000x1000 float64{' ' + r0['matrix'] if r0 else ''}",
            "residual <= 1e-10, <= 1x torch.lobpcg at equal accuracy", r0,
            [lambda r: r["residual"] <= tol, equal_or_better, lambda r: r["ratio"] <= 1],
            lambda r: (f"{r['ratio']:.2f}x ({r['ref_params']}), residual {r['residual']:.1e} "
                       f"vs {r['ref_residual']:.1e}" + (f" [{r['note']}]" if r["note"] else "")))

    for r0 in [r for r in rows if r["table"] == "batched"]:
        add(f"batched {r0['op']} {r0['matrix']} {r0['size']} float64", "worst member at machine accuracy, <= 10x torch.linalg",
            r0, [lambda r: r["residual"] <= max(10 * r["ref_residual"], 1e-12), lambda r: r["ratio"] <= 10],
            lambda r: f"{r['ratio']:.1f}x, worst residual {r['residual']:.1e} vs {r['ref_residual']:.1e}, {r['iterations']} it")

    blog = [r for r in rows if r["table"] == "blog_defaults"]
    if blog:
        def machine(r):
            eps = torch.finfo(getattr(torch, r["dtype"])).eps
            return r["residual"] <= max(10 * r["ref_residual"], 100 * eps)
        bad = [r for r in blog if not (r["seconds"] < 0.005 and machine(r))]
        worst = max(blog, key=lambda r: r["seconds"])
        msg = f"{len(blog) - len(bad)}/{len(blog)} ok; slowest {worst['seconds'] * 1e3:.1f} ms ({worst['op']} {worst['matrix']} {worst['dtype']})"
        if bad:
            msg += "; failing: " + ", ".join(
                f"{r['op']} {r['matrix']} {r['dtype']} {r['seconds'] * 1e3:.0f} ms res {r['residual']:.1e}" for r in bad[:6])
        out.append({"target": "every blog matrix, every operation, defaults",
                    "requirement": "< 5 ms each, residual <= max(10x LAPACK's, 100 eps)",
                    "measured": msg, "status": _status(not bad)})
    else:
        out.append({"target": "every blog matrix, every operation, defaults", "requirement": "< 5 ms each",
                    "measured": "-", "status": _status(None)})

    f32 = [r for r in rows if r["dtype"] == "float32" and r["table"] in ("inv", "solve", "pinv", "svd", "eigh", "blog_defaults")]
    if f32:
        def rel(r):
            return r["residual"] / r["ref_residual"] if r["ref_residual"] > 0 else (0.0 if r["residual"] == 0 else math.inf)
        bad = [r for r in f32 if not r["residual"] <= r["ref_residual"]]
        worst = max(f32, key=rel)
        msg = (f"{len(f32) - len(bad)}/{len(f32)} rows ok; worst ours/LAPACK residual {rel(worst):.2f} "
               f"({worst['table']} {worst['matrix']} {worst['size']})")
        out.append({"target": "float32 residual of the defaults", "requirement": "<= LAPACK's float32 residual, same matrix",
                    "measured": msg, "status": _status(not bad)})

    for m in memory:
        n = int(m["size"].split("x")[0])
        out.append({"target": f"peak memory {m['op']} n={n}", "requirement": f"no n^3 temporaries (peak < n/4 = {n // 4}x input)",
                    "measured": f"{m['peak_mb']:.1f} MB = {m['peak_ratio']:.1f}x input (LAPACK {m['ref_peak_ratio']:.1f}x)",
                    "status": _status(m["peak_ratio"] < n / 4)})
    return out


# --------------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------------


def _fmt(v: Any, kind: str = "") -> str:
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        if kind == "s":
            return f"{v * 1e3:.3g} ms" if v < 1 else f"{v:.3g} s"
        if kind == "ratio":
            return f"{v:.3g}"
        return f"{v:.1e}"
    return str(v)


def _pair(r: dict, k: str) -> str:
    return f"{_fmt(r[k])} / {_fmt(r['ref_' + k])}"


def format_table(headers: list[str], body: list[list[str]]) -> str:
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line, sep] + ["  ".join(c.ljust(w) for c, w in zip(b, widths)) for b in body])


def print_tables(rows: list[dict]) -> None:
    for table in TABLE_TITLES:
        rs = [r for r in rows if r["table"] == table]
        if not rs:
            continue
        print(f"\n== {TABLE_TITLES[table]} ==")
        headers = ["op", "matrix", "size", "dtype", "method", "it", "conv", "runs", "median", "reference",
                   "ref median", "ratio", "residual (ours / ref)", "orthogonality", "value error", "subspace angle", "note"]
        body = []
        for r in rs:
            ref = r["ref"] + (f"({r['ref_params']})" if r["ref_params"] else "")
            body.append([r["op"], r["matrix"], r["size"], r["dtype"], r["method"], str(r["iterations"]),
                         _fmt(r["converged"]), f"{r['runs']}/{r['ref_runs']}", _fmt(r["seconds"], "s"), ref,
                         _fmt(r["ref_seconds"], "s"), _fmt(r["ratio"], "ratio"), _pair(r, "residual"),
                         _pair(r, "orthogonality"), _pair(r, "value_error"), _pair(r, "subspace_angle"), r["note"]])
        print(format_table(headers, body))


def print_memory(memory: list[dict]) -> None:
    if not memory:
        return
    print("\n== memory — peak resident-set growth of the defaults (output included), relative to the input ==")
    headers = ["op", "size", "method", "input", "peak", "peak/input", "reference", "ref peak", "ref peak/input"]
    body = [[m["op"], m["size"], m["method"], f"{m['input_mb']:.2f} MB", f"{m['peak_mb']:.2f} MB",
             f"{m['peak_ratio']:.1f}", m["ref"], f"{m['ref_peak_mb']:.2f} MB", f"{m['ref_peak_ratio']:.1f}"]
            for m in memory]
    print(format_table(headers, body))
    print(f"(measured by {memory[0]['mode']} in a fresh process)")


def print_targets(targets: list[dict]) -> None:
    print("\n== targets (ratios are to the same-run torch time) ==")
    print(format_table(["status", "target", "requirement", "measured"],
                       [[t["status"], t["target"], t["requirement"], t["measured"]] for t in targets]))


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def write_outputs(out: Path, rows, memory, targets, meta) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, cols, data in (("results", COLUMNS, rows), ("memory", MEMORY_COLUMNS, memory),
                             ("targets", TARGET_COLUMNS, targets)):
        with open(out / f"{name}.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            for r in data:
                w.writerow({k: r.get(k, "") for k in cols})
    doc = {"meta": meta, "columns": COLUMNS,
           "rows": [{k: _jsonable(r[k]) for k in COLUMNS} for r in rows],
           "memory": [{k: _jsonable(v) for k, v in m.items()} for m in memory],
           "targets": targets}
    with open(out / "results.json", "w") as f:
        json.dump(doc, f, indent=1)


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="CI-sized suite: n=100 (SVD/eigh n=40), fewer repeats")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"),
                   help="directory for results.csv, results.json, memory.csv, targets.csv")
    p.add_argument("--only", default=None, help="comma-separated tables to run (e.g. inv,svd)")
    p.add_argument("--repeats", type=int, default=None, help="timed rounds per case after the warm-up")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    p.add_argument("--memprobe", type=int, nargs=2, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.memprobe is not None:
        memprobe(*args.memprobe)
        return 0

    warnings.simplefilter("ignore", gdlinalg.ConvergenceWarning)
    quick = args.quick
    repeats = args.repeats or (3 if quick else 7)
    budget = 1.0 if quick else 10.0     # seconds of timed rounds per case, after the warm-up
    slow = 3.0 if quick else 60.0       # a warm-up longer than this is the only sample
    all_cases = cases_mod.all_cases(quick)
    if args.only:
        keep = set(args.only.split(","))
        all_cases = [c for c in all_cases if c.table in keep]

    t_start = time.perf_counter()
    rows: list[dict] = []
    for i, case in enumerate(all_cases, 1):
        t0 = time.perf_counter()
        new = run_case(case, repeats, budget, slow)
        rows += new
        # Keep what has been measured on disk, so that an interrupted run still leaves its rows.
        write_outputs(Path(args.out), rows, [], [], {"mode": "quick" if quick else "full", "partial": True})
        r = new[0]
        print(f"[{i}/{len(all_cases)}] {case.table:<14} {case.op:<6} {case.matrix:<40} {case.size:>9} "
              f"{r['dtype']}: ratio {r['ratio']:.3g}, residual {r['residual']:.1e} "
              f"({time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)

    memory: list[dict] = []
    if not args.no_memory and not args.only:
        memory = run_memory(100, 40) if quick else run_memory(500, 500)

    targets = evaluate_targets(rows, memory)
    print_tables(rows)
    print_memory(memory)
    print_targets(targets)
    elapsed = time.perf_counter() - t_start
    meta = {
        "mode": "quick" if quick else "full", "elapsed_seconds": elapsed, "repeats": repeats,
        "torch": torch.__version__, "gdlinalg": gdlinalg.__version__, "threads": torch.get_num_threads(),
        "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    write_outputs(Path(args.out), rows, memory, targets, meta)
    print(f"\n{len(rows)} rows in {elapsed:.1f} s ({meta['mode']} mode, {meta['threads']} threads); "
          f"wrote {Path(args.out) / 'results.csv'}, results.json, memory.csv, targets.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
