"""Book: the book for readers anywhere (issue 12): the chapters as notebooks that run in a fresh
environment (Colab), Binder's environment, and the workflow that publishes them.

The notebooks come from the session's build (``tests/book_build.py``). Marked ``book``. The book as
one PDF is checked in ``tests/book/test_pdf.py``.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import time
import venv
from pathlib import Path

import pytest
import yaml

from book_build import REPO, Build, notebook_docnames

pytestmark = pytest.mark.book

bs4 = pytest.importorskip("bs4")
CONFIG = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))
REPO_URL = CONFIG["repository"]["url"]
CONFIG_URL = yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))["url"]






NOTEBOOKS = notebook_docnames()


# ------------------------------------------------------------------------------------------------
# the notebooks
# ------------------------------------------------------------------------------------------------

INSTALL = re.compile(r'^%pip install --quiet "gdlinalg\[plot\] @ git\+(?P<repo>\S+)@(?P<ref>[^"]+)"$', re.M)
#: What only the website's build understands: a MyST role, a directive fence, a target label.
MYST = re.compile(r"\{[a-z][\w:-]*\}`|^\s*(?:`{3,}|:{3,})\s*\{[\w:-]+\}|^\([\w-]+\)=\s*$|\{\{", re.M)


def reader_notebook(book: Build, docname: str, *, download: bool = False) -> dict:
    path = (book.html / "_sources" if download else book.root / "_build" / "notebooks") / f"{docname}.ipynb"
    return json.loads(path.read_text())


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def test_every_notebook_chapter_has_a_notebook_with_an_install_cell(book):
    index = json.loads((book.root / "_build" / "notebooks" / "index.json").read_text())
    assert sorted(index["notebooks"]) == sorted(f"{d}.ipynb" for d in NOTEBOOKS)
    assert index["tag"] == f"notebooks-{index['ref']}"
    for docname in NOTEBOOKS:
        nb = reader_notebook(book, docname)
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        m = INSTALL.search(_source(code[0]))
        assert m, docname
        assert m["repo"] == REPO_URL and m["ref"] == index["ref"]
        assert all(not c.get("outputs") for c in code)
        assert nb["cells"][0]["cell_type"] == "markdown"  # a note that links the chapter online
        assert f"{docname}.html" in _source(nb["cells"][0])


def test_notebooks_keep_the_visible_code_and_drop_the_bookkeeping(book):
    """Every cell the page shows outside an exercise solution is in the notebook, verbatim and in
    order; hidden cells come only when a later cell needs them, without their checks and glue."""
    for docname in NOTEBOOKS:
        executed = json.loads((book.root / "_build" / "jupyter_execute" / f"{docname}.ipynb").read_text())
        shown = [_source(c).strip() for c in executed["cells"] if c["cell_type"] == "code"
                 and not set(c["metadata"].get("tags", [])) & {"remove-cell", "remove-input"}]
        code = [c for c in reader_notebook(book, docname)["cells"] if c["cell_type"] == "code"][1:]
        ours = [_source(c).strip() for c in code]
        rest = iter(ours)                  # what the page shows comes in the page's order
        assert all(any(s == o for o in rest) for s in shown if s in ours), docname
        solutions = [s for s in shown if s not in ours]
        md = "\n".join(_source(c) for c in reader_notebook(book, docname)["cells"] if c["cell_type"] == "markdown")
        assert all(s.splitlines()[0] in md for s in solutions), (docname, "a shown cell is missing")
        for cell in code:
            text = _source(cell)
            assert "myst_nb" not in text and not re.search(r"^\s*glue\(", text, re.M), (docname, text[:200])
            if cell["metadata"].get("jupyter", {}).get("source_hidden"):
                assert not re.search(r"^\s*assert\b", text, re.M), (docname, text[:200])
        hidden = [c for c in executed["cells"] if c["cell_type"] == "code"
                  and "remove-cell" in c["metadata"].get("tags", [])]
        figures = [c for c in executed["cells"] if c["cell_type"] == "code"     # kept, source hidden
                   and "remove-input" in c["metadata"].get("tags", [])]
        if hidden:
            assert len(code) < len(shown) + len(hidden) + len(figures), \
                f"{docname}: no bookkeeping cell was dropped"


def test_notebook_markdown_is_plain_markdown_with_the_website_s_numbers(book):
    """No MyST left; the glued numbers, the exercise numbers and the figure numbers of the
    website are written in; citations read "(Author, year)" and link to the website."""
    for docname in NOTEBOOKS:
        nb = reader_notebook(book, docname)
        md = "\n\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "markdown")
        left = sorted({m.group(0).strip() for m in MYST.finditer(md)})
        assert not left, f"{docname}: MyST left in the notebook: {left[:10]}"
        page = bs4.BeautifulSoup(book.page(docname), "html.parser").find("article")
        plain = " ".join(md.replace("\\", "").split())
        glued = {" ".join(el.get_text().split()) for el in page.select(".pasted-text")}
        missing = [g for g in glued if g not in plain]
        assert not missing, f"{docname}: glued values missing from the notebook: {missing[:5]}"
        for el in page.select(".exercise .admonition-title, .exercise p.admonition-title"):
            number = re.search(r"Exercise \d+\.\d+", el.get_text())
            assert number and f"**{number.group(0)}**" in md, (docname, el.get_text())
        for cap in page.select("figcaption .caption-number"):
            assert f"**{cap.get_text(strip=True).rstrip('.')}.**" in md, (docname, cap.get_text())
        assert md.count("<details>") == md.count("</details>") == len(page.select(".solution"))
        cited = page.select(".bibtex-citation a")
        linked = md.replace("*", "")                     # "*et al.*" is in italics in both
        for a in cited:
            assert f"[{a.get_text()}]({CONFIG_URL}book/references.html#" in linked, (docname, a.get_text())
        # A citation reads "(Author, year)" or "Author (year)", never the website's brackets.
        assert not re.search(r"\\\[\[[^]]*\]\(" + re.escape(CONFIG_URL), md), docname


def test_the_download_button_offers_the_reader_notebook_with_its_outputs(book):
    for docname in NOTEBOOKS:
        ours, download = reader_notebook(book, docname), reader_notebook(book, docname, download=True)
        assert [_source(c) for c in ours["cells"]] == [_source(c) for c in download["cells"]]
        outputs = [o for c in download["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
        assert outputs, docname
        assert not any("scrapbook" in o.get("metadata", {}) for o in outputs), docname
        figures = bs4.BeautifulSoup(book.page(docname), "html.parser").select("article figure img")
        pngs = [o for o in outputs if "image/png" in o.get("data", {})]
        assert len(pngs) >= len(figures), (docname, len(pngs), len(figures))


#: The fresh environment's processes see nothing of this one's (a PYTHONPATH pointing at a
#: checkout would hand them gdlinalg).
ISOLATED = {"PYTHONPATH": "", "PYTHONNOUSERSITE": "1", "PYTHONHOME": ""}


def _isolated_env() -> dict[str, str]:
    import os
    return {k: v for k, v in os.environ.items() if k not in ISOLATED} | {"PYTHONNOUSERSITE": "1"}


def _fresh_env(root: Path) -> Path:
    """A virtual environment with the book's numerical pins and a kernel, and no gdlinalg."""
    venv.EnvBuilder(with_pip=True, clear=True).create(root)
    python = root / "bin" / "python"
    pins = [line.split("#")[0].strip() for line in (REPO / "requirements.txt").read_text().splitlines()
            if re.match(r"^(torch|numpy|matplotlib)==", line)]
    subprocess.run([python, "-m", "pip", "install", "--quiet", *pins, "ipykernel"], check=True,
                   timeout=900, env=_isolated_env())
    # (from a directory without the package: ``python -c`` puts the working directory on sys.path)
    probe = subprocess.run([python, "-c", "import gdlinalg"], capture_output=True, env=_isolated_env(),
                           cwd=root)
    assert probe.returncode != 0, "gdlinalg must arrive only through the notebook's first cell"
    return python


