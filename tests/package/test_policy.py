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
