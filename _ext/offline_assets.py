"""Sphinx extension: the built book needs no host but its own (issue 7).

1. **MathJax from the npm package, not from a CDN.** ``mathjax_path`` points at
   ``_static/mathjax/tex-chtml.js``; at ``build-finished`` the MathJax 3 component and the files it
   loads relative to itself (the CHTML web fonts, the TeX extensions that ``autoload`` fetches on
   demand, the menu's accessibility explorer and speech rule engine) are copied there from
   ``node_modules/mathjax`` (installed from ``package-lock.json`` by ``npm ci``). They are copied
   into the *output* at build time, never into a source ``_static/`` folder: Jupyter Book injects
   every ``.js``/``.css`` file found under a source ``_static/`` into every page. With
   ``_ext/light_pages.py``, which typesets the math at build time, only the fonts are copied.
2. **Each inline script once.** Extensions that call ``app.add_js_file(None, body=...)`` after the
   HTML builder was initialised (sphinx-thebe's ``const THEBE_JS_URL = ...``,
   sphinx-togglebutton's ``var togglebuttonSelector = ...``) end up on every page twice under
   Sphinx 7.4: the builder stores the asset with ``filename=None`` when it is added, and
   ``prepare_writing`` re-adds every registry asset as ``filename or ''``, which is not equal to it.
   A second ``const`` declaration is a ``SyntaxError`` in the browser console. The copies are
   merged before each page is written.
3. **Our stylesheet and templates** (``_ext/static/gdlinalg.css``, ``_ext/templates/``):
   accessibility and phone-width fixes for the theme, each explained where it is written.
4. **A favicon** (``_ext/static/favicon.svg``, set as ``html.favicon`` in ``_config.yml``), so that
   the browser does not request a missing ``/favicon.ico`` on every page. The bare ``index.html``
   redirect that sphinx-external-toc writes (a lone ``<meta http-equiv="Refresh">``) becomes a
   small complete page with the same redirect, a title, the favicon and a link to follow.
5. **Bibliography markup that assistive technology understands.** Docutils writes the
   bibliography as ``role="list"`` holding ``role="doc-biblioentry"`` items; that DPUB role is
   deprecated in WAI-ARIA 1.3 and no longer counts as a list item, so the list "contains" the
   entries' back-links (axe: ``aria-required-children``, critical). The entries become
   ``role="listitem"``.

Nothing here fetches anything: a missing ``node_modules/mathjax`` is a build error that says to run
``npm ci``.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError
from sphinx.util import logging

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
#: Where MathJax goes in the built site (below ``_static``, so Sphinx's asset paths work).
MATHJAX_DIR = "mathjax"
#: The MathJax 3 component: TeX input, CommonHTML output, the menu and assistive MathML.
MATHJAX_COMPONENT = "tex-chtml.js"
#: What the component may load relative to its own location, on page load or on demand.
MATHJAX_FILES = (
    MATHJAX_COMPONENT,
    "output/chtml/fonts/woff-v2",  # the web fonts (CSS @font-face urls relative to the script)
    "input/tex/extensions",        # \require / autoload (e.g. \color, \cancel, \boldsymbol)
    "ui",                          # the context menu's lazy parts
    "a11y",                        # the menu's accessibility explorer ...
    "sre",                         # ... and its speech rule engine
)


def mathjax_source(app: Sphinx) -> Path:
    configured = app.config.offline_mathjax_dir
    base = Path(configured) if configured else Path(app.confdir) / "node_modules" / "mathjax"
    if not base.is_absolute():
        base = Path(app.confdir) / base
    return base / "es5"


def use_local_mathjax(app: Sphinx, config: Config) -> None:
    src = mathjax_source(app)
    if not (src / MATHJAX_COMPONENT).is_file():
        raise ConfigError(
            f"[offline_assets] MathJax is not installed ({src / MATHJAX_COMPONENT} is missing): "
            "run `npm ci` in the repository root (package.json pins mathjax)."
        )
    config.mathjax_path = f"{MATHJAX_DIR}/{MATHJAX_COMPONENT}"
    # Our stylesheet, in a static folder Jupyter Book does not scan; our templates first.
    config.html_static_path = [*config.html_static_path, str(HERE / "static")]
    config.templates_path = [str(HERE / "templates"), *config.templates_path]


#: What the pages need when the math is typeset at build time (``_ext/light_pages.py``).
MATHJAX_FONTS = ("output/chtml/fonts/woff-v2",)


def copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    src = mathjax_source(app)
    dst = Path(app.outdir) / "_static" / MATHJAX_DIR
    for rel in MATHJAX_FONTS if "light_pages" in app.extensions else MATHJAX_FILES:
        source, target = src / rel, dst / rel
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    license_file = src.parent / "LICENSE"
    if license_file.is_file():
        shutil.copy2(license_file, dst / "LICENSE")
    logger.info(f"[offline_assets] copied MathJax from {src} to {dst}")


def dedupe_scripts(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                   doctree: Any) -> None:
    """Drop a script that is already on the page (same file or same inline body)."""
    files = context.get("script_files")
    if not files:
        return
    seen: set[tuple] = set()
    unique = []
    for asset in files:
        key = (asset.filename or "", asset.priority, *sorted(asset.attributes.items()))
        if key in seen:
            continue
        seen.add(key)
        unique.append(asset)
    if len(unique) != len(files):
        files[:] = unique  # the builder's own list: restored after the page is written


INDEX_STUB = re.compile(r'^\s*<meta http-equiv="Refresh" content="0; url=([^"]+)" />\s*$')
INDEX_PAGE = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8" />
<title>{title}</title>
<link rel="icon" href="{icon}" />
<meta http-equiv="Refresh" content="0; url={url}" />
</head>
<body>
<p><a href="{url}">{title}</a></p>
</body>
</html>
"""


