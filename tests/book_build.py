"""Helpers for the book tests: copy the book's sources and build them with the README's command.

Kept out of ``conftest.py`` so that it does not collide with the package tests' own fixtures.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
#: Not copied into a test build: VCS data, build output, caches and installed tools. Everything else
#: is, so that whatever the book's configuration reads (e.g. CITATION.cff) is there.
IGNORED = ("__pycache__", ".git", "_build", "node_modules", ".pytest_cache", ".hypothesis",
           "*.egg-info", ".ipynb_checkpoints", "test-artifacts", ".venv", "venv", "results")
#: The README's build flags.
BUILD_FLAGS = ("--all", "-W", "-n", "--keep-going")
#: ... and those of its PDF build, which follows the website's (_ext/book_pdf.py).
PDF_FLAGS = ("--builder", "pdflatex", "-W", "-n", "--keep-going")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Build:
    root: Path
    returncode: int
    log: str
    seconds: float
    #: The PDF build that followed (the session build makes both, as the README does).
    pdf: "Build | None" = None
    #: What the build printed on stdout alone (``log`` is stdout, then stderr).
    stdout: str = ""

    @property
    def html(self) -> Path:
        return self.root / "_build" / "html"

    def page(self, docname: str) -> str:
        return (self.html / f"{docname}.html").read_text(encoding="utf-8")

    def article(self, docname: str):
        """The content of a built page, parsed: :func:`article` of :meth:`page`."""
        return article(self.page(docname))


def article(html: str):
    """The page's content (its ``<article>``, else ``<main>``), without the theme's navigation and
    header buttons, parsed with bs4."""
    import bs4

    s = bs4.BeautifulSoup(html, "html.parser")
    main = s.find("article") or s.find("main")
    assert main is not None, "no <article> or <main> in the page"
    return main


def plain_text(node) -> str:
    """The words of a parsed node, whitespace collapsed, as a reader reads them."""
    return " ".join(node.get_text().split())


def copy_book(dst: Path, cache_from: Path | None = None) -> Path:
    """Copy the repository's sources to ``dst`` (and, optionally, an execution cache to reuse)."""
    shutil.copytree(REPO, dst, ignore=shutil.ignore_patterns(*IGNORED), dirs_exist_ok=True)
    if (REPO / "node_modules").is_dir() and not (dst / "node_modules").exists():
        # The npm packages the build serves (MathJax, _ext/offline_assets.py): linked, not copied.
        (dst / "node_modules").symlink_to(REPO / "node_modules", target_is_directory=True)
    if cache_from is not None and cache_from.is_dir():
        shutil.copytree(cache_from, dst / "_build" / ".jupyter_cache")
    return dst


def build(root: Path, env: dict[str, str] | None = None, timeout: float = 900,
          flags: tuple[str, ...] = BUILD_FLAGS) -> Build:
    """Run ``jupyter-book build --all -W -n --keep-going root`` with this interpreter."""
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()",
           "build", *flags, str(root)]
    full_env = {**os.environ, **(env or {})}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=full_env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    log = ANSI.sub("", proc.stdout + "\n" + proc.stderr)
    return Build(root=root, returncode=proc.returncode, log=log, seconds=seconds,
                 stdout=ANSI.sub("", proc.stdout))


_SESSION_BUILD: Build | None = None


def the_build(tmp_path_factory) -> Build:
    """The session's one strict build of the book (website, then PDF, as the README's command),
    shared by every book test; built on first use, whether it succeeds or not."""
    global _SESSION_BUILD
    if _SESSION_BUILD is None:
        root = copy_book(tmp_path_factory.mktemp("book"))
        _SESSION_BUILD = build(root)
        print(f"\ncold book build: {_SESSION_BUILD.seconds:.1f} s")
        if _SESSION_BUILD.returncode == 0:
            _SESSION_BUILD.pdf = build(root, flags=PDF_FLAGS)
            print(f"PDF build (same execution cache): {_SESSION_BUILD.pdf.seconds:.1f} s")
        keep_build(_SESSION_BUILD)
    return _SESSION_BUILD


