"""The whole book as one PDF, and links to it from the website (a local Sphinx extension).

Built by the LaTeX builder from the same sources and the same execution cache as the website::

    jupyter-book build --all -W -n --keep-going .                     # the website, first
    jupyter-book build --builder pdflatex -W -n --keep-going .        # then the PDF, into it

The second command writes ``_build/latex/<book_pdf_file>`` (XeLaTeX from Debian's TeX Live, see the
README) and copies it into ``_build/html/``, where every page links to it.

1. **LaTeX set-up** (``config-inited``, after sphinx-jupyterbook-latex, which appends its own
   preamble): a generated file of glyph fallbacks is read in the preamble, and so is
   ``BOOK_PREAMBLE`` (10., 12. below). (``latex_use_xindy: false`` in ``_config.yml``: makeindex,
   since xindy is one more TeX Live package for a one-page index of API names.)
2. **jupyterBook.cls without bbm.** sphinx-jupyterbook-latex's document class loads ``bbm`` only
   to define ``\\RR``-style shortcuts (``\\mathbbm``) the book never uses; ``bbm.sty`` is in
   Debian's 500 MB ``texlive-fonts-extra``. The copy in the output loads amssymb's ``\\mathbb``
   instead.
3. (Chapters display their tables as Markdown, which the PDF sets as tables; no HTML output.)
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

The PDF reads like a book (issue: "The PDF reads like a book"). Each of the following touches the
LaTeX build only (post-transforms with ``formats = ("latex",)``, handlers that return for other
builders, LaTeX in ``latex_elements``); the website is built exactly as before.

7. **Title page.** The LaTeX title page prints Sphinx's ``release`` as "<releasename> <release>".
   The book's ``release`` stays empty (the website shows none), so at ``builder-inited`` the LaTeX
   builder's template context gets ``release = book_version`` (``CITATION.cff``, via
   ``_ext/book_release.py``) and ``releasename = "Version"``: the title page reads "Version 0.1.0"
   (and so does the running head, after the book's title).
8. **Exercise numbers as on the website.** sphinx-jupyterbook-latex sets ``numfig_secnum_depth``
   to 2 for a book with parts (so that LaTeX numbers figures per chapter), and sphinx-exercise
   numbers exercises from the environment's figure numbers, which that setting makes per section
   ("Exercise 1.9.1"). At ``env-get-updated``, after Sphinx has numbered everything, the LaTeX
   build numbers the enumerable nodes again with the website's depth (the value in
   ``_config.yml``, recorded at ``config-inited``): "Exercise 1.1", and every reference to it,
   as on the website. LaTeX's own counters (figures, tables, equations) keep jupyterbook-latex's
   setting, which already numbers them per chapter as the website does.
9. **Solutions at the end of the chapter** (post-transform ``SolutionsAtChapterEnd``). Each
   chapter's solutions move, in order, into a new section "Solutions" after the section that
   holds its exercises (before "Cite this chapter"); each exercise ends with "Solution: page N",
   a link to its solution (a ``raw`` LaTeX node: ``\\pageref`` has no docutils node). On the
   website nothing moves: the solutions stay folded under their exercises.
10. **Bibliography in the References chapter** (post-transforms ``MarkBibliography`` and
    ``BibliographyInPlace``). Sphinx's LaTeX writer collects every citation into one
    ``thebibliography`` at the end of the book ("Bibliography", numbered [1]-[42]);
    ``MarkBibliography`` marks where the ``{bibliography}`` directive was and
    ``BibliographyInPlace`` moves the list back there, each entry formatted author-year
    (``Golub, G. H. and Van Loan, C. F. (2013). Matrix Computations. ...``, the years lettered
    as in the text by ``_ext/gdlinalg_bibliography.py``). The preamble redefines
    ``sphinxthebibliography`` as a list with hanging indents and no labels (not a chapter of its
    own); the hyperlink targets ``cite.<id>`` of ``\\bibitem`` that the in-text citations link
    to are unchanged.
11. **No blank pages.** ``extraclassoptions: openany`` (``latex_elements`` in ``_config.yml``):
    chapters and parts start on the next page, not the next right-hand page, so no page is left
    blank (after the title page, the contents, a part's title page or a chapter).
12. **Tables.** In wide tables (notebook outputs of six to eight columns) ``tabulary`` squeezed
    short columns below the width of their words ("ma-trix", "momen-tum"). The preamble raises
    ``\\tymin``, the width below which tabulary does not squeeze a column, to
    ``TABLE_MIN_COLUMN`` (tabulary lowers it itself when the columns could not all have it); sets
    cells ragged right (tabulary's ``L`` for Sphinx's justified ``J``), where a line break between
    words costs nothing and a hyphen a lot (``\\hyphenpenalty`` 9000: only a word wider than its
    column is hyphenated); and forbids hyphens in header cells (``\\sphinxstyletheadfamily``).
13. **One heading font; a preface.** sphinx-jupyterbook-latex prints the root page's headings as
    bold serif lines (its ``RootHeader`` node). ``PrefaceHeadings`` turns them into rubrics at the
    same levels (``\\section*``, ``\\subsection*``), set in the chapters' heading font, and
    opens the root page's text with ``\\chapter*{Preface}`` (whose running heads say
    "Preface", not "Contents").
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


# ------------------------------------------------------------------------------------------------
# 1. configuration
# ------------------------------------------------------------------------------------------------


#: 7. The title page's line "Version <book_version>".
RELEASE_NAME = "Version"
#: 12. tabulary sets a column narrower than this at its natural width, and squeezes none below it
#: (unless the table's columns cannot all have it): wide enough for the words of a table's short
#: columns ("matrix", "momentum", "iterations").
TABLE_MIN_COLUMN = "5.5em"
#: 10., 12. LaTeX for the preamble (after sphinx.sty, whose definitions it adjusts).
BOOK_PREAMBLE = r"""
\makeatletter
% 10. The bibliography is a list in the References chapter: hanging indents, no [n] labels.
\renewenvironment{sphinxthebibliography}[1]{%
  \list{}{\leftmargin1.5em\itemindent-\leftmargin\labelwidth\z@\labelsep\z@
          \itemsep.35\baselineskip\parsep\z@}%
  \def\@biblabel##1{}%
  \sloppy\clubpenalty4000\@clubpenalty\clubpenalty\widowpenalty4000\sfcode`\.\@m}%
 {\def\@noitemerr{\@latex@warning{Empty `thebibliography' environment}}\endlist}
% 12. Tables: columns no narrower than their words; cells ragged right (tabulary's L for Sphinx's
% justified J: array.sty's definition of the column type T); a line break between words rather
% than a hyphen in a cell, and never a hyphen in a header cell.
\setlength{\tymin}{""" + TABLE_MIN_COLUMN + r"""}
\def\NC@rewrite@T{\NC@find L}
\let\gdl@attablestart\sphinxattablestart
\def\sphinxattablestart{\gdl@attablestart\hyphenpenalty9000 \exhyphenpenalty9000 }
\protected\def\sphinxstyletheadfamily{\sffamily\hyphenpenalty\@M\exhyphenpenalty\@M}
\makeatother
"""


def configure_latex(app: Sphinx, config: Config) -> None:
    elements = dict(config.latex_elements or {})
    elements["preamble"] = (elements.get("preamble", "") +
                            "\n\\usepackage{newunicodechar}\n"
                            f"\\IfFileExists{{{GLYPH_FILE}}}{{\\input{{{GLYPH_FILE}}}}}{{}}\n"
                            + BOOK_PREAMBLE)
    config.latex_elements = elements
    # 8. The website's depth of figure (and exercise) numbers, before jupyterbook-latex changes it.
    app._book_pdf_numfig_depth = config.numfig_secnum_depth


# ------------------------------------------------------------------------------------------------
# 7.-13. a book
# ------------------------------------------------------------------------------------------------


def title_page_version(app: Sphinx) -> None:
    """7. "Version <book_version>" on the title page (the LaTeX template's release line)."""
    if app.builder.name != "latex":
        return
    app.builder.context["release"] = app.config.book_version
    app.builder.context["releasename"] = RELEASE_NAME


def number_like_the_website(app: Sphinx, env: Any) -> list[str]:
    """8. Number figures, tables and exercises in the environment with the website's depth."""
    depth = getattr(app, "_book_pdf_numfig_depth", None)
    if app.builder.name != "latex" or depth is None or env.config.numfig_secnum_depth == depth:
        return []
    from sphinx.environment.collectors.toctree import TocTreeCollector

    latex_depth = env.config.numfig_secnum_depth
    env.config.numfig_secnum_depth = depth
    try:
        return TocTreeCollector().assign_figure_numbers(env)
    finally:
        env.config.numfig_secnum_depth = latex_depth


def _own(node: nodes.Element, cls: type) -> list[nodes.Element]:
    """The nodes of class ``cls`` in ``node``, in document order, but not those in an included
    document (a nested ``start_of_file``)."""
    from sphinx import addnodes

    found = []
    for child in node.children:
        if isinstance(child, cls):
            found.append(child)
        elif isinstance(child, nodes.Element) and not isinstance(child, addnodes.start_of_file):
            found += _own(child, cls)
    return found


class SolutionsAtChapterEnd(SphinxPostTransform):
    """9. Every chapter's solutions in a section "Solutions" after its exercises."""

    default_priority = 710   # after sphinx-exercise's titles (21) and jupyterbook-latex (700)
    formats = ("latex",)

    def run(self, **kwargs: Any) -> None:
        from sphinx import addnodes
        from sphinx_exercise.nodes import exercise_enumerable_node, solution_node

        registry = getattr(self.env, "sphinx_exercise_registry", {})
        exercises = {ex.get("label"): ex for ex in self.document.findall(exercise_enumerable_node)}
        # The book is one doctree, each chapter a start_of_file (whose children's .parent is still
        # the chapter's own document: walk down, not up).
        for chapter in list(self.document.findall(addnodes.start_of_file)):
            top = next((c for c in chapter.children if isinstance(c, nodes.section)), None)
            solutions = _own(top, solution_node) if top is not None else []
            if not solutions:
                continue
            # After the section of the chapter (a child of its top section) that holds the last one.
            anchor = solutions[-1]
            while anchor.parent is not None and anchor.parent is not top:
                anchor = anchor.parent
            section = nodes.section(ids=["gdl-solutions"], classes=["gdl-solutions"])
            section += nodes.title("Solutions", "Solutions")
            for sol in solutions:
                label = sol.get("label", "")
                docname = registry.get(label, {}).get("docname", chapter["docname"])
                target = f"{docname}:{label}"      # the \label sphinx-exercise gives the solution
                exercise = exercises.get(sol.get("target_label"))
                sol.parent.remove(sol)
                section += sol
                if exercise is not None and label:
                    ref = f"\\detokenize{{{target}}}"
                    link = (f"\\hyperref[{ref}]{{\\sphinxstyleemphasis{{Solution: "
                            f"page~\\pageref*{{{ref}}}}}}}")
                    exercise += nodes.paragraph("", "", nodes.raw("", link, format="latex"))
            if anchor.parent is top:
                top.insert(top.index(anchor) + 1, section)
            else:
                top += section


class MarkBibliography(SphinxPostTransform):
    """10. Mark where a ``{bibliography}`` put its citations, before Sphinx moves them away."""

    default_priority = 749   # sphinx.builders.latex.transforms.BibliographyTransform: 750
    formats = ("latex",)

    def run(self, **kwargs: Any) -> None:
        for citation in self.document.findall(nodes.citation):
            parent = citation.parent
            if isinstance(parent, nodes.container) and "gdl-bibliography" not in parent["classes"]:
                parent["classes"].append("gdl-bibliography")


def author_year_style():
    """10. pybtex's ``plain`` style with the year after the authors (the entries' ``year`` field
    is set aside in ``gdl_year`` by :func:`author_year_entry`)."""
    from pybtex.style.formatting.plain import Style
    from pybtex.style.template import field, join, names, sentence, words

    class AuthorYear(Style):
        default_name_style = "lastfirst"

        def format_names(self, role, as_sentence=True):
            formatted = names(role, sep=", ", sep2=" and ", last_sep=" and ")
            if role == "author" and as_sentence:
                return sentence[words[formatted, join["(", field("gdl_year"), ")"]]]
            return sentence[formatted] if as_sentence else formatted

    return AuthorYear(abbreviate_names=True)


def author_year_entry(entry):
    """A copy of a pybtex entry whose year prints after the authors, and nowhere else."""
    from pybtex.database import Entry

    fields = dict(entry.fields)
    fields["gdl_year"] = fields.get("year") or "n.d."
    fields["year"] = ""
    fields.pop("month", None)
    return Entry(entry.type, fields=fields, persons=entry.persons)


class BibliographyInPlace(SphinxPostTransform):
    """10. The bibliography back where the website has it, each entry author-year."""

    default_priority = 760
    formats = ("latex",)

    def run(self, **kwargs: Any) -> None:
        from pybtex.plugin import find_plugin
        from sphinx.builders.latex.nodes import thebibliography

        places = [c for c in self.document.findall(nodes.container)
                  if "gdl-bibliography" in c["classes"]]
        bibs = list(self.document.findall(thebibliography))
        if not places or not bibs:
            return
        domain = self.env.get_domain("cite")
        entries = {c.citation_id: c.entry for c in getattr(domain, "citations", [])}
        style, backend = author_year_style(), find_plugin("pybtex.backends", "docutils")()
        for bib in bibs:
            bib.parent.remove(bib)
            for citation in bib.children:
                entry = entries.get(citation["ids"][0] if citation["ids"] else None)
                paragraphs = [c for c in citation.children if isinstance(c, nodes.paragraph)]
                if entry is None or not paragraphs:
                    continue
                label = citation[0].astext()
                para = backend.paragraph(style.format_entry(label, author_year_entry(entry)))
                paragraphs[0].replace_self(para)
        places[0].replace_self(bibs)
        for place in places[1:]:
            place.parent.remove(place)


class PrefaceLevels(SphinxPostTransform):
    """13. The root page's sections numbered by their depth before jupyterbook-latex reads them.

    sphinx-jupyterbook-latex gives each section of a page a ``header_level``, but its counter goes
    up for every *sibling* section too, so the preface's sixth ``##`` heading came out at level 7
    and a seventh at 8, which LaTeX has no heading for. Recomputed here from the nesting (a ``##``
    section is level 2), just before its transform (priority 700) turns the titles into
    ``RootHeader`` nodes with these levels."""

    default_priority = 699
    formats = ("latex",)

    def run(self, **kwargs: Any) -> None:
        def assign(node: nodes.Node, depth: int) -> None:
            for child in node.children:
                if isinstance(child, nodes.section) and "header_level" in child:
                    child["header_level"] = depth
                    assign(child, depth + 1)
                elif isinstance(child, nodes.Element):
                    assign(child, depth)

        assign(self.document, 1)


class PrefaceHeadings(SphinxPostTransform):
    """13. The root page as a preface, its headings in the chapters' heading font."""

    default_priority = 705   # after jupyterbook-latex's LatexRootDocPostTransforms (700)
    formats = ("latex",)

    def run(self, **kwargs: Any) -> None:
        try:
            from sphinx_jupyterbook_latex.nodes import RootHeader
        except ImportError:
            return
        headers = list(self.document.findall(RootHeader))
        for header in headers:
            # Levels as in the chapters: 2 (a preface section) is \section*, 3 \subsection*, ...
            rubric = nodes.rubric("", "", *header.children, classes=["gdl-preface-heading"])
            rubric["heading-level"] = header["level"] + 1
            header.replace_self(rubric)
        root = next(iter(self.document.findall(nodes.section)), None)
        if root is not None and headers:
            title = 1 if root.children and isinstance(root[0], nodes.title) else 0
            root.insert(title, nodes.raw("", "\\chapter*{Preface}\\markboth{Preface}{Preface}\n",
                                         format="latex"))


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
        logger.info("[book_pdf] glyph fallbacks: "
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
    app.connect("builder-inited", title_page_version, priority=900)
    # After Sphinx's own numbering (TocTreeCollector, default priority).
    app.connect("env-get-updated", number_like_the_website, priority=900)
    app.add_post_transform(SolutionsAtChapterEnd)
    app.add_post_transform(MarkBibliography)
    app.add_post_transform(BibliographyInPlace)
    app.add_post_transform(PrefaceLevels)
    app.add_post_transform(PrefaceHeadings)
    app.add_post_transform(RelativeBookPdfLinks)
    app.add_role("book-pdf", book_pdf_role)
    app.connect("build-finished", make_pdf)
    # After sphinx-book-theme has built the download menu (priority 501).
    app.connect("html-page-context", add_pdf_to_download_menu, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
