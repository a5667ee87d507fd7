"""Sphinx extension: the estimated reading time under every chapter's title.

A chapter of this book is meant to be one sitting. The reader should see what a sitting costs before
starting, and the tests (``tests/book/test_book.py``) hold every chapter to the word budget that makes it
one sitting. Both use :func:`measure`, so the numbers on the page are the numbers that are tested.

A careful first reading of a chapter is not a skim of its prose: the reader reads the code, looks at
the figures and follows the displayed equations. The time therefore counts four things on the
rendered page (CONTRIBUTING.md, *Reading time*, states the formula and its calibration)::

    minutes = words / 100 + code lines / 6 + figures + displayed equations / 2,   rounded up to 5

- **words of prose** (:func:`prose_words`): the running text a reader reads: paragraphs, lists,
  admonitions, figure captions, table cells written in the chapter, exercise statements, each piece
  of mathematics as one word. Code cells and their outputs, hidden solutions and the generated
  "Cite this chapter" block are not prose;
- **lines of code**: the non-blank lines of the code cells a reader sees without opening anything;
- **figures** and **displayed equations** (block mathematics).

Exercises are not in the time: working them is a second sitting.

The line goes directly after the first ``<h1>`` of the page body, as
``<p class="gdl-reading-time" data-minutes=.. data-words=.. data-code-lines=.. data-figures=..
data-equations=..>``, on every page except the root document and the pages listed in
``reading_time_exclude`` (the reference pages).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
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


def _article(html: str):
    import bs4  # a dependency of pydata-sphinx-theme, so always there when the book builds

    soup = bs4.BeautifulSoup(html, "html.parser")
    return soup.find("article") or soup


def _prose_words(root) -> int:
    """Words of prose in a parsed page; removes what is not prose from ``root``."""
    for selector in NOT_PROSE:
        for element in root.select(selector):
            element.decompose()
    maths = 0
    for element in root.select(", ".join(MATH)):
        maths += 1
        element.decompose()
    return maths + sum(1 for token in root.get_text(" ").split() if _WORD.search(token))


def _visible_code_lines(root) -> int:
    """Non-blank lines of the code cells shown without opening anything (not in a ``<details>``)."""
    return sum(sum(1 for line in cell.get_text().splitlines() if line.strip())
               for cell in root.select("div.cell_input") if cell.find_parent("details") is None)


def prose_words(html: str) -> int:
    """Words of prose in an HTML page or fragment (the ``<article>`` if there is one)."""
    return _prose_words(_article(html))


#: The formula's rates (CONTRIBUTING.md, *Reading time*): a careful first reading.
WORDS_PER_MINUTE = 100
CODE_LINES_PER_MINUTE = 6
MINUTES_PER_FIGURE = 1.0
MINUTES_PER_EQUATION = 0.5
ROUND_TO = 5


@dataclass(frozen=True)
class Reading:
    """What a reader reads in a chapter, and the minutes it takes."""

    words: int
    code_lines: int
    figures: int
    equations: int

    @property
    def minutes(self) -> int:
        t = (self.words / WORDS_PER_MINUTE + self.code_lines / CODE_LINES_PER_MINUTE
             + self.figures * MINUTES_PER_FIGURE + self.equations * MINUTES_PER_EQUATION)
        return max(ROUND_TO, ROUND_TO * math.ceil(t / ROUND_TO - 1e-9))


def measure(html: str) -> Reading:
    """Words of prose, visible lines of code, figures and displayed equations of a page, from one
    parse of it (the words last: counting them removes the code, the outputs and the maths)."""
    root = _article(html)
    figures, equations = len(root.select("figure")), len(root.select("div.math"))
    code_lines = _visible_code_lines(root)
    return Reading(_prose_words(root), code_lines, figures, equations)


def reading_time_html(reading: Reading) -> str:
    r = reading
    return (f'<p class="gdl-reading-time" data-minutes="{r.minutes}" data-words="{r.words}" '
            f'data-code-lines="{r.code_lines}" data-figures="{r.figures}" '
            f'data-equations="{r.equations}">Reading time: about {r.minutes} minutes '
            f'({r.words:,} words of prose, {r.code_lines} lines of code, '
            f'{r.figures} figure{"s" if r.figures != 1 else ""})</p>')


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
    line = reading_time_html(measure(body))
    context["body"] = body[:match.end()] + "\n" + line + body[match.end():]


def add_static_path(app: Sphinx, config: Any) -> None:
    config.html_static_path = [*config.html_static_path, str(STATIC_DIR)]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("reading_time_exclude", [], "html")
    app.connect("config-inited", add_static_path, priority=900)
    app.connect("html-page-context", add_reading_time)
    app.add_css_file("gdlinalg-reading-time.css")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