#: Where CI wants the session's build kept (the website, with its PDF, and the notebooks), so that
#: what it publishes is what the tests checked, built once.
KEEP = "GDLINALG_BUILD_OUT"


def keep_build(b: Build) -> None:
    out = os.environ.get(KEEP, "").strip()
    if not out or build_failure(b):
        return
    for part in ("html", "notebooks"):
        shutil.copytree(b.root / "_build" / part, Path(out) / part, dirs_exist_ok=True)
    print(f"the website and the notebooks are kept in {out}")


def session_build(tmp_path_factory) -> Build:
    """:func:`the_build`, for a test that reads it: when the build failed, the test is skipped
    with the reason, and ``tests/book/test_book.py::test_the_book_builds`` alone fails, saying which
    chapter, which cell and which message, instead of every book test erroring with the log."""
    import pytest

    b = the_build(tmp_path_factory)
    problem = build_failure(b)
    if problem:
        pytest.skip(f"the book did not build ({problem.splitlines()[0]}); "
                    "see test_book.py::test_the_book_builds")
    return b


#: A chapter's cell failed: myst-nb logs the source path, then the cell between dashed lines.
_FAILED_NOTEBOOK = re.compile(r"^(?P<path>\S+\.md): WARNING: Executing notebook failed", re.M)
_CELL_SOURCE = re.compile(r"^-{18}\n(?P<source>.*?)\n-{18}$", re.M | re.S)
_ERROR_LINE = re.compile(r"^(?P<error>[A-Za-z_.]*(?:Error|Exception|Warning)): ?(?P<message>.*)$", re.M)
_CELL_LINE = re.compile(r"^Cell In\[(?P<cell>\d+)\], line (?P<line>\d+)", re.M)


def build_failure(b: Build) -> str:
    """Empty when the website and the PDF built; otherwise what went wrong, in a few lines: the
    chapter, the code cell (its number among the chapter's code cells, as executed) and line, the
    error and its message (a hidden check's message names the claim it guards), and the cell."""
    if b.returncode == 0 and b.pdf is not None and b.pdf.returncode == 0:
        return ""
    which, log = ("website", b.log) if b.returncode != 0 else ("PDF", b.pdf.log if b.pdf else "")
    m = _FAILED_NOTEBOOK.search(log)
    if m:
        rest = log[m.end():]
        block = _CELL_SOURCE.search(rest)
        cell = block["source"] if block else ""
        after = rest[block.end():] if block else rest
        error = _ERROR_LINE.search(after)
        where = _CELL_LINE.search(after)
        chapter = Path(m["path"]).relative_to(b.root).with_suffix("").as_posix() \
            if Path(m["path"]).is_relative_to(b.root) else m["path"]
        head = (f"{chapter}: code cell {where['cell']}, line {where['line']}" if where else chapter)
        head += f": {error['error']}: {error['message']}" if error else ": a cell failed"
        return f"{head}\n{cell}"
    problems = [line for line in log.splitlines() if re.search(r"\b(WARNING|ERROR)\b|Exception occurred", line)]
    tail = "\n".join(problems[:10]) or log[-3000:]
    return f"the {which} build failed (exit {b.returncode if which == 'website' else b.pdf.returncode}):\n{tail}"


def toc_docnames(root: Path = REPO) -> list[str]:
    """Every page of the book's ``_toc.yml`` under ``root``, root page first."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return names


def is_notebook(docname: str, root: Path = REPO) -> bool:
    """Whether a page's source is a MyST notebook (jupytext front matter): an executed chapter."""
    head = (root / f"{docname}.md").read_text(encoding="utf-8")[:400]
    return head.startswith("---") and "jupytext:" in head


def notebook_docnames(root: Path = REPO) -> list[str]:
    """The pages of the book that are notebooks, in the order of ``_toc.yml``."""
    return [d for d in toc_docnames(root) if is_notebook(d, root)]

