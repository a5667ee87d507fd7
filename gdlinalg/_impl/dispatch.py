"""The method registry and the batch runner: the one place that says, for each operation and
method, which kernel computes it, whether it gives every member of a batch its own stopping test,
whether it runs on the input normalised by a power of two, and which options it takes.

``methods()``, ``options()``, the validation of every call's options, the README's operations table
(``tests/package/test_readme.py``) and the public signatures' defaults
(``tests/package/test_registry.py``) are all read from :data:`REGISTRY`.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

import torch

from . import blog, cgls, gradient, jacobi, newton_schulz, pseudoinverse, spectral, stiefel, subspace
from .checks import check_method
from .outcome import Outcome
from .result import Recorder, Result


@dataclass(frozen=True)
class Method:
    """One method of one operation.

    ``kernel`` computes it on a flattened batch ``(B, ...)``. ``per_member``: the kernel gives
    every member of the batch its own stopping test, so the whole batch is passed at once;
    otherwise members are run one at a time, each exactly as if alone. ``scaled``: the kernel runs
    on the input normalised by a power of two (``scaling.py``), so its answer scales exactly;
    methods whose hyperparameters (learning rates) refer to the input's own scale are not.
    ``keep_range``: the kernel takes a matrix whose entries span the whole float range, so the
    normalisation keeps every entry (``scaling.normalise(..., keep_range=True)``); the others
    compute to an absolute accuracy of a few ``u ||A||``, which entries more than ``2^1000`` (float32:
    ``2^112``) below the largest cannot change, and get the plain normalisation.
    ``tol`` / ``max_iter``: whether the method has a stopping tolerance and an iteration cap (a
    method without one refuses the option instead of ignoring it). Its other options are the
    keyword-only parameters of ``kernel`` (see :func:`options`)."""

    kernel: Callable[..., Outcome]
    per_member: bool = True
    scaled: bool = True
    keep_range: bool = False
    tol: bool = True
    max_iter: bool = True


#: Every operation's methods, the default first.
REGISTRY: dict[str, dict[str, Method]] = {
    "inv": {
        "newton_schulz": Method(newton_schulz.inv),
        "gradient": Method(gradient.inv, per_member=False, scaled=False),
        "blog": Method(blog.inv, per_member=False, scaled=False),
    },
    "solve": {
        "newton_schulz": Method(newton_schulz.solve),
        "cgls": Method(cgls.solve, per_member=False),
        "gradient": Method(gradient.solve, per_member=False, scaled=False),
    },
    "pinv": {
        "svd": Method(pseudoinverse.pinv, keep_range=True),
        "newton_schulz": Method(newton_schulz.pinv),
        "gradient": Method(gradient.pinv, per_member=False, scaled=False),
    },
    "svd": {
        "auto": Method(partial(spectral.svd, route="auto"), keep_range=True),
        "polar": Method(partial(spectral.svd, route="polar"), tol=False),
        "jacobi": Method(jacobi.svd, keep_range=True),
        "stiefel": Method(stiefel.svd, per_member=False),
        "gradient": Method(gradient.svd, per_member=False, scaled=False),
        "blog": Method(blog.svd, per_member=False, scaled=False),
    },
    "eigh": {
        "auto": Method(partial(spectral.eigh, route="auto"), keep_range=True),
        "divide": Method(partial(spectral.eigh, route="divide"), tol=False, max_iter=False),
        "jacobi": Method(jacobi.eigh, keep_range=True),
        "stiefel": Method(stiefel.eigh, per_member=False),
    },
    "polar": {
        "newton_schulz": Method(partial(spectral.polar, method="newton_schulz")),
        "qdwh": Method(partial(spectral.polar, method="qdwh")),
    },
    "truncated_svd": {
        "subspace": Method(subspace.truncated_svd),
        "stiefel": Method(stiefel.truncated_svd, per_member=False),
    },
    "truncated_eigh": {
        "subspace": Method(subspace.truncated_eigh),
        "stiefel": Method(stiefel.truncated_eigh, per_member=False),
    },
}


def _table(op: str) -> dict[str, Method]:
    if op == "svdvals":
        op = "svd"
    if op not in REGISTRY:
        raise ValueError(f"unknown operation {op!r}: expected one of {', '.join(REGISTRY)}")
    return REGISTRY[op]


def methods(op: str | None = None) -> tuple[str, ...] | dict[str, tuple[str, ...]]:
    """The method names available for an operation, default first.

    Parameters
    ----------
    op : str, optional
        One of ``"inv"``, ``"solve"``, ``"pinv"``, ``"svd"``, ``"eigh"``, ``"polar"``,
        ``"truncated_svd"``, ``"truncated_eigh"`` (``svdvals`` uses the ``svd`` methods). Without
        it, every operation and its methods.

    Returns
    -------
    tuple or dict
        The method names of ``op``, default first; without ``op``, a dict from every operation
        to its method names.

    Examples
    --------
    >>> import gdlinalg
    >>> gdlinalg.methods("inv")
    ('newton_schulz', 'gradient', 'blog')
    >>> list(gdlinalg.methods())[:3]
    ['inv', 'solve', 'pinv']
    """
    if op is None:
        return {name: tuple(table) for name, table in REGISTRY.items()}
    return tuple(_table(op))


def options(op: str, method: str) -> tuple[str, ...]:
    """The keyword options ``method`` of ``op`` takes: ``tol`` and ``max_iter`` where it has them,
    then its own (read from its kernel's signature; what the registry fixes, such as a route, is
    not an option). Any other option is refused by name.

    Parameters
    ----------
    op : str
        An operation, as for :func:`methods`.
    method : str
        One of ``methods(op)``.

    Returns
    -------
    tuple of str

    Examples
    --------
    >>> import gdlinalg
    >>> gdlinalg.options("inv", "blog")
    ('tol', 'max_iter', 'lr', 'momentum', 'loss', 'seed')
    >>> gdlinalg.options("eigh", "divide")
    ()
    """
    table = _table(op)
    check_method(method, tuple(table), op)
    entry = table[method]
    fixed = set(getattr(entry.kernel, "keywords", None) or {})
    own = tuple(name for name, p in inspect.signature(entry.kernel).parameters.items()
                if p.kind is inspect.Parameter.KEYWORD_ONLY and name not in fixed | {"rec", "tol", "max_iter"})
    return (("tol",) if entry.tol else ()) + (("max_iter",) if entry.max_iter else ()) + own


def check_options(op: str, method: str, given: dict[str, Any]) -> None:
    """Refuse, by name, an option ``method`` does not take, and a ``tol`` or ``max_iter`` that is
    not a positive number, instead of failing inside a kernel or running with it ignored.
    ``given`` holds what the caller passed (``None`` for ``tol``/``max_iter`` means not passed)."""
    tol, max_iter = given.get("tol"), given.get("max_iter")
    if tol is not None and (isinstance(tol, bool) or not isinstance(tol, (int, float))
                            or not math.isfinite(tol) or tol <= 0):
        raise ValueError(f"expected tol to be a positive number (or None for the default), got {tol!r}")
    if max_iter is not None and (isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1):
        raise ValueError(f"expected max_iter to be a positive int (or None for the default), got {max_iter!r}")
    accepted = options(op, method)
    for name, value in given.items():
        if name in accepted or (name in ("tol", "max_iter") and value is None):
            continue
        if name == "out":
            raise ValueError("out= is not supported by gdlinalg: the functions return new tensors")
        takes = f"it takes {', '.join(accepted)}" if accepted else "it takes no options"
        raise ValueError(f"{op} with method={method!r} has no option {name!r}; {takes} "
                         f"(gdlinalg.options({op!r}, name) lists another method's)")


def scaled(op: str, method: str) -> bool:
    """Whether ``method`` runs on the input normalised by a power of two (``scaling.py``)."""
    return _table(op)[method].scaled if method in _table(op) else True


def keep_range(op: str, method: str) -> bool:
    """Whether ``method``'s normalisation keeps every entry (``Method.keep_range``)."""
    return _table(op)[method].keep_range if method in _table(op) else False


