"""Start-up hook: torch's thread count for every Python process of a test run.

``TORCH_NUM_THREADS=4 pytest`` runs the tests, and every process they start (the book's build and
its chapters' kernels), with ``torch.set_num_threads(4)``. ``OMP_NUM_THREADS`` cannot do this: torch
caps it at the number of cores, and the counts the chapters assert must hold for 1–4 threads on
any machine. ``tests/conftest.py`` puts this directory on ``PYTHONPATH`` when the variable is set;
Python imports ``sitecustomize`` at start-up. Without the variable, nothing happens (torch is not
even imported).
"""

import os

_threads = os.environ.get("TORCH_NUM_THREADS", "").strip()
if _threads:
    import torch

    torch.set_num_threads(int(_threads))
