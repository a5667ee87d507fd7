"""Book: the book as one PDF (issue 12): every chapter, numbered, with its computed numbers, the
bibliography and the tables of the website, built by the README's command after the website.

Self-contained: reads the session's one strict build (``tests/book_build.py``: the website, then the
PDF). Marked ``book``. Where the website links the PDF: ``tests/book/test_book.py`` (the download
menu) and ``tests/book/test_citation.py`` (``citation_pdf_url``).
"""

from __future__ import annotations

import re

import pytest
import yaml

from book_build import REPO, Build, session_build, toc_docnames

pytestmark = pytest.mark.book

bs4 = pytest.importorskip("bs4")
CONFIG = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))
PDF_NAME = CONFIG["sphinx"]["config"]["book_pdf_file"]


@pytest.fixture(scope="session")
def book(tmp_path_factory) -> Build:
    return session_build(tmp_path_factory)


def is_notebook(docname: str) -> bool:
    head = (REPO / f"{docname}.md").read_text(encoding="utf-8")[:400]
    return head.startswith("---") and "jupytext:" in head


NOTEBOOKS = [d for d in toc_docnames() if is_notebook(d)]


def h1(book: Build, docname: str) -> str:
    """The chapter's title as written, without the number the HTML build puts before it."""
    s = bs4.BeautifulSoup(book.page(docname), "html.parser")
    heading = s.find("article").find("h1")
    for number in heading.select(".section-number"):
        number.decompose()
    return " ".join(heading.get_text().replace("#", "").split())


@pytest.fixture(scope="module")
def pdf(book):
    from pypdf import PdfReader

    path = book.html / PDF_NAME
    assert path.is_file(), "the PDF build did not copy the PDF into the website"
    reader = PdfReader(path)
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    print(f"\n{PDF_NAME}: {len(reader.pages)} pages, {path.stat().st_size / 1e6:.2f} MB, "
          f"built in {book.pdf.seconds:.1f} s after the website")
    return reader, " ".join(text.split())


def test_pdf_has_every_chapter_numbered(book, pdf):
    reader, text = pdf
    assert len(reader.pages) > 50
    for docname in toc_docnames()[1:]:
        assert h1(book, docname) in text, docname
    # Chapters are numbered (LaTeX's \chapter, continuously through the parts of _toc.yml).
    outline = [o.title for o in reader.outline if not isinstance(o, list)]
    captions = [part["caption"] for part in yaml.safe_load((REPO / "_toc.yml").read_text())["parts"]]
    assert [re.sub(r"^[IVX]+\s+", "", t) for t in outline] == captions, outline
    # The table of contents numbers the chapters in the order of _toc.yml.
    for number, docname in enumerate(toc_docnames()[1:], start=1):
        title = re.escape(h1(book, docname))
        assert re.search(rf"\b{number}\s+{title}", text), (number, docname)


def test_pdf_shows_a_computed_number_from_every_chapter(book, pdf):
    _, text = pdf
    for docname in NOTEBOOKS:
        s = bs4.BeautifulSoup(book.page(docname), "html.parser")
        glued = [" ".join(el.get_text().split()) for el in s.select("article .pasted-text")]
        glued = [g for g in glued if len(g) >= 3]
        if not glued:
            continue
        assert any(g in text for g in glued), f"{docname}: none of {glued[:5]} in the PDF"


def test_pdf_has_the_bibliography_and_no_unresolved_reference(book, pdf):
    from pybtex.database import parse_file

    _, text = pdf
    assert "??" not in text
    bib = parse_file(str(REPO / "references.bib"))
    refs = bs4.BeautifulSoup(book.page("book/references"), "html.parser")
    cited = {a["id"] for a in refs.select("[id]")}
    assert cited
    for key, entry in bib.entries.items():
        title = re.sub(r"[{}]", "", entry.fields["title"]).replace("--", "–").split(":")[0]
        if title.lower() in " ".join(refs.get_text().split()).lower():
            assert title.split()[0] in text, key
    assert "Bibliography" in text or "References" in text


def test_html_tables_of_outputs_are_tables_in_the_pdf(book):
    tex = (book.root / "_build" / "latex" / PDF_NAME.replace(".pdf", ".tex")).read_text(encoding="utf-8")
    assert "IPython.core.display.HTML object" not in tex
    assert "\\begin{tabulary}" in tex or "\\begin{longtable}" in tex or "\\begin{tabular}" in tex
