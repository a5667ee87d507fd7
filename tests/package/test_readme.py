"""Package lane: the README tells a newcomer the truth — its table of operations and methods is the
package's method registry, its test command is what CI runs, and it stays short and starts with
the links a reader wants."""

from __future__ import annotations

import re

import gdlinalg
from gdlinalg._impl.dispatch import REGISTRY as _METHODS

from book_build import BUILD_FLAGS, PDF_FLAGS, REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
#: Where the operations live in torch, for the table's second column (a function of gdlinalg with
#: no torch.linalg namesake names its nearest torch counterpart in parentheses).
TORCH_NAMES = {"inv": "`inv`", "solve": "`solve`", "pinv": "`pinv`", "polar": "(`svd`, then `W @ Vh`)",
               "svd": "`svd`, `svdvals`", "eigh": "`eigh`", "truncated_svd": "(`torch.svd_lowrank`)",
               "truncated_eigh": "(`torch.lobpcg`)"}
TABLE = re.compile(r"<!-- operations table:[^>]*-->\n(?P<table>.*?)\n<!-- end of the operations table -->", re.S)


def operations_table() -> str:
    """The README's table, from the registry: every operation, its methods, the default in bold."""
    rows = ["| operation | in `torch.linalg` | methods |", "|---|---|---|"]
    for op in _METHODS:
        name = "`svd`, `svdvals`" if op == "svd" else f"`{op}`"
        default, *others = gdlinalg.methods(op)
        listed = ", ".join([f"**`{default}`**", *(f"`{m}`" for m in others)])
        rows.append(f"| {name} | {TORCH_NAMES[op]} | {listed} |")
    return "\n".join(rows)


def test_the_operations_table_is_the_method_registry():
    m = TABLE.search(README)
    assert m, "the README has no operations table between its markers"
    expected = operations_table()
    assert m["table"] == expected, f"the README's table is out of date; it should read:\n{expected}"
    assert set(TORCH_NAMES) == set(_METHODS)
    assert all(f"`{op}`" in m["table"] for op in gdlinalg.__all__ if op in _METHODS)


def test_the_readme_is_short_and_starts_with_the_book_and_the_install():
    lines = README.splitlines()
    assert len(lines) <= 150, len(lines)
    head = "\n".join(lines[:40])
    assert "https://gdlinalg.github.io/gdlinalg/" in head and "gdlinalg.pdf" in head
    assert "colab.research.google.com" in head
    assert 'pip install "gdlinalg @ git+https://github.com/gdlinalg/gdlinalg"' in head
    assert "download.pytorch.org/whl/cpu" in head     # torch's CPU build on Linux


def _commands() -> list[str]:
    return re.findall(r"```bash\n(.*?)\n```", README, re.S)


def test_the_two_commands_set_up_everything_and_ci_runs_the_test_command():
    commands = _commands()
    build = next(c for c in commands if "jupyter-book build" in c)
    tests = next(c for c in commands if c.strip().endswith("pytest"))
    assert build.startswith("scripts/setup && "), build          # the book's environment
    assert tests.startswith("scripts/setup --tests && "), tests  # ... and the test tools
    assert f"jupyter-book build {' '.join(BUILD_FLAGS)} ." in build
    assert f"jupyter-book build {' '.join(PDF_FLAGS)} ." in build
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert tests in ci.splitlines(), "CI must run the README's test command as written"
    for path in ("scripts/setup", "CONTRIBUTING.md", "MAINTAINING.md", "benchmarks/README.md", "LICENSE",
                 "CITATION.cff"):
        assert (REPO / path).exists(), path


def test_the_setup_script_checks_fonts_without_a_pipe_that_sigpipe_breaks():
    setup = (REPO / "scripts" / "setup").read_text(encoding="utf-8")
    assert "set -euo pipefail" in setup
    assert "fc-list -q FreeSerif" in setup and not re.search(r"fc-list\s*\|", setup)
    assert "download.pytorch.org/whl/cpu" in setup and "--retries 0" in setup
