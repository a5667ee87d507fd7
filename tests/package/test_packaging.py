"""Package lane: the package's metadata says what is true and tested — an SPDX license, a build
backend that reads it, floors equal to the versions CI runs, and numpy only for the plots."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

from book_build import REPO

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _pins() -> dict[str, str]:
    text = (REPO / "requirements.txt").read_text(encoding="utf-8")
    return {m[1].lower(): m[2] for m in re.finditer(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", text, re.M)}


def test_the_license_is_an_spdx_string_that_the_build_backend_supports():
    project = PROJECT["project"]
    assert project["license-files"] == ["LICENSE"]         # the string itself: test_citation.py
    floor = re.fullmatch(r"setuptools>=(\d+)", PROJECT["build-system"]["requires"][0])
    assert floor and int(floor[1]) >= 77          # PEP 639 license expressions


def test_the_floors_are_the_versions_ci_tests():
    project = PROJECT["project"]
    assert project["requires-python"] == f">={sys.version_info.major}.{sys.version_info.minor}"
    torch_floor = next(d for d in project["dependencies"] if d.startswith("torch"))
    major, minor = _pins()["torch"].split("+")[0].split(".")[:2]
    assert torch_floor == f"torch>={major}.{minor}"


def test_numpy_and_matplotlib_are_only_for_the_plots():
    project = PROJECT["project"]
    assert not any(d.startswith(("numpy", "matplotlib")) for d in project["dependencies"])
    plot = project["optional-dependencies"]["plot"]
    assert any(d.startswith("numpy") for d in plot) and any(d.startswith("matplotlib") for d in plot)
    # The package imports and computes with neither installed (torch alone).
    code = ("import sys\nfor m in ('numpy', 'matplotlib'): sys.modules[m] = None\n"
            "import warnings\nwarnings.simplefilter('ignore')\n"
            "import torch, gdlinalg\nX = gdlinalg.inv(torch.eye(3, dtype=torch.float64))\n"
            "assert torch.equal(X, torch.eye(3, dtype=torch.float64))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr


def _locked(name: str) -> dict[str, str]:
    text = (REPO / name).read_text(encoding="utf-8")
    return {m[1].lower().replace("_", "-"): m[2] for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M)}


def _direct(name: str) -> dict[str, str]:
    text = (REPO / name).read_text(encoding="utf-8")
    return {m[1].lower().replace("_", "-"): m[2]
            for m in re.finditer(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", text, re.M)}


def test_the_locks_pin_every_direct_requirement_at_its_version_with_hashes():
    """requirements.lock (the book) and requirements-test.lock (what the tests add) are
    pip-compile's output (scripts/lock) for requirements.txt and requirements-test.txt: every
    direct pin is there at the same version (torch as its +cpu build), every entry has a hash,
    no index of this machine is written in, and the two locks agree where they overlap."""
    for direct, lock in (("requirements.txt", "requirements.lock"),
                         ("requirements-test.txt", "requirements-test.lock")):
        pins, locked = _direct(direct), _locked(lock)
        for name, version in pins.items():
            assert name in locked, f"{lock} lacks {name} (run scripts/lock)"
            assert locked[name].split("+")[0] == version, (lock, name, locked[name], version)
        text = (REPO / lock).read_text(encoding="utf-8")
        entries = re.findall(r"^[A-Za-z0-9_.-]+==\S+(?: \\\n(?:    --hash=sha256:[0-9a-f]{64}(?: \\\n)?)+)?", text, re.M)
        assert entries and all("--hash=sha256:" in e for e in entries), lock
        assert "--index-url" not in text and "--find-links" not in text and "file://" not in text
        assert "pip-compile" in text
    assert _locked("requirements.lock")["torch"] == _direct("requirements.txt")["torch"] + "+cpu"
    book, tests = _locked("requirements.lock"), _locked("requirements-test.lock")
    assert {n: (book[n], tests[n]) for n in book.keys() & tests.keys() if book[n] != tests[n]} == {}
    assert "myst-nb" in _direct("requirements.txt")
    assert not _direct("requirements.txt").keys() & {"pytest", "hypothesis", "playwright", "pypdf"}
