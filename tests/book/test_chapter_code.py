"""Book: the chapters' code, read without building the book: what the page shows runs as shown,
every hidden check says which claim it guards, and no check depends on how busy the machine is.

The analysis lives in ``_ext/notebook_cells.py`` (the reader notebooks use it too); the tests at
the bottom plant each kind of mistake in a small chapter to show that the checks catch it.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

from book_build import REPO, notebook_docnames

jupytext = pytest.importorskip("jupytext")

_spec = importlib.util.spec_from_file_location("notebook_cells", REPO / "_ext" / "notebook_cells.py")
nc = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("notebook_cells", nc)
_spec.loader.exec_module(nc)




CHAPTERS = notebook_docnames()


def cells_of(docname: str) -> list:
    return nc.code_cells(jupytext.read(REPO / f"{docname}.md"))


@pytest.mark.parametrize("docname", CHAPTERS)
def test_visible_code_runs_as_shown(docname):
    """Every name a visible cell (exercise solutions included) loads is a builtin or bound by a
    visible cell up to it: a reader who copies the page can run it."""
    missing = nc.unbound_names(cells_of(docname))
    assert not missing, "\n".join(
        f"{docname}: code cell {cell}, line {line}: '{name}' is bound only in a hidden cell (or nowhere)"
        for cell, line, name in missing)


@pytest.mark.parametrize("docname", CHAPTERS)
def test_every_assert_names_the_claim_it_guards(docname):
    """A failing check reports which sentence of the chapter is wrong, not just a line number."""
    bare = [(number, line) for number, cell in enumerate(cells_of(docname), start=1)
            for line in nc.unlabelled_asserts(cell.source)]
    assert not bare, f"{docname}: asserts without a message at (code cell, line) {bare}"


@pytest.mark.parametrize("docname", CHAPTERS)
def test_no_check_depends_on_wall_clock_time(docname):
    """Timings are stated as measured numbers; what is asserted is counted (products, iterations),
    so a busy machine cannot fail the build."""
    timed = nc.timed_asserts(cells_of(docname))
    assert not timed, f"{docname}: asserts on wall-clock measurements at (code cell, line, names) {timed}"


# ------------------------------------------------------------------------------------------------
# the checks catch what they are for
# ------------------------------------------------------------------------------------------------


def _cell(source: str, *tags: str):
    return nc.Cell(source, frozenset(tags))


def test_a_name_bound_only_in_a_hidden_cell_is_reported():
    cells = [_cell("import torch"),
             _cell("import numpy as np\nhelper = lambda x: x", "remove-cell"),
             _cell("y = np.ones(3)\nz = helper(torch.ones(2))\nw = [v for v in range(3)]\nprint(len(w))"),
             _cell("def f(a):\n    return a + y\nq = f(1)\nq += 1\nr = undefined_name")]
    assert nc.unbound_names(cells) == [(3, 1, "np"), (3, 2, "helper"), (4, 5, "undefined_name")]


def test_a_name_loaded_before_its_own_statement_binds_it_is_reported():
    assert nc.unbound_names([_cell("total += 1")]) == [(1, 1, "total")]
    assert nc.unbound_names([_cell("x = x + 1")]) == [(1, 1, "x")]
    assert nc.unbound_names([_cell("for k in range(3):\n    s = k")]) == []


def test_an_assert_on_a_timing_is_reported_however_it_travels():
    cells = [_cell("import time\n\ndef clock(f):\n    t0 = time.perf_counter()\n    f()\n"
                   "    return time.perf_counter() - t0"),
             _cell("ratios = []\nfor n in (1, 2):\n    ratios.append(clock(print) / clock(print))\n"
                   "worst = max(ratios)\ncount = 3"),
             _cell("assert worst < 2, 'fast'\nassert count == 3, 'three'\n"
                   "assert res.wall_time > 0, 'timed'", "remove-cell")]
    assert nc.timed_asserts(cells) == [(3, 1, "worst"), (3, 3, "wall_time")]


def test_unlabelled_asserts_are_found_at_any_depth():
    assert nc.unlabelled_asserts("assert a, 'm'\nfor i in x:\n    assert i\n") == [3]


def test_bookkeeping_leaves_the_cells_a_reader_needs():
    cells = [_cell("import torch"),
             _cell("from myst_nb import glue\nimport matplotlib.pyplot as plt\n\n"
                   "def table(rows):\n    print(rows)", "remove-cell"),
             _cell("x = torch.ones(3)"),
             _cell("assert x.sum() == 3, 'three'\nglue('x', 3, display=False)", "remove-cell"),
             _cell("worst = x.max()\nfor v in x:\n    assert v > 0, 'positive'\nglue('w', worst)", "remove-cell"),
             _cell("table([worst])\nplt.plot(x)", "remove-input")]
    assert nc.reader_cells(cells) == [0, 1, 2, 4, 5]
    assert nc.without_bookkeeping(cells[1].source).startswith("import matplotlib.pyplot as plt")
    assert nc.without_bookkeeping(cells[4].source) == "worst = x.max()\nfor v in x:\n    pass"