def test_generated_notebooks_run_top_to_bottom_in_a_fresh_environment(book, tmp_path):
    """As in Colab: a fresh Python in which gdlinalg comes only from the first cell, here pointed
    at this checkout (git+file://localhost/..., the commit of HEAD: pip parses no git+file:/// URL)
    instead of GitHub."""
    import nbformat
    import zmq
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    from nbclient import NotebookClient

    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs the git checkout (the install cell installs from git)")
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    t0 = time.perf_counter()
    python = _fresh_env(tmp_path / "venv")
    # A kernelspec for the fresh environment, outside every Jupyter path of this one.
    kernels = tmp_path / "kernels"
    (kernels / "fresh").mkdir(parents=True)
    (kernels / "fresh" / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fresh", "language": "python",
        "env": {"PYTHONPATH": "", "PYTHONNOUSERSITE": "1"},
        "metadata": {"supported_encryption": ["curve"]}}))
    ksm = KernelSpecManager(kernel_dirs=[str(kernels)])
    print(f"\nfresh environment: {time.perf_counter() - t0:.0f} s")
    times = {}

    async def run(docname):
        nb = nbformat.reads((book.root / "_build" / "notebooks" / f"{docname}.ipynb").read_text(),
                            as_version=4)
        install = next(c for c in nb.cells if c.cell_type == "code")
        install.source = INSTALL.sub(
            lambda m: m[0].replace(f"git+{m['repo']}@{m['ref']}", f"git+file://localhost{REPO}@{head}"),
            install.source)
        assert f"git+file://localhost{REPO}@{head}" in install.source
        workdir = tmp_path / "run" / docname
        workdir.mkdir(parents=True)
        # Encrypted, as in the build (_ext/gdlinalg_book.py): no "running over TCP" warning.
        km = AsyncKernelManager(kernel_name="fresh", kernel_spec_manager=ksm,
                                transport_encryption="auto" if zmq.has("curve") else "disabled")
        client = NotebookClient(nb, km=km, kernel_name="fresh", timeout=600,
                                resources={"metadata": {"path": str(workdir)}})
        t1 = time.perf_counter()
        await client.async_execute()
        times[docname] = time.perf_counter() - t1
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, (docname, errors[:1])

    async def run_all():
        # The first notebook alone: its first cell installs gdlinalg into the empty environment
        # (checked below). Then the others, two at a time as the build executes them
        # (_ext/execute_ahead.py); their first cells find that commit installed.
        await run(NOTEBOOKS[0])
        gate = asyncio.Semaphore(2)

        async def gated(docname):
            async with gate:
                await run(docname)

        await asyncio.gather(*(gated(d) for d in NOTEBOOKS[1:]))

    asyncio.run(run_all())
    where = subprocess.run([python, "-c", "import gdlinalg, sys; print(gdlinalg.__file__)"],
                           capture_output=True, text=True, check=True,
                           env=_isolated_env(), cwd=tmp_path).stdout
    assert "site-packages" in where and str(REPO) not in where  # installed by the first cell
    print("notebook execution in the fresh environment: "
          + ", ".join(f"{d.split('/')[-1]} {s:.0f} s" for d, s in times.items()))


# ------------------------------------------------------------------------------------------------
# Binder and the publishing workflow (no build needed)
# ------------------------------------------------------------------------------------------------


def _pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", line)
        if m:
            out[m[1].lower()] = m[2]
    return out


@pytest.mark.parametrize("name", ["numpy", "matplotlib"])
def test_binder_pins_match_the_book(name):
    assert _pins(REPO / "binder" / "requirements.txt")[name] == _pins(REPO / "requirements.txt")[name]


def test_binder_installs_cpu_torch_and_goes_with_the_notebooks(book):
    reqs = (REPO / "binder" / "requirements.txt").read_text()
    binder, book_pins = _pins(REPO / "binder" / "requirements.txt"), _pins(REPO / "requirements.txt")
    assert binder["torch"] == book_pins["torch"].split("+")[0] + "+cpu"
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in reqs
    # The notebooks install the package themselves, and need nothing of the build (no myst-nb).
    assert set(binder) == {"torch", "numpy", "matplotlib"}
    assert (REPO / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    copied = book.root / "_build" / "notebooks" / "binder"
    assert (copied / "requirements.txt").read_text() == reqs
