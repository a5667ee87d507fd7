"""Book: the book as one PDF (issue 12): every chapter, numbered, with its computed numbers, the
bibliography and the tables of the website, built by the README's command after the website.
And it reads like a book: a title page with the version, the website's exercise numbers, the
solutions after the exercises of their chapter, the bibliography in the References chapter in
author-year style, no page blank but before a part or chapter, no "click" (_ext/book_pdf.py).

Self-contained: reads the session's one strict build (``tests/book_build.py``: the website, then the
PDF). Marked ``book``. Where the website links the PDF: ``tests/book/test_book.py`` (the download
menu) and ``tests/book/test_citation.py`` (``citation_pdf_url``).
"""

from __future__ import annotations

import re

import pytest
import yaml

from book_build import REPO, Build, notebook_docnames, toc_docnames

pytestmark = pytest.mark.book

bs4 = pytest.importorskip("bs4")
CONFIG = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))
PDF_NAME = CONFIG["sphinx"]["config"]["book_pdf_file"]
VERSION = str(yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))["version"])






NOTEBOOKS = notebook_docnames()


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


def latex_source(book) -> str:
    """The LaTeX the PDF was made from."""
    return (book.root / "_build" / "latex" / PDF_NAME.replace(".pdf", ".tex")).read_text(encoding="utf-8")


def test_tables_of_outputs_are_tables_in_the_pdf(book):
    """The chapters display their tables as Markdown: LaTeX tables, never an HTML repr."""
    tex = latex_source(book)
    assert "IPython.core.display.HTML object" not in tex
    assert "\\begin{tabulary}" in tex or "\\begin{longtable}" in tex or "\\begin{tabular}" in tex


# ------------------------------------------------------------------------------------------------
# The PDF reads like a book. Helpers take the PDF (pypdf) and the website's HTML, so that they can
# be tried on any build; the tests give them the session's.
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pages(pdf) -> list[str]:
    """The text of every page of the PDF, as extracted (lines kept)."""
    reader, _ = pdf
    return [page.extract_text() or "" for page in reader.pages]


def words(text: str) -> str:
    return " ".join(text.split())


def exercise_numbers(html: str) -> set[str]:
    """The numbers "N.M" of every "Exercise N.M" in a page's article (titles and references)."""
    article = bs4.BeautifulSoup(html, "html.parser").find("article")
    return set(re.findall(r"Exercise (\d+\.\d+)\b", words(article.get_text())))


def has_exercise(text: str, number: str) -> bool:
    """``text`` says "Exercise <number>", not as the start of a longer number (1.1 in 1.10)."""
    return re.search(rf"Exercise {re.escape(number)}(?!\.?\d)", text) is not None


#: A footer of the PDF: the page number (arabic or roman) with or without a chapter or section.
FOOTER = re.compile(r"(?:\d+|[ivxlc]+)(?:\s.{0,100})?|.{0,100}\s(?:\d+|[ivxlc]+)")


def is_blank(text: str, title: str) -> bool:
    """Nothing on the page but running heads: the header (the book's title, perhaps with the
    version) and the footer (the page number, perhaps with a chapter or section)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return len(lines) <= 2 and all(line.startswith(title) or FOOTER.fullmatch(line)
                                   for line in lines)


def outline_starts(reader) -> list[tuple[str, int]]:
    """(title, page index) of every part (outline level 0) and chapter (level 1), in order."""
    found = []

    def walk(items, depth):
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
            elif depth <= 1:
                found.append((item.title, reader.get_destination_page_number(item)))

    walk(reader.outline, 0)
    return found


def blank_pages_not_before_a_start(reader, texts: list[str], title: str) -> list[int]:
    """1-based numbers of the pages blank but for running heads (and without an image) whose next
    page does not start a part or chapter."""
    starts = {page for _, page in outline_starts(reader)}
    return [i + 1 for i, text in enumerate(texts)
            if is_blank(text, title) and (i + 1) not in starts and not reader.pages[i].images]


def chapter_texts(reader, texts: list[str], titles: list[str]) -> list[str]:
    """The text of each chapter, chapter k (1-based) being the k-th chapter of the outline, whose
    title must be ``titles[k - 1]``: its pages up to where the next part or chapter starts."""
    starts = outline_starts(reader)
    chapters = [(i, t) for i, (t, _) in enumerate(starts) if not re.match(r"[IVX]+\s", t)]
    out = []
    for title, (index, outline_title) in zip(titles, chapters):
        assert words(title) == words(outline_title), (title, outline_title)
        first = starts[index][1]
        end = starts[index + 1][1] if index + 1 < len(starts) else len(texts)
        out.append(words(" ".join(texts[first:max(end, first + 1)])))
    return out


def solutions_problems(chapter_text: str, chapter: int, count: int) -> list[str]:
    """What is wrong with the solutions of chapter ``chapter`` (``count`` exercises) in its text:
    each exercise and its solution there, every solution after every exercise."""
    problems = []
    if count == 0:
        return problems

    def at(pattern: str) -> list[int]:
        return [m.start() for m in re.finditer(pattern + r"(?!\.?\d)", chapter_text)]

    numbers = range(1, count + 1)
    heading = {m: at(rf"(?<!Solution to )Exercise {chapter}\.{m}") for m in numbers}
    solution = {m: at(rf"Solution to Exercise {chapter}\.{m}") for m in numbers}
    for m in numbers:
        if not heading[m]:
            problems.append(f"Exercise {chapter}.{m} is not in its chapter")
        if len(solution[m]) != 1:
            problems.append(f"Solution to Exercise {chapter}.{m}: {len(solution[m])} times")
    if problems:
        return problems
    last_exercise = max(positions[0] for positions in heading.values())
    first_solution = min(positions[0] for positions in solution.values())
    if first_solution < last_exercise:
        problems.append(f"a solution of chapter {chapter} comes before its last exercise")
    return problems


def author_year(entry) -> tuple[str, str]:
    """An entry's first author (last names, as printed) and year, as author-year lists have them."""
    from pybtex.richtext import Text

    people = entry.persons.get("author") or entry.persons.get("editor")
    last = Text.from_latex(" ".join(people[0].last_names)).render_as("text")
    return last, entry.fields.get("year", "n.d.")


