"""Shared test set-up for the five lanes of the test suite, one folder per subject (a fact is
tested once, in the folder of its subject):

* ``tests/package/``  -- unit tests of the package's own pieces (test matrices, plotting, policy);
* ``tests/contract/`` -- every public function against the torch.linalg contract, adversarial
  inputs and hypothesis properties;
* ``tests/methods/``  -- the methods (blog recipe, gradient, Stiefel, large inverse, benchmarks)
  and the facts the chapters rest on, checked through the package;
* ``tests/book/``     -- the book: chapter code rules and extensions (fast), and the strict build,
  its pages, PDF, citations and reader notebooks (marked ``book``);
* ``tests/site/``     -- the built site in a browser (marked ``book``).

Commands::

    pytest tests/package tests/contract   # the fast lane: no book build, no browser
    pytest -m "not book"                  # everything that needs no build
    pytest                                # everything, the book's build and the browser included

The shared helpers stay here: ``book_build.py`` and ``book_stats.py`` (imported as top-level
modules: ``pythonpath`` in pyproject.toml includes ``tests``), ``lint_workflows.cjs`` and
``torch_threads/``.

Every test starts from the same global seed, so failures reproduce; and ``TORCH_NUM_THREADS=N
pytest`` runs everything, the book's build and its kernels included, with N torch threads
(``tests/torch_threads/sitecustomize.py``), so that what the tests and chapters count can be checked
for 1 to 4 threads on any machine.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

_HOOK = str(Path(__file__).resolve().parent / "torch_threads")
if os.environ.get("TORCH_NUM_THREADS", "").strip():
    torch.set_num_threads(int(os.environ["TORCH_NUM_THREADS"]))
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if _HOOK not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([_HOOK, *filter(None, paths)])


def pytest_report_header(config):
    return f"torch {torch.__version__}, {torch.get_num_threads()} threads"


@pytest.fixture(scope="session")
def book(tmp_path_factory):
    """The session's one strict build of the book, shared by every book and site test (it skips
    them, with the reason, when the build failed: see tests/book_build.py)."""
    pytest.importorskip("bs4")
    from book_build import session_build

    return session_build(tmp_path_factory)


@pytest.fixture(autouse=True)
def _seed_everything():
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    yield
