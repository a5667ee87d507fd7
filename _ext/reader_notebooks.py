"""Every chapter as a notebook a reader can run anywhere: Colab, Binder, a fresh Jupyter.

1. **Generated notebooks.** At the end of an HTML build, every page of ``_toc.yml`` whose source
   is a MyST notebook (it has a ``kernelspec``) is converted with jupytext to
   ``_build/notebooks/<docname>.ipynb`` (no outputs: the reader runs them), with two cells in
   front of the chapter's own: a Markdown note that links the chapter on the website, and a code
   cell that installs the package at exactly the sources the book was built from::

       %pip install --quiet "gdlinalg[plot] @ git+<repository url>@<tag or commit>" "myst-nb==<version>"

   (``book_source_ref`` from ``book_release.py``; myst-nb because chapters glue numbers into the
   prose with ``myst_nb.glue``). The chapter sources stay clean and the website never shows the
   cell. Cells that the website hides (``remove-*``/``hide-*`` tags) are kept, because later cells
   may need what they compute, and are collapsed in JupyterLab (``jupyter.source_hidden``).
   The Pages workflow publishes ``_build/notebooks`` to the ``notebooks`` branch.
2. **Launch buttons.** The Colab button, which sphinx-book-theme points at the ``.md`` source on
   the main branch (Colab opens only ``.ipynb``), points instead at the generated notebook:
   ``https://colab.research.google.com/github/<owner>/<repo>/blob/<notebooks_branch>/<docname>.ipynb``,
   owner and repository read from ``repository.url`` in ``_config.yml``. Binder keeps the ``.md``
   source on the main branch; ``binder/`` installs jupytext, which opens it as a notebook.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Tags with which the website hides a cell (or its input).
HIDDEN_TAGS = {"remove-cell", "remove-input", "hide-cell", "hide-input"}
#: Marks the generated cells, so that tests and tools can find them.
INSTALL_CELL_ID = "gdlinalg-install"
NOTE_CELL_ID = "gdlinalg-about"


def github_parts(url: str) -> tuple[str, str] | None:
    """``(owner, repo)`` of a GitHub repository URL, else ``None``."""
    parts = urlsplit(url)
    path = [p for p in parts.path.split("/") if p]
    if parts.netloc.lower() not in ("github.com", "www.github.com") or len(path) < 2:
        return None
    return path[0], path[1].removesuffix(".git")


def colab_url(colab: str, repository_url: str, branch: str, docname: str) -> str | None:
    parts = github_parts(repository_url)
    if parts is None:
        return None
    owner, repo = parts
    return f"{colab.rstrip('/')}/github/{owner}/{repo}/blob/{branch}/{docname}.ipynb"


def install_line(package: str, repository_url: str, ref: str, extras: str = "plot") -> str:
    """The pip requirement that installs the package from the book's own sources."""
    repo = repository_url.rstrip("/").removesuffix(".git")
    extra = f"[{extras}]" if extras else ""
    try:
        mystnb = f' "myst-nb=={version("myst-nb")}"'
    except PackageNotFoundError:
        mystnb = ' "myst-nb"'
    return f'%pip install --quiet "{package}{extra} @ git+{repo}@{ref}"{mystnb}'


def reader_notebook(source: Path, *, title: str, page_url: str, install: str,
                    book_version: str, ref: str) -> dict[str, Any]:
    """The chapter at ``source`` (MyST Markdown) as an nbformat-4 notebook dict, ready to run."""
    import jupytext
    import nbformat

    nb = jupytext.read(source)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        if set(cell.metadata.get("tags", [])) & HIDDEN_TAGS:
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
    note = nbformat.v4.new_markdown_cell(
        f"*This notebook is the chapter [{title}]({page_url}) of the book, version {book_version} "
        f"(sources `{ref}`). Run the first cell to install the package it uses; the book shows "
        "every output on its website.*")
    note["id"] = NOTE_CELL_ID
    cell = nbformat.v4.new_code_cell(
        "# Install gdlinalg at the version this chapter was built with.\n" + install)
    cell["id"] = INSTALL_CELL_ID
    nb.cells[:0] = [note, cell]
    # jupytext's text-format metadata means nothing in an .ipynb.
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata.setdefault("language_info", {"name": "python"})
    nbformat.validate(nb)
    return nb


def notebook_docnames(app: Sphinx) -> list[str]:
    """Pages of the book whose source is a notebook (myst-nb read a kernelspec from it)."""
    return sorted(d for d in app.env.found_docs
                  if "kernelspec" in app.env.metadata.get(d, {})
                  and str(app.env.doc2path(d)).endswith(".md"))


def write_notebooks(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    import nbformat

    config = app.config
    repo = config.html_theme_options.get("repository_url", "")
    install = install_line("gdlinalg", repo, config.book_source_ref)
    outdir = Path(app.outdir).parent / config.reader_notebooks_dir
    site = config.html_baseurl or ""
    names = notebook_docnames(app)
    for docname in names:
        title = app.env.titles[docname].astext() if docname in app.env.titles else docname
        nb = reader_notebook(Path(app.env.doc2path(docname)), title=title,
                             page_url=site + docname + ".html", install=install,
                             book_version=config.book_version, ref=config.book_source_ref)
        target = outdir / f"{docname}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    (outdir / "README.md").write_text(
        "# Chapters as notebooks\n\n"
        "Generated by the book's build from the MyST sources on the main branch "
        f"(version {config.book_version}, sources `{config.book_source_ref}`); do not edit here.\n"
        "Each notebook's first code cell installs `gdlinalg` from exactly those sources, so it "
        "runs in Colab, on Binder or in any fresh Python 3 environment.\n", encoding="utf-8")
    (outdir / "index.json").write_text(json.dumps(
        {"version": config.book_version, "ref": config.book_source_ref,
         "notebooks": [f"{d}.ipynb" for d in names]}, indent=1) + "\n", encoding="utf-8")
    logger.info(f"[reader_notebooks] {len(names)} notebooks in {outdir}")


def point_colab_at_notebooks(app: Sphinx, pagename: str, templatename: str,
                             context: dict[str, Any], doctree: Any) -> None:
    """Colab opens the generated ``.ipynb`` on the notebooks branch, not the ``.md`` source."""
    opts = app.config.html_theme_options
    colab = (opts.get("launch_buttons") or {}).get("colab_url")
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        url = colab and colab_url(colab, opts.get("repository_url", ""),
                                  app.config.reader_notebooks_branch, pagename)
        buttons = [b for b in group["buttons"] if b.get("text") != "Colab"]
        if url:
            buttons.append({"type": "link", "text": "Colab", "tooltip": "Open in Colab",
                            "icon": "_static/images/logo_colab.png", "url": url,
                            "label": "launch-colab-button"})
        group["buttons"] = buttons


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("book_release")
    app.add_config_value("reader_notebooks_dir", "notebooks", "html")
    app.add_config_value("reader_notebooks_branch", "notebooks", "html")
    app.connect("build-finished", write_notebooks)
    # After sphinx-book-theme has added its launch buttons (priority 501).
    app.connect("html-page-context", point_colab_at_notebooks, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
