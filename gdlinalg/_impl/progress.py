"""What an iteration reports while it runs, for methods built from shared building blocks.

A composite method (the SVD through the polar decomposition, divide and conquer, the pseudo-inverse
from an SVD) runs its iterations inside building blocks that other methods use too: Newton–Schulz
steps (``polar.py``), divide-and-conquer levels (``divide.py``), Jacobi sweeps (``jacobi.py``). Each
block calls :func:`step` once per iteration with its own measure of progress; the kernel that wants
them collects them into its recorder with :func:`recording`, so that its ``Result`` has one history
value per iteration. Nothing is recorded outside :func:`recording`, and :func:`quiet` hides the
inner iterations of a block that counts as one (the Newton–Schulz steps of one level).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, Protocol


class _Recorder(Protocol):
    def record(self, loss: float, residual: float) -> None: ...


_CURRENT: ContextVar[_Recorder | None] = ContextVar("gdlinalg_progress", default=None)


@contextmanager
def recording(rec: _Recorder) -> Iterator[None]:
    """Collect every :func:`step` of the building blocks called inside into ``rec``."""
    token = _CURRENT.set(rec)
    try:
        yield
    finally:
        _CURRENT.reset(token)


@contextmanager
def quiet() -> Iterator[None]:
    """Record nothing inside (the caller records one step for the whole block)."""
    token = _CURRENT.set(None)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def step(measure: float) -> None:
    """One iteration done, with its measure of progress (for a batch, the largest over the members
    still iterating)."""
    rec = _CURRENT.get()
    if rec is not None:
        rec.record(measure, measure)
