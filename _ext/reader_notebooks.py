"""Every chapter as a notebook that reads and runs on its own: Colab, Binder, a download.

1. **Generated notebooks.** At the end of an HTML build, every page of ``_toc.yml`` whose source
   is a MyST notebook becomes ``_build/notebooks/<docname>.ipynb``:

   - its Markdown is the page as the website shows it, in plain Markdown
     (``_ext/notebook_markdown.py``, from the resolved doctree): glued numbers written in,
     citations "(Author, year)", glossary terms and cross-references as links to the website,
     admonitions as quoted blocks, exercises under their numbers, solutions in ``<details>``;
   - its code cells are the ones a reader needs (``_ext/notebook_cells.py``): every visible cell,
     every hidden cell whose output the website shows (tables, figures, collapsed in JupyterLab),
     and the hidden cells those need, without their ``glue`` calls and ``assert`` checks; cells
     that only glue or check are dropped;
   - two cells go in front: a note that links the chapter on the website, and a cell that installs
     the package at exactly the sources the page was built from::

         %pip install --quiet "gdlinalg[plot] @ git+<repository url>@<tag or commit>"

   The same notebook, with the outputs of the build, replaces the ``.ipynb`` that the page's
   download button offers (``_sources/<docname>.ipynb``). ``binder/`` is copied next to the
   notebooks, so the published notebooks are a repository Binder can launch.
2. **Launch buttons open what the page was built from.** The workflow publishes
   ``_build/notebooks`` to the ``notebooks`` branch and tags that commit ``notebooks-<ref>``,
   ``<ref>`` being the install cell's tag or commit (``book_source_ref``). The Colab and Binder
   buttons point at that tag:
   ``https://colab.research.google.com/github/<owner>/<repo>/blob/notebooks-<ref>/<docname>.ipynb``
   and ``https://mybinder.org/v2/gh/<owner>/<repo>/notebooks-<ref>?urlpath=lab/tree/<docname>.ipynb``.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

import notebook_cells
import notebook_markdown

logger = logging.getLogger(__name__)

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


def notebooks_tag(prefix: str, ref: str) -> str:
    """The tag of the published notebooks built from sources ``ref``."""
    return f"{prefix}{ref}"


def colab_url(colab: str, repository_url: str, ref: str, docname: str) -> str | None:
    parts = github_parts(repository_url)
    return parts and f"{colab.rstrip('/')}/github/{'/'.join(parts)}/blob/{ref}/{docname}.ipynb"


def binder_url(binderhub: str, repository_url: str, ref: str, docname: str) -> str | None:
    parts = github_parts(repository_url)
    return parts and f"{binderhub.rstrip('/')}/v2/gh/{'/'.join(parts)}/{ref}?urlpath=lab/tree/{docname}.ipynb"


def install_line(package: str, repository_url: str, ref: str, extras: str = "plot") -> str:
    """The pip requirement that installs the package from the book's own sources."""
    repo = repository_url.rstrip("/").removesuffix(".git")
    extra = f"[{extras}]" if extras else ""
    return f'%pip install --quiet "{package}{extra} @ git+{repo}@{ref}"'


def _outputs(cell) -> list:
    """A cell's outputs without myst-nb's glue records (the numbers are in the Markdown)."""
    return [o for o in cell.get("outputs", []) if "scrapbook" not in o.get("metadata", {})]


def reader_notebook(items: list, executed, *, on_page: set[int], title: str, page_url: str,
                    install: str, book_title: str, book_version: str, ref: str):
    """The chapter as an nbformat-4 notebook, with the build's outputs: ``items`` from
    :mod:`notebook_markdown` (the page's Markdown and its code cells in order), ``executed`` the
    notebook the build ran and ``on_page`` the indices of the cells the page shows (an exercise
    solution's among them: the Markdown lists their code)."""
    import nbformat

    v4 = nbformat.v4
    cells = executed.cells
    code = [i for i, c in enumerate(cells) if c.cell_type == "code"]
    analysed = notebook_cells.code_cells(executed)
    keep = {code[k] for k in notebook_cells.reader_cells(analysed)}

    def code_cell(index: int):
        source = cells[index].source
        tags = set(cells[index].metadata.get("tags", []))
        hidden = bool(tags & notebook_cells.HIDDEN)
        cell = v4.new_code_cell(notebook_cells.without_bookkeeping(source) if hidden else source)
        if tags:
            cell.metadata["tags"] = sorted(tags)
        if hidden:
            cell.metadata["jupyter"] = {"source_hidden": True}
        cell.outputs = copy.deepcopy(_outputs(cells[index]))
        cell.execution_count = cells[index].get("execution_count")
        return cell

    out = []
    emitted: set[int] = set()

    def flush_hidden(upto: int) -> None:
        # Cells the page does not show but later cells need, where they stood in the chapter.
        for index in sorted(keep - on_page - emitted):
            if index < upto:
                out.append(code_cell(index))
                emitted.add(index)

    for item in items:
        if isinstance(item, notebook_markdown.Markdown):
            out.append(v4.new_markdown_cell(item.text))
        elif item.index in keep:
            flush_hidden(item.index)
            out.append(code_cell(item.index))
            emitted.add(item.index)
            if item.caption:
                out.append(v4.new_markdown_cell(item.caption))
    flush_hidden(len(cells))

    note = v4.new_markdown_cell(
        f"This notebook is the chapter [{title}]({page_url}) of the book *{book_title}*, version "
        f"{book_version} (sources `{ref}`). Run the first code cell to install the package at "
        "those sources; then run the cells in order. Links lead to the book's website, which "
        "shows every output.")
    note["id"] = NOTE_CELL_ID
    setup = v4.new_code_cell("# Install gdlinalg at the version this chapter was built with.\n" + install)
    setup["id"] = INSTALL_CELL_ID
    nb = v4.new_notebook(cells=[note, setup, *out])
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.validate(nb)
    return nb


