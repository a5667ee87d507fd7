"""The whole book as one PDF, and links to it from the website (a local Sphinx extension).

Built by the LaTeX builder from the same sources and the same execution cache as the website::

    jupyter-book build --all -W -n --keep-going .                     # the website, first
    jupyter-book build --builder pdflatex -W -n --keep-going .        # then the PDF, into it

The second command writes ``_build/latex/<book_pdf_file>`` (XeLaTeX from Debian's TeX Live, see the
README) and copies it into ``_build/html/``, where every page links to it.

1. **LaTeX set-up** (``config-inited``, after sphinx-jupyterbook-latex): makeindex instead of xindy
   (xindy is one more TeX Live package for a one-page index of API names); notebook outputs that
   are HTML are rendered for LaTeX too (below); a generated file of glyph fallbacks is read in the
   preamble.
2. **jupyterBook.cls without bbm.** sphinx-jupyterbook-latex's document class loads ``bbm`` only
   to define ``\\RR``-style shortcuts (``\\mathbbm``) the book never uses; ``bbm.sty`` is in
   Debian's 500 MB ``texlive-fonts-extra``. The copy in the output loads amssymb's ``\\mathbb``
   instead.
3. **HTML tables in the PDF.** A cell that displays an HTML table (``IPython.display.HTML``) shows
   its table in the PDF, converted to a docutils table. Any other HTML output is a build warning:
   the PDF would silently lose it.
4. **Every glyph.** Before XeLaTeX runs, every non-ASCII character of the ``.tex`` file is looked up
   in the fonts it is set in (FreeSerif, FreeSans, FreeMono, found with fontconfig); a character
   missing from one of them is mapped (``newunicodechar``) to the first fallback font that has it
   (DejaVu, Latin Modern Math, Symbola). So a ``ᵀ``, ``𝓛`` or ``✅`` in a table prints instead of
   vanishing.
5. **The PDF.** At ``build-finished`` the extension runs the LaTeX Makefile (latexmk) itself, so
   that a LaTeX error, an unresolved reference or citation, or a missing glyph is a build warning
   (and the strict build fails), then copies the PDF into the HTML output.
6. **Links.** The download menu of every page offers the book's PDF (next to the theme's "print
   this page", which the print stylesheet turns into just the chapter); the role
   ``{book-pdf}`text``` links it from the prose.
"""

from __future__ import annotations

import posixpath
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging

logger = logging.getLogger(__name__)
WARN = {"type": "book_pdf", "subtype": "latex"}

# (not .tex: the LaTeX Makefile would compile every .tex file it finds)
GLYPH_FILE = "gdlinalg-glyphs.def"
#: The fonts Sphinx sets XeLaTeX text in (its default ``fontpkg``).
TEXT_FONTS = ("FreeSerif", "FreeSans", "FreeMono")
#: Where a missing glyph is looked for, in order.
FALLBACK_FONTS = ("DejaVu Sans", "DejaVu Sans Mono", "DejaVu Serif", "DejaVu Math TeX Gyre",
                  "Latin Modern Math", "Symbola")
#: Render text/html outputs in the LaTeX build, ahead of their text/plain repr (priority 60).
HTML_PRIORITY = ("latex", "text/html", 55)


# ------------------------------------------------------------------------------------------------
# 1. configuration
# ------------------------------------------------------------------------------------------------


def configure_latex(app: Sphinx, config: Config) -> None:
    config.latex_use_xindy = False
    elements = dict(config.latex_elements or {})
    elements["preamble"] = (elements.get("preamble", "") +
                            "\n\\usepackage{newunicodechar}\n"
                            f"\\IfFileExists{{{GLYPH_FILE}}}{{\\input{{{GLYPH_FILE}}}}}{{}}\n")
    config.latex_elements = elements
    overrides = list(config.nb_mime_priority_overrides or [])
    if HTML_PRIORITY not in overrides:
        overrides.append(HTML_PRIORITY)
    config.nb_mime_priority_overrides = overrides


# ------------------------------------------------------------------------------------------------
# 3. HTML tables
# ------------------------------------------------------------------------------------------------


def _cells(tr) -> list[str]:
    return [" ".join(c.get_text(" ").split()) for c in tr.find_all(["th", "td"])]


def html_table(html: str) -> nodes.table | None:
    """The one ``<table>`` in ``html`` as a docutils table, or None if there is not exactly one."""
    import bs4

    soup = bs4.BeautifulSoup(html, "html.parser")
    tables = soup.find_all("table")
    if len(tables) != 1:
        return None
    src = tables[0]
    head_rows = [_cells(tr) for tr in (src.thead.find_all("tr") if src.thead else [])]
    body_rows = [_cells(tr) for tr in src.find_all("tr") if tr.find_parent("thead") is None]
    if not head_rows and body_rows and all(c.name == "th" for c in src.find("tr").find_all(["th", "td"])):
        head_rows, body_rows = body_rows[:1], body_rows[1:]
    ncols = max((len(r) for r in head_rows + body_rows), default=0)
    if ncols == 0:
        return None
    table = nodes.table(classes=["colwidths-auto"])
    group = nodes.tgroup(cols=ncols)
    table += group
    for _ in range(ncols):
        group += nodes.colspec(colwidth=1)

    def section(cls, rows):
        part = cls()
        for cells in rows:
            row = nodes.row()
            for text in cells + [""] * (ncols - len(cells)):
                entry = nodes.entry()
                entry += nodes.paragraph(text, text)
                row += entry
            part += row
        return part

    if head_rows:
        group += section(nodes.thead, head_rows)
    group += section(nodes.tbody, body_rows)
    return table


