"""The build's last lines say where things are (a local Sphinx extension).

Jupyter Book 1.x ends a build with its own message: after the website, the ``file://`` address of
``index.html`` (where the site's search does not work: browsers do not let a page read
``searchindex.js`` from a ``file://`` address); after the PDF, "A PDF of your book can be found at:
_build/latex", below Sphinx's "Run 'make' in that directory", though ``_ext/book_pdf.py`` has already
run LaTeX and copied the PDF into the website. Both point a reader to the wrong place.

So this extension, loaded in the ``jupyter-book`` process, replaces Jupyter Book's post-build step
(``jupyter_book.cli.main.builder_specific_actions``, looked up at call time) for a successful book
build with a summary of what was built and where — the website, the PDF, the notebooks — and how to
serve the site locally; and it removes the LaTeX builder's "Run 'make'" epilogue. A failed build
keeps Jupyter Book's own handling (its error box and exit status).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

#: The command that serves the website (search needs HTTP).
SERVE = "python -m http.server --directory {html} 8000"


def _relative(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)


def summary(build_dir: Path, pdf_name: str, builder: str) -> str:
    """What the build made and where, as the lines of the final message."""
    html = build_dir / "html"
    pdf = html / pdf_name
    notebooks = build_dir / "notebooks"
    lines = ["The PDF is built." if builder == "pdflatex" else "The website is built.", ""]
    lines.append(f"  website:    {_relative(html / 'index.html')}")
    if pdf.is_file():
        lines.append(f"  PDF:        {_relative(pdf)}")
    else:
        lines.append("  PDF:        not built yet: jupyter-book build --builder pdflatex -W -n --keep-going .")
    if notebooks.is_dir():
        lines.append(f"  notebooks:  {_relative(notebooks)}{os.sep}")
    lines += ["", "Search needs a web server (not file://). Serve the website with",
              f"  {SERVE.format(html=_relative(html))}",
              "and open http://localhost:8000/ in a browser."]
    return "\n".join(lines)


def _install(pdf_name: str) -> None:
    try:
        from jupyter_book.cli import main as cli
    except ImportError:  # built by plain sphinx-build: nothing to replace
        return
    original = getattr(cli.builder_specific_actions, "__wrapped__", cli.builder_specific_actions)

    def builder_specific_actions(result, builder, output_path, cmd_type, page_name=None,
                                 print_func=print):
        if isinstance(result, Exception) or result or cmd_type != "book" or builder not in (
                "html", "pdflatex"):
            return original(result, builder, output_path, cmd_type, page_name=page_name,
                            print_func=print_func)
        cli._message_box(summary(Path(output_path).parent, pdf_name, builder))
        return None

    builder_specific_actions.__wrapped__ = original
    cli.builder_specific_actions = builder_specific_actions


def quiet_latex_epilog(app: Sphinx) -> None:
    if app.builder.name == "latex":
        app.builder.epilog = ""   # "Run 'make' in that directory": _ext/book_pdf.py has run it


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("book_pdf")      # book_pdf_file
    app.connect("builder-inited", quiet_latex_epilog)
    app.connect("config-inited", lambda app, config: _install(config.book_pdf_file or "book.pdf"))
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
