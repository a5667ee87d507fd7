"""Package lane: the method registry (``gdlinalg/_impl/dispatch.py``) is the single source of truth —
each public function's default method, the methods its docstring lists and the options it accepts
are the registry's."""

from __future__ import annotations

import inspect
import re

import pytest

import gdlinalg
from gdlinalg._impl.dispatch import REGISTRY

#: Public function -> its operation in the registry.
FUNCTIONS = {"inv": "inv", "solve": "solve", "pinv": "pinv", "svd": "svd", "svdvals": "svd", "eigh": "eigh",
             "polar": "polar", "truncated_svd": "truncated_svd", "truncated_eigh": "truncated_eigh"}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("suffix", ["", "_result"])
def test_signature_default_is_the_registry_s_first_method(name, suffix):
    if name == "svdvals" and suffix:
        pytest.skip("svdvals has no _result twin")
    fn = getattr(gdlinalg, name + suffix)
    default = inspect.signature(fn).parameters["method"].default
    assert default == gdlinalg.methods(FUNCTIONS[name])[0]


@pytest.mark.parametrize("op", sorted(set(FUNCTIONS.values())))
def test_docstring_lists_exactly_the_registry_s_methods(op):
    doc = inspect.getdoc(getattr(gdlinalg, op + "_result"))
    listed = re.search(r"method : \{([^}]*)\}", doc)
    assert listed, f"{op}_result documents no method set"
    assert tuple(m.strip().strip('"') for m in listed.group(1).split(",")) == gdlinalg.methods(op)


def test_every_method_s_options_are_its_kernel_s_keywords():
    for op, table in REGISTRY.items():
        for method, entry in table.items():
            opts = gdlinalg.options(op, method)
            assert ("tol" in opts) == entry.tol and ("max_iter" in opts) == entry.max_iter
            assert "rec" not in opts and "route" not in opts
            assert len(set(opts)) == len(opts)


def test_methods_and_options_refuse_unknown_names():
    with pytest.raises(ValueError, match="unknown operation 'qr'"):
        gdlinalg.methods("qr")
    with pytest.raises(ValueError, match="unknown method 'lapack' for svd"):
        gdlinalg.options("svd", "lapack")
