"""Timing, accuracy and memory measurements for the benchmark suite.

Everything here is computed the same way for gdlinalg and for the torch reference, so that the two
columns of every accuracy metric can be compared directly. Accuracy is always measured in float64
(a float32 answer is cast up and compared with the float32 matrix cast up), so the numbers are the
error of the returned answer, not rounding noise of the check itself.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

# --------------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------------


@dataclass
class Timing:
    """Median wall time of one callable, and the output of its last run."""

    seconds: float
    runs: int
    warmed_up: bool
    output: Any = field(repr=False, default=None)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """One call of ``fn``: (seconds, output)."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def time_back_to_back(
    fns: list[Callable[[], Any]],
    first: list[tuple[float, Any]],
    repeats: int,
    budget: float,
    slow: float,
    single: list[bool] | None = None,
) -> list[Timing]:
    """Median times of several callables run back to back, round after round, in one process.

    ``first`` holds the (seconds, output) of a first call of each callable, already made: its
    warm-up. Then ``repeats`` rounds call every callable once, one after another, so that gdlinalg
    and its reference see the same machine state; rounds stop early (after at least one) once they
    have used ``budget`` seconds. A callable whose warm-up took more than ``slow`` seconds, or that
    is flagged in ``single``, is not repeated: its first call is its only sample (for a run that
    long, warm-up effects are negligible).

    ``torch.set_num_threads`` is left untouched; :func:`time.perf_counter` measures.
    """
    single = single or [False] * len(fns)
    once = [s or f[0] > slow for s, f in zip(single, first)]
    samples: list[list[float]] = [[f[0]] if o else [] for f, o in zip(first, once)]
    outputs: list[Any] = [f[1] for f in first]
    spent = 0.0
    for r in range(max(1, repeats)):
        if r > 0 and spent >= budget:
            break
        for i, fn in enumerate(fns):
            if once[i]:
                continue
            dt, outputs[i] = timed(fn)
            samples[i].append(dt)
            spent += dt
    return [Timing(statistics.median(s), len(s), not o, out) for s, o, out in zip(samples, once, outputs)]


# --------------------------------------------------------------------------------------------
# accuracy
# --------------------------------------------------------------------------------------------

NAN = float("nan")


def _d(X: torch.Tensor) -> torch.Tensor:
    return X.detach().to(torch.complex128 if X.is_complex() else torch.float64)


def _fro(X: torch.Tensor) -> float:
    return float(torch.linalg.matrix_norm(X, ord="fro"))


def orthogonality(Q: torch.Tensor) -> float:
    """``max |Q^H Q - I|`` elementwise."""
    Q = _d(Q)
    E = Q.mH @ Q - torch.eye(Q.shape[-1], dtype=Q.dtype)
    return float(E.abs().max()) if E.numel() else 0.0


def subspace_angle(X: torch.Tensor, Y: torch.Tensor) -> float:
    """Sine of the largest principal angle between span(Y) and span(X): ``||(I - X X^H) Y||_2``.

    ``X`` and ``Y`` have orthonormal columns; ``X`` is the computed basis, ``Y`` the true one. This
    form keeps its relative accuracy for tiny angles, where ``sqrt(1 - cos^2)`` cancels.
    """
    X, Y = _d(X), _d(Y)
    R = Y - X @ (X.mH @ Y)
    return float(torch.linalg.matrix_norm(R, ord=2))


def top_k(m: int, n: int) -> int:
    """How many leading singular/eigen vectors the subspace angle looks at."""
    return max(1, min(10, min(m, n) - 1))


def inv_metrics(A: torch.Tensor, X: torch.Tensor, truth: dict) -> dict:
    A, X = _d(A), _d(X)
    n = A.shape[-1]
    R = torch.eye(n, dtype=A.dtype) - A @ X
    # The right residual is what gdlinalg.inv promises; the left one, ||I - X A||, is measured
    # beside it (it can be up to cond(A) times larger for a Newton–Schulz inverse).
    L = torch.eye(n, dtype=A.dtype) - X @ A
    return {"residual": _fro(R) / math.sqrt(n), "left_residual": _fro(L) / math.sqrt(n)}


def solve_metrics(A: torch.Tensor, x: torch.Tensor, b: torch.Tensor, truth: dict) -> dict:
    A, x, b = _d(A), _d(x), _d(b)
    return {"residual": float(torch.linalg.vector_norm(A @ x - b) / torch.linalg.vector_norm(b))}


def pinv_metrics(A: torch.Tensor, X: torch.Tensor, truth: dict) -> dict:
    A, X = _d(A), _d(X)
    P = truth["pinv"]
    return {
        "residual": _fro(A @ X @ A - A) / _fro(A),
        "value_error": _fro(X - P) / _fro(P),
    }


def svd_truth(A: torch.Tensor) -> dict:
    U, S, Vh = torch.linalg.svd(_d(A), full_matrices=False)
    return {"U": U, "S": S, "V": Vh.mH}


def svd_metrics(A: torch.Tensor, out: Any, truth: dict) -> dict:
    U, S, Vh = (_d(t) for t in out)
    A = _d(A)
    m, n = A.shape[-2:]
    k = top_k(m, n)
    recon = _fro((U * S.to(U.dtype).unsqueeze(-2)) @ Vh - A) / _fro(A)
    St = truth["S"]
    return {
        "residual": recon,
        "orthogonality": max(orthogonality(U), orthogonality(Vh.mH)),
        "value_error": float((S - St).abs().max() / St[0]),
        "subspace_angle": max(
            subspace_angle(U[:, :k], truth["U"][:, :k]), subspace_angle(Vh.mH[:, :k], truth["V"][:, :k])
        ),
    }


