"""Execute the chapters a few at a time, before Sphinx reads them (a local Sphinx extension).

myst-nb executes a notebook when Sphinx reads its page, one page after another, so a cold build of
the book runs its chapters one at a time. A chapter's kernel mostly runs Python, on one core: on a
2-core machine two chapters executed side by side take about two thirds of the time of the two in
turn (measured: 10.1 s against 15.5 s for ``svd-methods`` and ``eigenvalues``).

So, at ``env-before-read-docs``, this extension executes every notebook page that is about to be
read and is not in the execution cache yet, ``book_execution_workers`` at a time (default: 2, or 1 on
a one-core machine; the environment variable ``GDLINALG_EXECUTION_WORKERS`` overrides it; 1 turns
the extension off), exactly as myst-nb's cache mode would (the same reader, jupyter-cache's
``single_nb_execution`` with the configured timeout and error policy, the page's directory as the
working directory), and stores each success in the execution cache. myst-nb then finds every page
in the cache. A page that fails is not stored: myst-nb executes it again in its turn and reports
the failure as it always does (the failing cell, its traceback, the build's exit status), so a
broken chapter is reported exactly as without this extension, at the price of one more execution.

Only ``execute_notebooks: cache`` is concerned; in any other mode the extension does nothing.
Timings that a chapter measures and states are taken while another chapter runs beside it.

**A page served from the cache keeps its outputs in its notebook.** On a cache hit, myst-nb 1.x
merges the cached outputs into a *copy* of the page's notebook (``NotebookClientCache.start_client``,
``jupyter_cache``'s ``merge_match_into_notebook``) and renders from the copy, but writes the page's
own notebook, without outputs, to ``_build/jupyter_execute/``, from which the download button's
notebook is made (``_ext/reader_notebooks.py``). A page executed during the build is written with
its outputs, so a warm rebuild (or a page executed ahead) would offer a notebook without them. The
extension wraps ``start_client`` so that the merged cells go into the page's own notebook: a
cached page and an executed one are written alike.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Overrides ``book_execution_workers`` (e.g. 1 to execute the chapters one at a time).
WORKERS_ENV = "GDLINALG_EXECUTION_WORKERS"


def default_workers() -> int:
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def workers(app: Sphinx) -> int:
    value = os.environ.get(WORKERS_ENV, "").strip() or app.config.book_execution_workers
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{WORKERS_ENV} / book_execution_workers must be a whole number, got {value!r}")
    if n < 1:
        raise ValueError(f"{WORKERS_ENV} / book_execution_workers must be at least 1, got {n}")
    return n


def pending(env: BuildEnvironment, docnames: list[str], cache) -> list[tuple[str, Path, Any, Any]]:
    """The notebook pages to be read that have code and no cached outputs, as myst-nb reads them."""
    from myst_nb.core.read import create_nb_reader

    nb_config = env.mystnb_config
    todo = []
    for docname in docnames:
        path = Path(env.doc2path(docname))
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        reader = create_nb_reader(str(path), env.myst_config, nb_config, text)
        if reader is None:
            continue
        notebook = reader.read(text)
        if nb_config.metadata_key in notebook.metadata or nb_config.kernel_rgx_aliases:
            continue  # per-page settings or kernel aliases: leave the page to myst-nb
        if not any(cell.cell_type == "code" for cell in notebook.cells):
            continue
        try:
            cache.match_cache_notebook(notebook)
            continue  # already executed
        except KeyError:
            pass
        todo.append((docname, path, notebook, reader.read_fmt))
    # Longest first (by the length of their code), so that a long chapter does not run alone at the end.
    return sorted(todo, key=lambda t: -sum(len(c.source) for c in t[2].cells if c.cell_type == "code"))


def execute_ahead(app: Sphinx, env: BuildEnvironment, docnames: list[str]) -> None:
    nb_config = getattr(env, "mystnb_config", None)
    n = workers(app)
    if nb_config is None or nb_config.execution_mode != "cache" or n < 2:
        return
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from jupyter_cache.executors.utils import single_nb_execution

    cache = get_cache(nb_config.execution_cache_path)
    todo = pending(env, docnames, cache)
    if len(todo) < 2:
        return  # nothing to gain: myst-nb executes it in its turn
    logger.info(f"[execute_ahead] executing {len(todo)} pages, {n} at a time")
    t0 = time.perf_counter()

    def run(path: Path, notebook):
        return single_nb_execution(notebook, cwd=str(path.parent), allow_errors=nb_config.execution_allow_errors,
                                   timeout=nb_config.execution_timeout, meta_override=True)

    stored = 0
    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = {pool.submit(run, path, nb): (docname, path, nb, fmt) for docname, path, nb, fmt in todo}
        for future in as_completed(futures):
            docname, path, notebook, read_fmt = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 (myst-nb executes the page again and reports it)
                logger.info(f"[execute_ahead] {docname}: {type(exc).__name__}; left to myst-nb")
                continue
            if result.err is not None:
                logger.info(f"[execute_ahead] {docname}: failed; left to myst-nb, which reports it")
                continue
            # Stored as myst-nb stores what it executes (myst_nb/core/execute/cache.py).
            record = cache.add_nb_to_project(str(path), read_data=read_fmt) if read_fmt else \
                cache.add_nb_to_project(str(path))
            cache.cache_notebook_bundle(CacheBundleIn(notebook, record.uri, data={"execution_seconds": result.time}),
                                        check_validity=False, overwrite=True)
            stored += 1
            logger.info(f"[execute_ahead] {docname}: executed in {result.time:.1f} s")
    logger.info(f"[execute_ahead] {stored} of {len(todo)} pages executed in {time.perf_counter() - t0:.1f} s")


def keep_cached_outputs() -> None:
    """Make myst-nb's cache client merge cached outputs into the page's own notebook."""
    try:
        from myst_nb.core.execute.cache import NotebookClientCache
    except ImportError:
        return
    original = NotebookClientCache.start_client
    if getattr(original, "keeps_cached_outputs", False):
        return

    def start_client(self):
        own = self._notebook
        original(self)
        merged = self._notebook
        if merged is not own:
            own.cells = merged.cells
            for key in ("kernelspec", "language_info", "widgets"):
                if key in merged.metadata:
                    own.metadata[key] = merged.metadata[key]
            self._notebook = own

    start_client.keeps_cached_outputs = True
    NotebookClientCache.start_client = start_client


def setup(app: Sphinx) -> dict[str, Any]:
    keep_cached_outputs()
    app.add_config_value("book_execution_workers", default_workers(), "")
    app.connect("env-before-read-docs", execute_ahead)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