def complete_index_redirect(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    index = Path(app.outdir) / "index.html"
    if not index.is_file():
        return
    m = INDEX_STUB.match(index.read_text(encoding="utf-8"))
    if m is None:
        return  # a real page, or already complete
    favicon = app.config.html_favicon or ""
    icon = favicon if "://" in favicon else f"_static/{Path(favicon).name}"
    title = app.config.html_title or app.config.project or ""
    index.write_text(INDEX_PAGE.format(
        lang=html.escape(app.config.language or "en"), title=html.escape(title),
        icon=html.escape(icon), url=html.escape(m.group(1))), encoding="utf-8")


BIBLIOENTRY = 'role="doc-biblioentry"'


def fix_bibliography_roles(app: Sphinx, pagename: str, templatename: str,
                           context: dict[str, Any], doctree: Any) -> None:
    body = context.get("body")
    if isinstance(body, str) and BIBLIOENTRY in body:
        context["body"] = body.replace(BIBLIOENTRY, 'role="listitem"')


def one_title_in_the_tab(app: Sphinx, exception: Exception | None) -> None:
    """The front page's title is the book's, so its tab would read the title twice
    ("<page title> — <book title>", the suffix Sphinx's layout adds to every page): there it
    reads once."""
    if exception is not None or app.builder.format != "html":
        return
    book = html.escape(app.config.html_title or app.config.project or "", quote=False)
    page = Path(app.outdir) / f"{app.config.root_doc}.html"
    if not book or not page.is_file():
        return
    text = page.read_text(encoding="utf-8")
    twice = f"<title>{book} &#8212; {book}</title>"
    if twice in text:
        page.write_text(text.replace(twice, f"<title>{book}</title>", 1), encoding="utf-8")


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("offline_mathjax_dir", "", "env")
    # After sphinx.ext.mathjax's defaults and jupyter-book's configuration.
    app.connect("config-inited", use_local_mathjax, priority=900)
    app.add_css_file("gdlinalg.css", priority=900)
    # Last, after every extension that adds page scripts (myst-nb, sphinx.ext.mathjax).
    app.connect("html-page-context", dedupe_scripts, priority=1000)
    app.connect("html-page-context", fix_bibliography_roles)
    app.connect("build-finished", one_title_in_the_tab)
    app.connect("build-finished", copy_mathjax)
    # After sphinx-external-toc has written the index.html redirect (default priority).
    app.connect("build-finished", complete_index_redirect, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