def eigh_truth(A: torch.Tensor) -> dict:
    w, V = torch.linalg.eigh(_d(A))
    return {"w": w, "V": V}


def eigh_metrics(A: torch.Tensor, out: Any, truth: dict) -> dict:
    w, V = (_d(t) for t in out)
    A = _d(A)
    k = top_k(*A.shape[-2:])
    wt, Vt = truth["w"], truth["V"]
    # Largest eigenvalues last (ascending); the top-k subspace is the last k columns.
    return {
        "residual": _fro(A @ V - V * w.unsqueeze(-2)) / _fro(A),
        "orthogonality": orthogonality(V),
        "value_error": float((w - wt).abs().max() / wt.abs().max()),
        "subspace_angle": subspace_angle(V[:, -k:], Vt[:, -k:]),
    }


def batched_metrics(op: str, A: torch.Tensor, out: Any, truth: dict) -> dict:
    """The worst member of a batch ``(B, n, n)``: each metric is computed per matrix as above and
    the largest is reported (a batch is only as good as its worst member)."""
    A = _d(A)
    n = A.shape[-1]
    eye = torch.eye(n, dtype=A.dtype)
    fro = lambda X: torch.linalg.matrix_norm(X, ord="fro")
    orth = lambda Q: (Q.mH @ Q - eye).abs().amax().item()
    if op == "inv":
        X = _d(out)
        return {"residual": (fro(eye - A @ X) / math.sqrt(n)).max().item(),
                "left_residual": (fro(eye - X @ A) / math.sqrt(n)).max().item()}
    if op == "svd":
        U, S, Vh = (_d(t) for t in out)
        St = truth["S"]
        return {"residual": (fro((U * S.to(U.dtype).unsqueeze(-2)) @ Vh - A) / fro(A)).max().item(),
                "orthogonality": max(orth(U), orth(Vh.mH)),
                "value_error": ((S - St).abs().amax(-1) / St[:, 0]).max().item()}
    w, V = (_d(t) for t in out)
    wt = truth["w"]
    return {"residual": (fro(A @ V - V * w.unsqueeze(-2)) / fro(A)).max().item(),
            "orthogonality": orth(V),
            "value_error": ((w - wt).abs().amax(-1) / wt.abs().amax(-1)).max().item()}


def truncated_svd_metrics(A: torch.Tensor, out: Any, truth: dict, k: int) -> dict:
    """Accuracy of ``k`` leading triplets, against the full float64 SVD.

    ``residual`` is the reconstruction of the best rank-k approximation,
    ``||U_k S_k Vh_k - A_k||_F / ||A_k||_F`` with ``A_k`` from the full SVD.
    """
    U, S, Vh = (_d(t) for t in out)
    U, S, Vh = U[:, :k], S[:k], Vh[:k, :]
    Ut, St, Vt = truth["U"][:, :k], truth["S"][:k], truth["V"][:, :k]
    Ak = (Ut * St.unsqueeze(-2)) @ Vt.mH
    recon = _fro((U * S.unsqueeze(-2)) @ Vh - Ak) / _fro(Ak)
    return {
        "residual": recon,
        "orthogonality": max(orthogonality(U), orthogonality(Vh.mH)),
        "value_error": float((S - St).abs().max() / St[0]),
        "subspace_angle": max(subspace_angle(U, Ut), subspace_angle(Vh.mH, Vt)),
    }


def truncated_eigh_metrics(A: torch.Tensor, out: Any, truth: dict, k: int) -> dict:
    """Accuracy of the ``k`` largest eigenpairs (descending), against the full float64 eigh.

    ``residual`` is ``max_i ||A v_i - w_i v_i|| / ||A||_2``.
    """
    w, V = (_d(t) for t in out)
    A = _d(A)
    order = torch.argsort(w, descending=True)[:k]
    w, V = w[order], V[:, order]
    wt = truth["w"].flip(0)[:k]
    Vt = truth["V"].flip(1)[:, :k]
    norm2 = float(truth["w"].abs().max())
    R = A @ V - V * w.unsqueeze(-2)
    return {
        "residual": float(torch.linalg.vector_norm(R, dim=-2).max()) / norm2,
        "orthogonality": orthogonality(V),
        "value_error": float((w - wt).abs().max()) / norm2,
        "subspace_angle": subspace_angle(V, Vt),
    }


# --------------------------------------------------------------------------------------------
# memory
# --------------------------------------------------------------------------------------------


def _status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def can_reset_peak() -> bool:
    """Whether the kernel lets this process reset its RSS high-water mark (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_kb("VmHWM") is not None
    except OSError:
        return False


def peak_rss_delta(fn: Callable[[], Any]) -> float:
    """Bytes by which the resident set grows at its peak while ``fn`` runs (output included).

    Resets the high-water mark (``/proc/self/clear_refs``), runs ``fn`` and reads ``VmHWM``. Run in
    a process started with a small fixed ``MALLOC_MMAP_THRESHOLD_`` so that freed blocks go back to
    the system and the resident set follows the live allocations.
    """
    import gc

    gc.collect()
    base = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    out = fn()
    hwm = _status_kb("VmHWM")
    del out
    gc.collect()
    return float(max(0, hwm - base) * 1024)


def maxrss_bytes() -> float:
    import resource

    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


MEMORY_ENV = {
    # glibc: allocations above 16 KiB are mmap-ed and returned on free (a fixed threshold also
    # turns off the dynamic one that would otherwise keep freed blocks resident).
    "MALLOC_MMAP_THRESHOLD_": "16384",
    "MALLOC_TRIM_THRESHOLD_": "16384",
    # oneMKL: do not keep freed work buffers in its own pool.
    "MKL_DISABLE_FAST_MM": "1",
}


def memory_env() -> dict:
    env = dict(os.environ)
    env.update(MEMORY_ENV)
    return env
