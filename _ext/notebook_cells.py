"""What the code cells of a chapter bind and load: the analysis behind two promises.

1. **Visible code runs as shown.** A reader who copies the code the website shows, cell after
   cell, can run it: every name a visible cell loads is a builtin or is bound by that cell or by an
   earlier visible cell. Hidden cells (``remove-cell``, ``remove-input``) may glue, assert, format
   tables and draw figures, but bind nothing that visible code uses. :func:`unbound_names` lists
   the exceptions; ``tests/book/test_chapter_code.py`` requires that there are none.
2. **Reader notebooks run without the website's bookkeeping.** :func:`reader_cells` chooses the
   code cells of a chapter's notebook (``_ext/reader_notebooks.py``): the visible ones, those that
   show an output (a table, a figure), and, of the rest, only those that bind a name a chosen cell
   needs. Calls to ``myst_nb.glue`` and ``assert`` statements are taken out of the hidden cells
   kept (:func:`without_bookkeeping`), so a notebook needs neither myst-nb nor the build's checks.

Names are found with :mod:`symtable`, statement by statement, so that ``x = f(x)`` loads the ``x``
of an earlier cell. IPython magics (lines starting with ``%`` or ``!``) are ignored.
"""

from __future__ import annotations

import ast
import builtins
import symtable
from dataclasses import dataclass

#: Tags with which the website shows no code of the cell.
HIDDEN = frozenset({"remove-cell", "remove-input"})
#: Tags with which it shows neither code nor output.
REMOVED = frozenset({"remove-cell"})
BUILTINS = frozenset(dir(builtins))
#: What a notebook gets for free from IPython.
IPYTHON = frozenset({"display", "get_ipython"})


@dataclass(frozen=True)
class Cell:
    """A code cell: its source and tags, in the order of the chapter."""

    source: str
    tags: frozenset[str] = frozenset()

    @property
    def visible(self) -> bool:
        return not (self.tags & HIDDEN)

    @property
    def removed(self) -> bool:
        return bool(self.tags & REMOVED)


def code_cells(nb) -> list[Cell]:
    """The code cells of an nbformat notebook (as read by jupytext or myst-nb)."""
    return [Cell(c.source, frozenset(c.metadata.get("tags", [])))
            for c in nb.cells if c.cell_type == "code"]


def _python(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def _names(table: symtable.SymbolTable, bound: set[str], loaded: set[str]) -> None:
    for sym in table.get_symbols():
        name = sym.get_name()
        if table.get_type() == "module":
            if sym.is_assigned() or sym.is_imported() or sym.is_namespace():
                bound.add(name)
            if sym.is_referenced():
                loaded.add(name)
        else:
            if sym.is_global() and sym.is_referenced():
                loaded.add(name)
            if sym.is_declared_global() and sym.is_assigned():
                bound.add(name)
    for child in table.get_children():
        _names(child, bound, loaded)


def statement_names(source: str) -> list[tuple[int, set[str], set[str]]]:
    """``(line, bound, loaded)`` of each top-level statement of a cell, in order.

    A name that a statement both binds and loads (a loop variable, ``x = f(x)``) counts as loaded
    only when the statement is an augmented assignment or loads it before binding it at its own
    top level (``x = f(x)``): what matters is whether it must exist before the statement runs.
    """
    code = _python(source)
    tree = ast.parse(code)
    out = []
    for stmt in tree.body:
        bound: set[str] = set()
        loaded: set[str] = set()
        _names(symtable.symtable(ast.unparse(stmt), "<cell>", "exec"), bound, loaded)
        needed = loaded - bound
        if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            needed.add(stmt.target.id)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
            value_loads = {n.id for n in ast.walk(stmt.value)
                           if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            needed |= value_loads & bound - _comprehension_targets(stmt.value)
        out.append((stmt.lineno, bound, needed))
    return out


def _comprehension_targets(node: ast.AST) -> set[str]:
    return {n.id for c in ast.walk(node) if isinstance(c, ast.comprehension)
            for n in ast.walk(c.target) if isinstance(n, ast.Name)}


def cell_names(source: str) -> tuple[set[str], list[tuple[int, str]]]:
    """The names a cell binds, and ``(line, name)`` for each name it needs from before it."""
    bound: set[str] = set()
    needs: list[tuple[int, str]] = []
    for line, b, loaded in statement_names(source):
        needs += [(line, name) for name in sorted(loaded - bound)]
        bound |= b
    return bound, needs


def unbound_names(cells: list[Cell], *, free: frozenset[str] = BUILTINS | IPYTHON) -> list[tuple[int, int, str]]:
    """``(cell number, line, name)`` for every name a visible cell loads that no visible cell up
    to it binds. Cells are numbered from 1 among the code cells."""
    known: set[str] = set()
    missing = []
    for number, cell in enumerate(cells, start=1):
        if not cell.visible:
            continue
        bound, needs = cell_names(cell.source)
        missing += [(number, line, name) for line, name in needs if name not in known | free]
        known |= bound
    return missing


def unlabelled_asserts(source: str) -> list[int]:
    """Line numbers of the ``assert`` statements in a cell that carry no message."""
    tree = ast.parse(_python(source))
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Assert) and n.msg is None]


#: What reads a clock. A value computed from one is "timed".
CLOCKS = ("perf_counter", "monotonic", "process_time", "time.time", "timeit", "wall_time", "seconds")


def _loads(node: ast.AST) -> set[str]:
    """Names a node loads from outside it (its comprehensions' and lambdas' own names excluded)."""
    own = _comprehension_targets(node) | {a.arg for n in ast.walk(node) if isinstance(n, ast.Lambda)
                                          for a in n.args.args}
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - own