def _concat(parts: list[Any]) -> Any:
    if isinstance(parts[0], tuple):
        return type(parts[0])(tuple(torch.cat([p[i] for p in parts], dim=0) for i in range(len(parts[0]))))
    return torch.cat(parts, dim=0)


def run(
    op: str,
    method: str,
    args: tuple[Any, ...],
    options: dict[str, Any],
    empty: Callable[[], Any] | None,
) -> Result:
    """Run ``method`` on a flattened batch (``args`` are ``(B, ...)`` tensors, batch first).

    Per-member methods get the whole batch; the others are called once per member and their
    outcomes and histories merged, so that each member is exactly as accurate as alone.
    """
    table = _table(op)
    check_method(method, tuple(table), op)
    check_options(op, method, options)
    entry = table[method]
    options = {k: v for k, v in options.items()
               if not (k == "tol" and not entry.tol) and not (k == "max_iter" and not entry.max_iter)}
    rec = Recorder(op, method)
    if empty is not None:
        return rec.finish(empty(), converged=True, residual=0.0, tol=0.0, iterations=0)
    batch = args[0].shape[0]
    with torch.no_grad():
        if entry.per_member:
            out = entry.kernel(*args, rec=rec, **options)
        else:
            # One plain matrix at a time, exactly as if it had been passed alone (a batched product
            # can round differently from a plain one, and the blog recipe must stay bit for bit).
            outs, recs = [], []
            for i in range(batch):
                sub = Recorder(op, method) if batch > 1 else rec
                member = tuple(a[i] if torch.is_tensor(a) and a.dim() and a.shape[0] == batch else a
                               for a in args)
                o = entry.kernel(*member, rec=sub, **options)
                outs.append(o._replace(solution=_unsqueeze(o.solution)))
                recs.append(sub)
            if batch > 1:
                rec.absorb(recs)
            out = _merge(outs) if batch > 1 else outs[0]
    return rec.finish(
        out.solution,
        converged=out.converged,
        residual=out.residual,
        tol=out.tol,
        iterations=out.iterations,
        detail=out.detail,
        why=out.why,
    )


def _unsqueeze(solution: Any) -> Any:
    if isinstance(solution, tuple):
        return type(solution)(tuple(t.unsqueeze(0) for t in solution))
    return solution.unsqueeze(0)


def _merge(outs: list[Outcome]) -> Outcome:
    """One :class:`Outcome` for a batch solved member by member."""
    failed = [i for i, o in enumerate(outs) if not o.converged]
    why = ""
    if failed:
        worst = max(failed, key=lambda i: outs[i].residual / max(outs[i].tol, 1e-300))
        residual, tol, detail, why = outs[worst].residual, outs[worst].tol, f" (batch member {worst})", outs[worst].why
    else:
        worst = max(range(len(outs)), key=lambda i: outs[i].residual / max(outs[i].tol, 1e-300))
        residual, tol, detail = max(o.residual for o in outs), outs[worst].tol, ""
    return Outcome(
        _concat([o.solution for o in outs]),
        not failed,
        residual,
        max(o.iterations for o in outs),
        tol,
        detail,
        why,
    )
