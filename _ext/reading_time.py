"""Sphinx extension: the estimated reading time under every chapter's title.

A chapter of this book is meant to be one sitting. The reader should see what a sitting costs before
starting, and the tests (``tests/book/test_book.py``) hold every chapter to the word budget that makes it
one sitting. Both use :func:`prose_words`, so the number on the page is the number that is tested.

What counts as prose is what a reader reads in the running text of the rendered page: paragraphs,
lists, admonitions, figure captions, table cells written in the chapter, exercise statements, and
each piece of mathematics as one word. Code cells and their outputs, hidden solutions and the
generated "Cite this chapter" block are not prose. The time is the prose at
``reading_time_words_per_minute`` (default 200, a common pace for technical text), rounded up.

The line goes directly after the first ``<h1>`` of the page body, as
``<p class="gdl-reading-time" data-words="N">``, on every page except the root document and the
pages listed in ``reading_time_exclude`` (the reference pages).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

#: Elements whose text is not prose: code cells and outputs, code blocks, hidden solutions, the
#: citation block and the line this extension writes.
NOT_PROSE = ("div.cell_input", "div.cell_output", "pre", "script", "style", "div.solution",
             "section#cite-this-chapter", "a.headerlink", ".gdl-reading-time")
#: Rendered mathematics (MathJax input in the HTML): one word each.
MATH = (".math", "span.math", "div.math")
_WORD = re.compile(r"[A-Za-z0-9]")
_H1_END = re.compile(r"</h1>", re.IGNORECASE)
STATIC_DIR = Path(__file__).resolve().parent / "reading_time_static"


def prose_words(html: str) -> int:
    """Words of prose in an HTML page or fragment (the ``<article>`` if there is one)."""
    import bs4  # a dependency of pydata-sphinx-theme, so always there when the book builds

    soup = bs4.BeautifulSoup(html, "html.parser")
    root = soup.find("article") or soup
    for selector in NOT_PROSE:
        for element in root.select(selector):
            element.decompose()
    maths = 0
    for element in root.select(", ".join(MATH)):
        maths += 1
        element.decompose()
    return maths + sum(1 for token in root.get_text(" ").split() if _WORD.search(token))


def minutes(words: int, per_minute: int) -> int:
    return max(1, math.ceil(words / per_minute))


def reading_time_html(words: int, per_minute: int) -> str:
    m = minutes(words, per_minute)
    return (f'<p class="gdl-reading-time" data-words="{words}">Reading time: about {m} '
            f'minute{"s" if m != 1 else ""} ({words:,} words of prose)</p>')


def add_reading_time(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                     doctree: Any) -> None:
    if doctree is None or pagename == app.config.root_doc:
        return
    if pagename in set(app.config.reading_time_exclude):
        return
    body = context.get("body")
    if not isinstance(body, str):
        return
    match = _H1_END.search(body)
    if match is None:
        return
    line = reading_time_html(prose_words(body), app.config.reading_time_words_per_minute)
    context["body"] = body[:match.end()] + "\n" + line + body[match.end():]


def add_static_path(app: Sphinx, config: Any) -> None:
    config.html_static_path = [*config.html_static_path, str(STATIC_DIR)]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("reading_time_exclude", [], "html")
    app.add_config_value("reading_time_words_per_minute", 200, "html")
    app.connect("config-inited", add_static_path, priority=900)
    app.connect("html-page-context", add_reading_time)
    app.add_css_file("gdlinalg-reading-time.css")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