def without_outputs(nb):
    """A copy of ``nb`` as a reader gets it to run: no outputs, no execution counts."""
    plain = copy.deepcopy(nb)
    for cell in plain.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return plain


def notebook_docnames(app: Sphinx) -> list[str]:
    """Pages of the book whose source is a notebook (myst-nb read a kernelspec from it)."""
    return sorted(d for d in app.env.found_docs
                  if "kernelspec" in app.env.metadata.get(d, {})
                  and str(app.env.doc2path(d)).endswith(".md"))


def page_items(app: Sphinx, docname: str, page_url: str, executed) -> tuple[list, set[int]]:
    """The page's resolved doctree as :mod:`notebook_markdown` items, and the indices of the code
    cells the page shows."""
    env = app.env
    doctree = env.get_and_resolve_doctree(docname, app.builder)
    unknown: set[str] = set()
    writer = notebook_markdown.Writer(
        page_url=page_url, secnumbers=env.toc_secnumbers.get(docname, {}),
        fignumbers=env.toc_fignumbers.get(docname, {}),
        cell_source=lambda i: executed.cells[i].source, unknown=unknown.add)
    items = writer.convert(doctree)
    on_page = {n["cell_index"] for n in doctree.findall(nodes.container)
               if n.get("nb_element") == "cell_code"}
    for name in sorted(unknown):
        logger.warning(f"[reader_notebooks] {docname}: no Markdown for <{name}> in the notebook",
                       location=docname)
    return items, on_page


def write_notebooks(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    import nbformat

    config = app.config
    repo = config.html_theme_options.get("repository_url", "")
    install = install_line("gdlinalg", repo, config.book_source_ref)
    build = Path(app.outdir).parent
    outdir = build / config.reader_notebooks_dir
    site = config.html_baseurl or ""
    names = notebook_docnames(app)
    for docname in names:
        title = app.env.titles[docname].astext() if docname in app.env.titles else docname
        executed = nbformat.read(build / "jupyter_execute" / f"{docname}.ipynb", as_version=4)
        page_url = site + docname + ".html"
        items, on_page = page_items(app, docname, page_url, executed)
        nb = reader_notebook(items, executed, on_page=on_page, title=title, page_url=page_url,
                             install=install, book_title=config.html_title or config.project,
                             book_version=config.book_version, ref=config.book_source_ref)
        # The page's download button gives it with the build's outputs; Colab and Binder without.
        for target, notebook in ((Path(app.outdir) / "_sources" / f"{docname}.ipynb", nb),
                                 (outdir / f"{docname}.ipynb", without_outputs(nb))):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(nbformat.writes(notebook) + "\n", encoding="utf-8")
    binder = Path(app.confdir) / "binder"
    if binder.is_dir():
        shutil.copytree(binder, outdir / "binder", dirs_exist_ok=True)
    tag = notebooks_tag(config.reader_notebooks_tag_prefix, config.book_source_ref)
    (outdir / "README.md").write_text(
        "# Chapters as notebooks\n\n"
        f"Generated by the book's build (version {config.book_version}, sources "
        f"`{config.book_source_ref}`, tagged `{tag}`); do not edit here.\n"
        "Each notebook's first code cell installs `gdlinalg` from exactly those sources, so it "
        "runs in Colab, on Binder (`binder/`) or in any fresh Python 3 environment.\n", encoding="utf-8")
    (outdir / "index.json").write_text(json.dumps(
        {"version": config.book_version, "ref": config.book_source_ref, "tag": tag,
         "notebooks": [f"{d}.ipynb" for d in names]}, indent=1) + "\n", encoding="utf-8")
    logger.info(f"[reader_notebooks] {len(names)} notebooks in {outdir}")


def point_launch_buttons_at_notebooks(app: Sphinx, pagename: str, templatename: str,
                                      context: dict[str, Any], doctree: Any) -> None:
    """Colab and Binder open the generated notebook at the tag of this build's sources, not the
    ``.md`` source on the main branch (which the theme would link)."""
    opts = app.config.html_theme_options
    launch = opts.get("launch_buttons") or {}
    repo = opts.get("repository_url", "")
    tag = notebooks_tag(app.config.reader_notebooks_tag_prefix, app.config.book_source_ref)
    urls = {"Colab": launch.get("colab_url") and colab_url(launch["colab_url"], repo, tag, pagename),
            "Binder": launch.get("binderhub_url") and binder_url(launch["binderhub_url"], repo, tag, pagename)}
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group["buttons"]:
            if button.get("text") in urls and urls[button["text"]]:
                button["url"] = urls[button["text"]]
        group["buttons"] = [b for b in group["buttons"] if b.get("text") not in urls or urls[b["text"]]]
        have = {b.get("text") for b in group["buttons"]}
        if "Colab" not in have and urls["Colab"]:
            group["buttons"].append({"type": "link", "text": "Colab", "tooltip": "Open in Colab",
                                     "icon": "_static/images/logo_colab.png", "url": urls["Colab"],
                                     "label": "launch-colab-button"})


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("book_release")
    app.add_config_value("reader_notebooks_dir", "notebooks", "html")
    app.add_config_value("reader_notebooks_tag_prefix", "notebooks-", "html")
    app.connect("build-finished", write_notebooks)
    # After sphinx-book-theme has added its launch buttons (priority 501).
    app.connect("html-page-context", point_launch_buttons_at_notebooks, priority=900)
    return {"version": "2.0", "parallel_read_safe": True, "parallel_write_safe": True}
