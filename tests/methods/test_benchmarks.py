"""Methods: the quick benchmark of every method against torch.linalg runs end to end and writes its
tables (no timing assertions)."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys

from book_build import REPO

EXPECTED = {
    "table", "op", "matrix", "size", "dtype", "method", "iterations", "converged", "runs", "seconds",
    "ref", "ref_params", "ref_runs", "ref_seconds", "ratio", "residual", "ref_residual",
    "orthogonality", "ref_orthogonality", "value_error", "ref_value_error", "subspace_angle",
    "ref_subspace_angle", "note",
}
TABLES = {"inv", "solve", "pinv", "svd", "eigh", "truncated_svd", "truncated_eigh", "batched", "blog_defaults", "blog_recipe"}


def test_quick_benchmark_runs_and_writes_results(tmp_path):
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick", "--out", str(out)],
        # A generous timeout: it catches a hang, it is not a timing assertion (the quick suite takes
        # under a minute on an idle 2-core machine, several on a busy shared one).
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "== targets" in proc.stdout

    with open(out / "results.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert EXPECTED <= set(reader.fieldnames)
        rows = list(reader)
    assert {r["table"] for r in rows} == TABLES
    for r in rows:
        ratio = float(r["ratio"])
        assert math.isfinite(ratio) and ratio > 0, r
        assert math.isfinite(float(r["residual"])) and math.isfinite(float(r["ref_residual"])), r
        assert r["ref"].startswith("torch."), r

    doc = json.loads((out / "results.json").read_text())
    assert doc["meta"]["mode"] == "quick"
    assert EXPECTED <= set(doc["columns"])
    assert len(doc["rows"]) == len(rows)
    for r in doc["rows"]:
        assert EXPECTED <= set(r)
        assert r["ratio"] is not None and math.isfinite(r["ratio"])
    assert {m["op"] for m in doc["memory"]} == {"inv", "solve", "pinv", "svd", "eigh"}
    assert all(t["status"] in ("met", "NOT met", "not measured") for t in doc["targets"])
    for name in ("memory.csv", "targets.csv"):
        assert (out / name).exists()