def test_pdf_title_page_has_title_authors_and_version(pages):
    # Compared without spaces: pypdf guesses word spaces on the title page from the widths of the
    # font subset, which new glyphs elsewhere in the book change (poppler's pdftotext reads
    # "Matrix operations by gradient methods" where pypdf read "Matrixoperationsbygradientmethods").
    first = "".join(pages[0].split())
    for expected in (CONFIG["title"], CONFIG["author"], f"Version {VERSION}"):
        assert "".join(expected.split()) in first, (expected, pages[0])


def test_pdf_numbers_exercises_as_the_website(book, pdf):
    _, text = pdf
    assert not re.findall(r"Exercise \d+\.\d+\.\d+", text), "section-level exercise numbers"
    seen = set()
    for docname in toc_docnames()[1:]:
        numbers = exercise_numbers(book.page(docname))
        missing = sorted(n for n in numbers if not has_exercise(text, n))
        assert not missing, f"{docname}: the website's {missing} are not in the PDF"
        seen |= numbers
    assert seen, "no exercise on the website"


def test_pdf_collects_solutions_after_the_exercises_of_their_chapter(book, pdf, pages):
    reader, _ = pdf
    chapters = toc_docnames()[1:]
    texts = chapter_texts(reader, pages, [h1(book, d) for d in chapters])
    assert len(texts) == len(chapters)
    for number, (docname, chapter) in enumerate(zip(chapters, texts), start=1):
        count = len({n for n in exercise_numbers(book.page(docname)) if n.startswith(f"{number}.")})
        problems = solutions_problems(chapter, number, count)
        assert not problems, (docname, problems)


def test_pdf_has_the_bibliography_in_the_references_chapter_author_year(book, pdf, pages):
    from pybtex.database import parse_file

    reader, _ = pdf
    chapters = toc_docnames()[1:]
    texts = dict(zip(chapters, chapter_texts(reader, pages, [h1(book, d) for d in chapters])))
    refs = texts["book/references"]
    assert not re.findall(r"\[\d+\]", refs), "numeric labels in the bibliography"
    assert "Bibliography" not in [title for title, _ in outline_starts(reader)]
    cited = words(bs4.BeautifulSoup(book.page("book/references"), "html.parser").get_text())
    bib = parse_file(str(REPO / "references.bib"))
    for key, entry in bib.entries.items():
        title = re.sub(r"[{}]", "", entry.fields["title"]).replace("--", "–").split(":")[0]
        if title.lower() not in cited.lower():
            continue
        last, year = author_year(entry)
        # "Golub, G. H. and Van Loan, C. F. (2013).", "Wittmann, H. F. (2020c).": as the text's
        # "[Golub and Van Loan, 2013]"
        pattern = rf"{re.escape(last)}\b[^()]{{0,1500}}\({re.escape(year)}[a-z]?\)"
        assert re.search(pattern, refs), key


def test_pdf_has_no_blank_page_but_before_a_part_or_chapter(pdf, pages):
    reader, _ = pdf
    assert not blank_pages_not_before_a_start(reader, pages, CONFIG["title"])


def test_pdf_says_nothing_about_clicking(pdf):
    _, text = pdf
    found = re.search(r".{0,80}\bclick.{0,80}", text, re.I)
    assert found is None, found[0]


def test_preface_headings_are_sections_of_one_level(book):
    """Every ``##`` heading of the preface (the root page) is a ``\\section*`` in the PDF: one
    level, whatever their number (sphinx-jupyterbook-latex counted siblings as deeper levels, so a
    seventh heading had no LaTeX level and failed the build; ``PrefaceLevels`` in book_pdf.py)."""
    preface = latex_source(book).split("\\chapter*{Preface}", 1)[1].split("\\part", 1)[0]
    source = (book.root / "book" / "intro.md").read_text(encoding="utf-8")
    wanted = re.findall(r"^## (.+)$", source, re.M)
    found = {title: sub for sub, title in re.findall(r"\\((?:sub)*)section\*\{([^}]*)\}", preface)}
    assert len(wanted) >= 6 and all(title in found for title in wanted), (wanted, found)
    assert all(found[title] == "" for title in wanted), found
