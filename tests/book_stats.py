"""What a reader meets in a chapter, measured: words of prose, visible code, figures, equations,
reading time, raw TeX, glossary links.

Shared by the book tests (``tests/book/test_book.py``) and usable on its own to report the numbers for a
built book::

    python tests/book_stats.py _build/html        # one row per chapter of the TOC

Words, lines of code, figures and equations are counted by the same function that writes the reading
time under each chapter's title (``_ext/reading_time.py``), so the tested numbers are those on the page.
"""

from __future__ import annotations

import importlib.util
import re
import statistics
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
#: Code cells a reader does not see unless they open them (or at all).
HIDDEN_TAGS = {"remove-cell", "remove-input", "hide-input", "hide-cell"}
#: TeX that must never reach a reader as text (outside rendered mathematics and code).
RAW_TEX = re.compile(r"\\(?:mathrm|operatorname|frac|lVert|rVert|kappa|sigma|top|mathbb|tfrac|sum|"
                     r"begin|end|left|right|cdot|le|ge|in)\b|\$[^$\s][^$]*\$")
CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```\s*$", re.M | re.S)


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


reading_time = _load("reading_time", REPO / "_ext" / "reading_time.py")
prose_words = reading_time.prose_words


def chapters(root: Path = REPO) -> list[str]:
    """The chapters of the book: every TOC page with a reading time (not the root, not reference)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    excluded = set(config["sphinx"]["config"].get("reading_time_exclude", []))
    names = []
    for part in toc.get("parts", []):
        for entry in part.get("chapters", []):
            if entry["file"] not in excluded:
                names.append(entry["file"])
    return names


def code_cells(source: str) -> list[tuple[set[str], list[str]]]:
    """(tags, code lines) of every code cell of a MyST notebook, front matter and options removed."""
    cells = []
    for match in CODE_CELL.finditer(source):
        body = match.group(1).splitlines()
        tags: set[str] = set()
        if body and body[0].strip() == "---":               # YAML options block
            end = body.index("---", 1)
            options = yaml.safe_load("\n".join(body[1:end])) or {}
            tags = set(options.get("tags", []))
            body = body[end + 1:]
        while body and body[0].startswith(":"):             # short options, e.g. :tags: [...]
            option = body.pop(0)
            if option.startswith(":tags:"):
                tags |= set(yaml.safe_load(option.split(":", 2)[2]))
        cells.append((tags, [line for line in body if line.strip()]))
    return cells


def visible_code_lines(source: str) -> list[int]:
    """Non-blank lines of each code cell a reader sees without clicking."""
    return [len(lines) for tags, lines in code_cells(source) if not tags & HIDDEN_TAGS]


def article(html: str):
    import bs4

    soup = bs4.BeautifulSoup(html, "html.parser")
    return soup.find("article") or soup.find("main") or soup


def raw_tex(html: str) -> list[str]:
    """Pieces of TeX shown as text: everything outside rendered math, code and attributes."""
    a = article(html)
    for element in a.select(".math, pre, code, script, style, div.cell_input, div.cell_output, "
                            "section#cite-this-chapter"):
        element.decompose()
    text = " ".join(a.get_text(" ").split())
    return [m.group(0) for m in RAW_TEX.finditer(text)]


def glossary_terms(root: Path = REPO) -> list[str]:
    """The terms defined in ``book/glossary.md`` (lines of the glossary directive without indent)."""
    text = (root / "book" / "glossary.md").read_text(encoding="utf-8")
    block = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    return [line.strip() for line in block.splitlines() if line.strip() and not line.startswith(" ")]


def _pattern(term: str) -> re.Pattern:
    words = [re.escape(w) for w in re.split(r"[\s\-–]+", term)]
    words = [re.sub(r"matrix$", "matri(?:x|ces)", w) for w in words]
    return re.compile(r"(?<![\w-])" + r"[\s\-–]+".join(words) + r"(?:s|es)?(?![\w-])", re.I)


def _glossary_link(node) -> bool:
    link = node.find_parent("a")
    return link is not None and "glossary.html#term-" in link.get("href", "")


def first_uses_unlinked(html: str, terms: list[str]) -> list[str]:
    """Glossary terms whose first use in the running text is not a link to the glossary.

    Running text: paragraphs and list items, outside admonitions (learning objectives, exercises,
    solutions), figures, code and mathematics, and outside links to other pages (a chapter title
    that contains a term is not a use of it). A term counts as linked when its first occurrence
    lies inside a link to ``glossary.html#term-...``."""
    import bs4

    a = article(html)
    for element in a.select(".math, pre, code, div.cell_input, div.cell_output, "
                            "section#cite-this-chapter, figure, .admonition, .exercise, .solution"):
        element.decompose()
    missing = []
    blocks = [el for el in a.find_all(["p", "li"]) if el.find_parent(["p", "li"]) is None]
    for term in terms:
        pattern = _pattern(term)
        for block in blocks:
            hit = None
            for node in block.find_all(string=True):
                if not pattern.search(str(node)):
                    continue
                if node.find_parent("a") is not None and not _glossary_link(node):
                    continue                                  # a link to a chapter or section
                hit = node
                break
            if hit is None:
                continue
            if not _glossary_link(hit):
                missing.append(term)
            break
    return missing


def report(html_dir: Path, root: Path = REPO) -> list[dict]:
    rows = []
    for docname in chapters(root):
        source = (root / f"{docname}.md").read_text(encoding="utf-8")
        page = html_dir / f"{docname}.html"
        html = page.read_text(encoding="utf-8") if page.is_file() else ""
        lines = visible_code_lines(source)
        reading = reading_time.measure(html) if html else None
        rows.append({"chapter": docname, "words": reading and reading.words,
                     "visible cells": len(lines), "visible code lines": sum(lines),
                     "median lines": statistics.median(lines) if lines else 0,
                     "figures": reading and reading.figures,
                     "displayed equations": reading and reading.equations,
                     "exercises": source.count("{exercise}"),
                     "minutes": reading and reading.minutes})
    return rows


if __name__ == "__main__":
    html_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "_build" / "html"
    root = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO
    for row in report(html_dir, root):
        print("  ".join(f"{k}={v}" for k, v in row.items()))
