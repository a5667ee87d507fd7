"""Shared test set-up: every test starts from the same global seed, so failures reproduce; and
``TORCH_NUM_THREADS=N pytest`` runs everything, the book's build and its kernels included, with N
torch threads (``tests/torch_threads/sitecustomize.py``), so that what the tests and chapters count
can be checked for 1 to 4 threads on any machine."""

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


@pytest.fixture(autouse=True)
def _seed_everything():
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    yield