def _targets(node: ast.AST) -> set[str]:
    """The names an assignment target binds or mutates (``x``, ``x[i]``, ``x.a``, ``a, b``)."""
    while isinstance(node, (ast.Subscript, ast.Attribute, ast.Starred)):
        node = node.value
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, (ast.Tuple, ast.List)):
        return set().union(*(_targets(e) for e in node.elts))
    return set()


def _module_level(tree: ast.AST):
    """The nodes of the module's own scope: not inside a function, lambda or class body."""
    todo = list(ast.iter_child_nodes(tree))
    while todo:
        node = todo.pop(0)
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef,
                                 ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            todo.extend(ast.iter_child_nodes(node))


def _flows(tree: ast.AST):
    """``(targets, source)`` for every place a value flows into a module-level name: assignments,
    loop targets, ``with ... as``, mutating calls (``x.append(v)``) and definitions."""
    for node in _module_level(tree):
        if isinstance(node, ast.Assign):
            yield set().union(*(_targets(t) for t in node.targets)), node.value
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and node.value is not None:
            yield _targets(node.target), node.value
        elif isinstance(node, ast.For):
            yield _targets(node.target), node.iter
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            yield _targets(node.optional_vars), node.context_expr
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("append", "extend", "add", "update", "insert", "setdefault")):
            yield _targets(node.func.value), ast.Tuple(elts=list(node.args), ctx=ast.Load())
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield {node.name}, node


def timed_asserts(cells: list[Cell]) -> list[tuple[int, int, str]]:
    """``(cell number, line, names)`` of every ``assert`` whose test depends on a wall-clock
    measurement, which load can flip. A value is timed when its expression reads a clock
    (:data:`CLOCKS`), calls a function whose body does, or loads a timed name; the names it flows
    into (assigned, looped over, appended to) become timed, through the whole chapter."""
    trees = [ast.parse(_python(c.source)) for c in cells]
    timed: set[str] = set()

    def is_timed(expr: ast.AST) -> bool:
        text = ast.unparse(expr)
        if any(c in text for c in CLOCKS):
            return True
        if isinstance(expr, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return bool(statement_names(text)[0][2] & timed)     # the globals its body loads
        return bool(_loads(expr) & timed)

    for _ in range(3):                        # a loop may carry a value backwards: iterate
        for tree in trees:
            for targets, expr in _flows(tree):
                if is_timed(expr):
                    timed |= targets
    found = []
    for number, tree in enumerate(trees, start=1):
        for node in ast.walk(tree):
            if isinstance(node, ast.Assert) and is_timed(node.test):
                why = sorted(_loads(node.test) & timed) or [c for c in CLOCKS if c in ast.unparse(node.test)]
                found.append((number, node.lineno, ", ".join(why)))
    return found


def _is_bookkeeping(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Assert):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        f = stmt.value.func
        return isinstance(f, ast.Name) and f.id == "glue"
    if isinstance(stmt, ast.ImportFrom) and stmt.module == "myst_nb":
        return all(a.name == "glue" for a in stmt.names)
    return False


def without_bookkeeping(source: str) -> str:
    """The cell without its ``glue(...)`` calls, ``from myst_nb import glue`` and ``assert``
    statements (at any depth); a block left empty gets ``pass``. Other lines are kept as written."""
    code = _python(source)
    tree = ast.parse(code)
    lines = code.splitlines()
    drop: dict[int, str | None] = {}         # first line -> replacement (None: delete)

    def visit(body: list[ast.stmt]) -> None:
        kept = [s for s in body if not _is_bookkeeping(s)]
        for s in body:
            if _is_bookkeeping(s):
                for k in range(s.lineno, s.end_lineno + 1):
                    drop[k] = None
        if body and not kept:
            first = body[0]
            drop[first.lineno] = " " * first.col_offset + "pass"
        for s in kept:
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(s, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    visit(inner)
            for handler in getattr(s, "handlers", []):
                visit(handler.body)
            for case in getattr(s, "cases", []):
                visit(case.body)

    visit(tree.body)
    out = []
    for k, line in enumerate(lines, start=1):
        if k not in drop:
            out.append(line)
        elif drop[k] is not None:
            out.append(drop[k])
    text = "\n".join(out).strip("\n")
    # Collapse the blank lines the deletions leave behind.
    while "\n\n\n\n" in text:
        text = text.replace("\n\n\n\n", "\n\n\n")
    return text


def shows_output(cell: Cell) -> bool:
    """A hidden cell whose output the website shows (a table, a figure)."""
    return not cell.visible and not cell.removed


def reader_cells(cells: list[Cell]) -> list[int]:
    """Indices (0-based) of the code cells a reader notebook keeps, in order: every visible cell,
    every cell whose output the website shows, and the hidden cells that bind a name a kept cell
    needs (found backwards from each need, so the nearest earlier binding wins)."""
    sources = [c.source if c.visible else without_bookkeeping(c.source) for c in cells]
    names = [cell_names(s) for s in sources]
    keep = {i for i, c in enumerate(cells) if c.visible or shows_output(c)}
    todo = sorted(keep)
    while todo:
        i = todo.pop()
        for _, name in names[i][1]:
            for j in range(i - 1, -1, -1):
                if name in names[j][0]:
                    if j not in keep:
                        keep.add(j)
                        todo.append(j)
                    break
    # A hidden cell left with nothing but ``pass`` (all bookkeeping) is not worth keeping.
    return sorted(i for i in keep if cells[i].visible or sources[i].strip() not in ("", "pass"))