class HtmlOutputsForLatex(SphinxPostTransform):
    """Notebook outputs that are HTML: a table becomes a table, anything else a warning."""

    default_priority = 150
    formats = ("latex",)

    def run(self, **kwargs: Any) -> None:
        for node in list(self.document.findall(nodes.raw)):
            if "html" not in node.get("format", "").split():
                continue
            table = html_table(node.astext())
            if table is None:
                logger.warning("[book_pdf] an HTML output other than one table cannot be shown "
                               "in the PDF; display it as a table, Markdown or an image",
                               location=node, **WARN)
                continue
            node.replace_self(table)


# ------------------------------------------------------------------------------------------------
# 4. glyphs
# ------------------------------------------------------------------------------------------------


def font_file(family: str) -> Path | None:
    """The file fontconfig picks for ``family``, if it really is that family."""
    try:
        out = subprocess.run(["fc-match", "-f", "%{family}\n%{file}", family], capture_output=True,
                             text=True, timeout=30).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return None
    if len(out) < 2 or family.lower() not in out[0].lower():
        return None
    return Path(out[1])


def _cmap(path: Path) -> set[int]:
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True, fontNumber=0) as font:
        return set(font.getBestCmap())


def glyph_fallbacks(text: str, fonts: dict[str, set[int]],
                    fallbacks: dict[str, set[int]]) -> tuple[dict[str, str], list[str]]:
    """Map each character of ``text`` missing from any of ``fonts`` to the first fallback family
    that has it: ``({char: family}, [characters no font has])``."""
    mapping, unfound = {}, []
    for char in sorted({c for c in text if ord(c) > 0x7F}):
        if all(ord(char) in cmap for cmap in fonts.values()):
            continue
        family = next((f for f, cmap in fallbacks.items() if ord(char) in cmap), None)
        if family is None:
            unfound.append(char)
        else:
            mapping[char] = family
    return mapping, unfound


def glyph_file(mapping: dict[str, str]) -> str:
    families = sorted(set(mapping.values()))
    names = {f: "\\gdlfallback" + "abcdefghijklmnopqrstuvwxyz"[i] for i, f in enumerate(families)}
    lines = ["% Generated by _ext/book_pdf.py: characters the text fonts lack, from fallback fonts."]
    lines += [f"\\newfontfamily{names[f]}{{{f}}}" for f in families]
    for char, family in sorted(mapping.items()):
        code = f'{ord(char):X}'
        glyph = f'{{{names[family]}\\char"{code}\\relax}}'
        lines.append(f"\\newunicodechar{{{char}}}{{\\ifmmode\\text{glyph}\\else{glyph}\\fi}}")
    return "\n".join(lines) + "\n"


def write_glyph_file(tex: Path) -> None:
    fonts = {f: _cmap(p) for f in TEXT_FONTS if (p := font_file(f))}
    missing = [f for f in TEXT_FONTS if f not in fonts]
    if missing:
        logger.warning(f"[book_pdf] fonts not found: {', '.join(missing)} "
                       "(apt-get install fonts-freefont-otf)", **WARN)
    fallbacks = {f: _cmap(p) for f in FALLBACK_FONTS if (p := font_file(f))}
    mapping, unfound = glyph_fallbacks(tex.read_text(encoding="utf-8"), fonts, fallbacks)
    for char in unfound:
        logger.warning(f"[book_pdf] no installed font has {char!r} (U+{ord(char):04X})", **WARN)
    (tex.parent / GLYPH_FILE).write_text(glyph_file(mapping), encoding="utf-8")
    if mapping:
        logger.info(f"[book_pdf] glyph fallbacks: "
                    + ", ".join(f"{c} -> {f}" for c, f in sorted(mapping.items())))


# ------------------------------------------------------------------------------------------------
# 2., 5. the PDF
# ------------------------------------------------------------------------------------------------

LOG_PROBLEMS = (
    (re.compile(r"^! (.*)$", re.M), "LaTeX error"),
    (re.compile(r"LaTeX Warning: (Reference `[^']*' on page \S+ undefined)"), "unresolved reference"),
    (re.compile(r"LaTeX Warning: (Citation `[^']*' on page \S+ undefined)"), "unresolved citation"),
    (re.compile(r"^(Missing character: There is no .*)$", re.M), "missing glyph"),
)


