"""A chapter's resolved doctree as plain Markdown cells: what the website shows, for a notebook.

The MyST source of a chapter is full of things only the website's build understands: glued numbers
(``{glue:text}``), citations, glossary terms, cross-references, admonitions, exercises and
solutions. The resolved doctree has all of them worked out, so the reader notebooks are written
from it (``_ext/reader_notebooks.py``):

- glued values as the text the website shows; citations as "(Author, year)" and glossary terms,
  cross-references ("Fig. 7.2", "Section 7.3") and API names as links to the website;
- headings with the website's section numbers; inline and display math as ``$...$``/``$$...$$``;
- admonitions as quoted blocks under their title; each exercise under its number ("Exercise 7.1"),
  each solution inside ``<details>`` (its code as listings: a reader runs it by copying it);
- each code cell of the chapter as a :class:`CodeCell` item, followed by its figure's caption.

A node this module has no Markdown for is reported through ``unknown`` (the extension turns it into
a build warning, so the strict build fails rather than dropping text silently).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urljoin

from docutils import nodes
from sphinx import addnodes  # noqa: F401  (registers Sphinx's node classes used in doctrees)

#: Characters that would start Markdown syntax inside running text.
_ESCAPE = re.compile(r"([\\`*_$<\[\]])")
#: Nodes that carry nothing for a reader of the notebook.
SKIP = ("target", "comment", "raw", "index", "substitution_definition", "system_message", "meta",
        "pending", "colspec")


@dataclass
class CodeCell:
    """A chapter's code cell, by its index among the notebook's cells (myst-nb's ``cell_index``)."""

    index: int
    caption: str = ""            # "**Fig. 7.2.** ..." when the cell draws a numbered figure


@dataclass
class Markdown:
    text: str


@dataclass
class Writer:
    """Doctree -> items (:class:`Markdown`, :class:`CodeCell`) for one page at ``page_url``."""

    page_url: str
    secnumbers: dict[str, tuple[int, ...]]
    fignumbers: dict[str, dict[str, tuple[int, ...]]]
    cell_source: Callable[[int], str]
    unknown: Callable[[str], None] = lambda tagname: None
    skip_classes: tuple[str, ...] = ("gdl-citation",)
    items: list = field(default_factory=list)
    _blocks: list[str] = field(default_factory=list)

    # -- output --------------------------------------------------------------------------------

    def convert(self, doctree: nodes.document) -> list:
        for child in doctree.children:
            self._block(child, level=0)
        self._flush()
        return self.items

    def _flush(self) -> None:
        text = "\n\n".join(b for b in self._blocks if b.strip()).strip()
        if text:
            self.items.append(Markdown(text))
        self._blocks = []

    # -- blocks --------------------------------------------------------------------------------

    def _block(self, node: nodes.Node, level: int) -> None:
        """Top-level flow: sections and code cells become items; the rest Markdown blocks."""
        if isinstance(node, nodes.section):
            if set(node.get("classes", [])) & set(self.skip_classes):
                return
            self._blocks.append(self._heading(node, level + 1))
            for child in node.children[1:]:
                self._block(child, level + 1)
        elif isinstance(node, nodes.container) and node.get("nb_element") == "cell_code":
            self._flush()
            self.items.append(CodeCell(node["cell_index"], self._figure_caption(node)))
        else:
            self._blocks.append(self.block(node))

    def _heading(self, section: nodes.section, level: int) -> str:
        ids = section.get("ids", [])
        number = None
        for key in [""] * (level == 1) + [f"#{i}" for i in ids]:
            if key in self.secnumbers:
                number = self.secnumbers[key]
                break
        title = self.inline(section[0])
        prefix = ".".join(map(str, number)) + " " if number else ""
        return f"{'#' * min(level, 6)} {prefix}{title}"

    def _figure_caption(self, cell: nodes.Element) -> str:
        parts = []
        for fig in cell.findall(nodes.figure):
            caption = next(iter(fig.findall(nodes.caption)), None)
            number = self._number("figure", fig.get("ids", []))
            label = f"**Fig. {number}.** " if number else ""
            if caption is not None or label:
                parts.append(label + (self.inline(caption) if caption is not None else ""))
        return "\n\n".join(parts)

    def _number(self, kind: str, ids: list[str]) -> str:
        for i in ids:
            if i in self.fignumbers.get(kind, {}):
                return ".".join(map(str, self.fignumbers[kind][i]))
        return ""

    def blocks(self, children) -> str:
        return "\n\n".join(b for b in (self.block(c) for c in children) if b.strip())

    def block(self, node: nodes.Node) -> str:
        name = node.tagname
        if isinstance(node, nodes.Text):
            return self._text(node.astext())
        if name in SKIP:
            return ""
        if isinstance(node, nodes.paragraph):
            return self.inline(node)
        if isinstance(node, nodes.section):              # a section inside a block (rare)
            if set(node.get("classes", [])) & set(self.skip_classes):
                return ""
            if node.children and isinstance(node[0], nodes.title):
                return "\n\n".join([f"**{self.inline(node[0])}**", self.blocks(node.children[1:])])
            return self.blocks(node.children)          # an exercise's or a solution's content
        if isinstance(node, nodes.bullet_list):
            return "\n".join(self._item("- ", item) for item in node.children)
        if isinstance(node, nodes.enumerated_list):
            start = node.get("start", 1)
            return "\n".join(self._item(f"{start + k}. ", item) for k, item in enumerate(node.children))
        if isinstance(node, nodes.math_block):
            return f"$$\n{node.astext().strip()}\n$$"
        if isinstance(node, nodes.literal_block):
            return self._fence(node.astext(), node.get("language", ""))
        if isinstance(node, nodes.block_quote):
            return self._quote(self.blocks(node.children))
        if isinstance(node, nodes.rubric):
            return f"**{self.inline(node)}**"
        if isinstance(node, nodes.table):
            return self._table(node)
        if isinstance(node, nodes.definition_list):
            return "\n\n".join(f"**{self.inline(item[0])}**  \n{self.blocks(item[-1].children)}"
                               for item in node.children)
        if name == "exercise_enumerable_node" or name == "exercise_node":
            return self._exercise(node)
        if name == "solution_node":
            return self._solution(node)
        if isinstance(node, nodes.Admonition):
            return self._admonition(node)
        if isinstance(node, nodes.container) and node.get("nb_element") == "cell_code":
            return self._fence(self.cell_source(node["cell_index"]), "python")
        if isinstance(node, (nodes.container, nodes.compound, nodes.topic, nodes.sidebar)):
            return self.blocks(node.children)
        if isinstance(node, nodes.figure):
            caption = next(iter(node.findall(nodes.caption)), None)
            return self.inline(caption) if caption is not None else ""
        if isinstance(node, nodes.line_block):
            return "  \n".join(self.inline(line) for line in node.children)
        self.unknown(name)
        return self.blocks(node.children) if isinstance(node, nodes.Element) else ""

    def _item(self, marker: str, item: nodes.Node) -> str:
        body = self.blocks(item.children)
        pad = " " * len(marker)
        lines = body.splitlines() or [""]
        return marker + lines[0] + "".join("\n" + (pad + line if line else "") for line in lines[1:])

    @staticmethod
    def _quote(text: str) -> str:
        return "\n".join("> " + line if line else ">" for line in text.splitlines())

    @staticmethod
    def _fence(code: str, language: str) -> str:
        ticks = "```"
        while ticks in code:
            ticks += "`"
        lang = {"ipython3": "python", "ipython": "python", "default": "", "none": "",
                "myst-ansi": ""}.get(language, language)
        return f"{ticks}{lang}\n{code.rstrip()}\n{ticks}"

    def _admonition(self, node: nodes.Element) -> str:
        title = node.children[0] if node.children and isinstance(node.children[0], nodes.title) else None
        heading = self.inline(title) if title is not None else node.tagname.capitalize()
        body = self.blocks(node.children[1:] if title is not None else node.children)
        return self._quote(f"**{heading}**\n\n{body}")

    def _exercise(self, node: nodes.Element) -> str:
        number = self._number("exercise", node.get("ids", []))
        title = node.children[0] if node.children and isinstance(node.children[0], nodes.title) else None
        subtitle = ""
        if title is not None:
            subtitle = self.inline(title).strip()
            subtitle = subtitle[1:-1].strip() if subtitle.startswith("(") and subtitle.endswith(")") else subtitle
        heading = f"**Exercise {number}**" + (f" ({subtitle})" if subtitle else "")
        return heading + "\n\n" + self.blocks(node.children[1:] if title is not None else node.children)

    def _solution(self, node: nodes.Element) -> str:
        title = node.children[0] if node.children and isinstance(node.children[0], nodes.title) else None
        summary = " ".join(title.astext().split()) if title is not None else "Solution"
        body = self.blocks(node.children[1:] if title is not None else node.children)
        return f"<details>\n<summary>{summary}</summary>\n\n{body}\n\n</details>"

    def _table(self, node: nodes.table) -> str:
        rows = []
        for part in node.findall(lambda n: isinstance(n, (nodes.thead, nodes.tbody))):
            for row in part.children:
                rows.append([self.inline(entry).replace("|", "\\|").replace("\n", " ") for entry in row.children])
        if not rows:
            return ""
        width = max(len(r) for r in rows)
        rows = [r + [""] * (width - len(r)) for r in rows]
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
        lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        return "\n".join(lines)

    # -- inline --------------------------------------------------------------------------------

    @staticmethod
    def _text(text: str) -> str:
        return _ESCAPE.sub(r"\\\1", text.replace("\n", " "))

    def _url(self, node: nodes.Element) -> str:
        if node.get("refuri"):
            return urljoin(self.page_url, node["refuri"])
        if node.get("refid"):
            return f"{self.page_url}#{node['refid']}"
        return ""

    def inline(self, node: nodes.Node) -> str:
        if isinstance(node, nodes.Text):
            return self._text(node.astext())
        if node.tagname in SKIP:
            return ""
        children = "".join(self.inline(c) for c in node.children)
        classes = set(node.get("classes", []))
        if isinstance(node, nodes.math):
            return f"${node.astext().strip()}$"
        if isinstance(node, nodes.literal):
            code = node.astext()
            ticks = "``" if "`" in code else "`"
            pad = " " if ticks == "``" else ""
            return f"{ticks}{pad}{code}{pad}{ticks}"
        if isinstance(node, nodes.emphasis):
            return f"*{children}*" if children.strip() else children
        if isinstance(node, nodes.strong):
            return f"**{children}**" if children.strip() else children
        if isinstance(node, nodes.reference) or node.tagname == "number_reference":
            url = self._url(node)
            return f"[{children}]({url})" if url else children
        if "bibtex-citation" in classes:
            # "[Author, year]" and "Author [year]" on the website; parentheses in running text here.
            return re.sub(r"\\\[(.*?)\\\]", r"(\1)", children, flags=re.S)
        if isinstance(node, (nodes.inline, nodes.title, nodes.caption, nodes.abbreviation,
                             nodes.subscript, nodes.superscript, nodes.entry, nodes.paragraph,
                             nodes.term, nodes.line, nodes.generated, nodes.problematic)):
            if isinstance(node, nodes.subscript):
                return f"<sub>{children}</sub>"
            if isinstance(node, nodes.superscript):
                return f"<sup>{children}</sup>"
            return children
        if isinstance(node, nodes.image):
            return ""
        if isinstance(node, nodes.Element) and node.children and all(
                isinstance(c, (nodes.Text, nodes.Inline)) for c in node.children):
            return children
        self.unknown(node.tagname)
        return children
