"""Package: project rules that are cheap to check mechanically."""

from __future__ import annotations

import ast
import pathlib

import gdlinalg

PACKAGE = pathlib.Path(gdlinalg.__file__).parent

# The package computes its own answers: none of these may produce any part of a result.
FORBIDDEN = {
    "inv", "inv_ex", "solve", "solve_ex", "lstsq", "pinv", "svd", "svdvals", "eig", "eigh",
    "eigvals", "eigvalsh", "cholesky", "cholesky_ex", "lu", "lu_factor", "lu_solve", "lobpcg",
    "svd_lowrank", "pca_lowrank", "matrix_rank", "cholesky_solve", "triangular_solve",
    "solve_triangular", "ldl_factor", "qr_solve", "tensorinv", "tensorsolve", "matrix_power",
}


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute):
                parts = []
                while isinstance(f, ast.Attribute):
                    parts.append(f.attr)
                    f = f.value
                if isinstance(f, ast.Name):
                    parts.append(f.id)
                    yield ".".join(reversed(parts)), node.lineno


def test_library_code_calls_no_torch_factorization_or_solver():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for name, line in _calls(ast.parse(path.read_text())):
            head, _, last = name.rpartition(".")
            if head in ("torch", "torch.linalg", "linalg") and last in FORBIDDEN:
                offenders.append(f"{path.relative_to(PACKAGE)}:{line}: {name}")
            if last in FORBIDDEN and head.endswith("linalg"):
                offenders.append(f"{path.relative_to(PACKAGE)}:{line}: {name}")
    assert not offenders, "library code must compute its own answers:\n" + "\n".join(sorted(set(offenders)))


def test_public_api_is_short_and_explicit():
    assert len(gdlinalg.__all__) == len(set(gdlinalg.__all__)) <= 25
    for name in gdlinalg.__all__:
        assert hasattr(gdlinalg, name), name
        obj = getattr(gdlinalg, name)
        assert obj.__doc__ and "Examples" in obj.__doc__ or not callable(obj) or isinstance(obj, type), name


def test_every_public_function_has_numpydoc_example():
    import inspect

    for name in gdlinalg.__all__:
        obj = getattr(gdlinalg, name)
        if inspect.isfunction(obj):
            doc = inspect.getdoc(obj)
            assert "Parameters" in doc and "Returns" in doc and ">>>" in doc, name
    for module in (gdlinalg.matrices, gdlinalg.plotting):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                assert ">>>" in inspect.getdoc(obj), f"{module.__name__}.{name}"


# ------------------------------------------------------------------------------------------------
# the floors of gdlinalg/_impl: shared ground imports no kernel, no module reaches into another
# ------------------------------------------------------------------------------------------------

#: The ground: shared ideas every kernel stands on, each in one module named for it.
GROUND = {"checks", "scaling", "estimates", "result", "completion", "progress", "tolerances", "residuals",
          "outcome"}


def _imports(path: pathlib.Path):
    """(module imported from the package, names imported) for every relative import of ``path``."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module is None:                       # from . import a, b
                for alias in node.names:
                    yield alias.name, []
            else:
                yield node.module, [a for a in node.names]


def test_ground_modules_import_no_kernel():
    offenders = []
    for name in sorted(GROUND):
        for module, _ in _imports(PACKAGE / "_impl" / f"{name}.py"):
            if module not in GROUND:
                offenders.append(f"{name}.py imports {module}")
    assert not offenders, "the ground floor must not stand on a kernel:\n" + "\n".join(offenders)


def test_no_module_imports_another_module_s_private_names():
    offenders = []
    for path in sorted((PACKAGE / "_impl").glob("*.py")):
        for module, names in _imports(path):
            offenders += [f"{path.name}: from .{module} import {a.name}" for a in names
                          if a.name.startswith("_")]
    assert not offenders, "a name another module needs is public in the module that owns it:\n" + "\n".join(offenders)


def test_each_result_type_is_defined_once():
    defined = [f"{path.name}: {line.strip()}" for path in sorted((PACKAGE / "_impl").glob("*.py"))
               for line in path.read_text().splitlines()
               if line.startswith(("SVDResult =", "EighResult =", "class PolarResult", "def hermitian_part",
                                   "def _hermitian", "WIDER =", "_WIDER =", "_NARROW = {"))]
    assert len(defined) == 5 and all(d.startswith(("outcome.py", "tolerances.py")) for d in defined), defined