def log_problems(log: str) -> list[str]:
    """What in XeLaTeX's final log would make the PDF wrong."""
    out = []
    for pattern, what in LOG_PROBLEMS:
        out += [f"{what}: {m.group(1).strip()}" for m in pattern.finditer(log)]
    return list(dict.fromkeys(out))


def drop_bbm(cls: Path) -> None:
    if cls.is_file():
        text = cls.read_text(encoding="utf-8")
        cls.write_text(text.replace("\\RequirePackage{bbm}\n", "").replace("\\mathbbm", "\\mathbb"),
                       encoding="utf-8")


def make_pdf(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.name != "latex":
        return
    outdir = Path(app.outdir)
    texname = app.config.latex_documents[0][1]
    tex = outdir / texname
    pdf = tex.with_suffix(".pdf")
    if pdf.name != app.config.book_pdf_file:
        logger.warning(f"[book_pdf] latex_documents writes {pdf.name} but the website links "
                       f"{app.config.book_pdf_file} (book_pdf_file)", **WARN)
    drop_bbm(outdir / "jupyterBook.cls")
    write_glyph_file(tex)
    make = shutil.which("make")
    if make is None or shutil.which("latexmk") is None or shutil.which("xelatex") is None:
        logger.warning("[book_pdf] make, latexmk and xelatex are needed for the PDF "
                       "(see the README: apt-get install ... texlive-xetex latexmk)", **WARN)
        return
    logger.info(f"[book_pdf] running XeLaTeX (latexmk) on {tex.name} ...")
    proc = subprocess.run([make, "all-pdf", "LATEXMKOPTS=-silent -halt-on-error"], cwd=outdir,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    logfile = tex.with_suffix(".log")
    log = logfile.read_text(encoding="utf-8", errors="replace") if logfile.is_file() else ""
    problems = log_problems(log)
    if proc.returncode != 0 or not pdf.is_file():
        logger.warning(f"[book_pdf] XeLaTeX failed (exit {proc.returncode}); see {logfile}:\n"
                       + "\n".join(problems[:20] or [proc.stdout[-3000:]]), **WARN)
        return
    for problem in problems:
        logger.warning(f"[book_pdf] {problem} (see {logfile})", **WARN)
    html = outdir.parent / "html"
    if html.is_dir():
        shutil.copy2(pdf, html / app.config.book_pdf_file)
        logger.info(f"[book_pdf] {pdf.name} ({pdf.stat().st_size / 1e6:.1f} MB) copied to {html}")
    else:
        logger.info(f"[book_pdf] {pdf} written; build the website first to publish it with it")


# ------------------------------------------------------------------------------------------------
# 6. links
# ------------------------------------------------------------------------------------------------


def book_pdf_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``{book-pdf}`the whole book as a PDF``` -> a link to the PDF (absolute until written)."""
    config = inliner.document.settings.env.config
    node = nodes.reference(rawtext, text, refuri=(config.html_baseurl or "") + config.book_pdf_file,
                           classes=["gdl-book-pdf"])
    return [node], []


class RelativeBookPdfLinks(SphinxPostTransform):
    """On the website, the PDF link is relative, so that it works from any copy of the site."""

    default_priority = 150
    formats = ("html",)

    def run(self, **kwargs: Any) -> None:
        pdf = self.config.book_pdf_file
        rel = posixpath.relpath(pdf, posixpath.dirname(self.env.docname) or ".")
        for node in self.document.findall(nodes.reference):
            if "gdl-book-pdf" in node.get("classes", []):
                node["refuri"] = rel


def add_pdf_to_download_menu(app: Sphinx, pagename: str, templatename: str,
                             context: dict[str, Any], doctree: Any) -> None:
    pathto = context.get("pathto")
    if pathto is None:
        return
    for group in context.get("header_buttons", []):
        if group.get("label") != "download-buttons":
            continue
        buttons = group["buttons"]
        for b in buttons:
            if b.get("label") == "download-pdf-button":
                # The theme's "print to PDF": with the print stylesheet, just this chapter.
                b.update(text="Print chapter", tooltip="Print this chapter (or save it as PDF)",
                         icon="fas fa-print")
        buttons.append({"type": "link", "url": pathto(app.config.book_pdf_file, 1),
                        "text": "Book (PDF)", "tooltip": "The whole book as one PDF",
                        "icon": "fas fa-file-pdf", "label": "download-book-pdf-button"})


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("book_pdf_file", "book.pdf", "env")
    # After sphinx-jupyterbook-latex (default priority) has set up the LaTeX config.
    app.connect("config-inited", configure_latex, priority=900)
    app.add_post_transform(HtmlOutputsForLatex)
    app.add_post_transform(RelativeBookPdfLinks)
    app.add_role("book-pdf", book_pdf_role)
    app.connect("build-finished", make_pdf)
    # After sphinx-book-theme has built the download menu (priority 501).
    app.connect("html-page-context", add_pdf_to_download_menu, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
