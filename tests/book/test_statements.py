"""Book: what keeps wrong statements out of the chapters — numbers in figure captions and alt texts
come from the computation, glued numbers read as prose, and no sentence stutters.

A measured number in the prose is glued from the code that computed it and guarded by a hidden
assert (``tests/book/test_chapter_code.py``). Captions and alt texts are cell metadata, where glue
cannot reach, so a number written there is checked here against the values the chapter glues: when
the computation moves, the caption that quotes it fails instead of silently disagreeing with its
figure. Marked ``book``: read from the session's one strict build.
"""

from __future__ import annotations

import json
import math
import re

import pytest

from book_build import REPO, notebook_docnames, plain_text

jupytext = pytest.importorskip("jupytext")

CHAPTERS = notebook_docnames()

#: A number as written in prose or TeX: "0.87", "−0.70", "1.2e-6", "1.2 \\times 10^{-6}", "49.7 %",
#: "25 percent". The exponent forms are read together with their mantissa.
NUMBER = re.compile(
    r"(?<![\w.^{])(?P<sign>[-−])?(?P<mantissa>\d+(?:,\d{3})*(?:\.\d+)?)"
    r"(?:(?:e|E)(?P<exp>[-−+]?\d+)|\s*\\times\s*10\^\{?(?P<texexp>[-−]?\d+)\}?)?"
    r"(?P<percent>\s*(?:%|\\%|percent))?")


def written_numbers(text: str) -> list[tuple[str, float, float]]:
    """(as written, value, half a unit of its last written digit) for every number in ``text``
    that states a measurement: one with decimals, a mantissa other than 1 before a power of ten,
    or a percentage. Plain integers and powers of ten (sizes, counts, orders of magnitude) are
    parameters or are checked where they are computed."""
    found = []
    for m in NUMBER.finditer(text):
        mantissa = m.group("mantissa").replace(",", "")
        exp = m.group("exp") or m.group("texexp")
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        if not (decimals or m.group("percent") or (exp is not None and float(mantissa) != 1)):
            continue
        scale = 10.0 ** int(exp.replace("−", "-")) if exp is not None else 1.0
        if m.group("percent"):
            scale /= 100
        value = float(mantissa) * scale * (-1 if m.group("sign") else 1)
        found.append((m.group(0).strip(), value, 0.5 * 10.0 ** -decimals * scale))
    return found


def numbers_in(text: str) -> list[float]:
    """Every number in a glued value's text or a code cell, as a float."""
    values = []
    for token in re.findall(r"[-−]?\d+(?:,\d{3})*(?:\.\d+)?(?:[eE][-+−]?\d+)?", text):
        try:
            values.append(float(token.replace(",", "").replace("−", "-")))
        except ValueError:
            pass
    return values


def glued_values(book, docname: str) -> list[float]:
    path = book.root / "_build" / "jupyter_execute" / f"{docname}.glue.json"
    values = []
    if not path.exists():        # a chapter that glues nothing
        return values
    for output in json.loads(path.read_text(encoding="utf-8")).values():
        text = output.get("data", {}).get("text/plain", "")
        values.extend(numbers_in(text.strip("'\"")))
    return values


def figure_texts(docname: str) -> list[tuple[str, str, str]]:
    """(figure name, "caption" or "alt", text) of every figure a chapter's code cells make."""
    texts = []
    for cell in jupytext.read(REPO / f"{docname}.md").cells:
        meta = cell.metadata.get("mystnb", {})
        name = meta.get("figure", {}).get("name", "?")
        for kind, text in (("caption", meta.get("figure", {}).get("caption")),
                           ("alt", meta.get("image", {}).get("alt"))):
            if text:
                texts.append((name, kind, text))
    return texts


def code_literals(docname: str) -> list[float]:
    return [v for cell in jupytext.read(REPO / f"{docname}.md").cells if cell.cell_type == "code"
            for v in numbers_in(cell.source)]


def unsupported_numbers(texts, glued, literals):
    """The numbers of ``texts`` that equal no glued value at the precision written and no literal."""
    bad = []
    for name, kind, text in texts:
        for written, value, half_unit in written_numbers(text):
            candidates = glued + literals
            if written.endswith(("%", "percent")):    # a percentage may be glued as 0.497 or as 49.7
                candidates = candidates + [c / 100 for c in candidates]
            # Written to d digits: the value rounds to what is written.
            if not any(abs(c - value) <= half_unit * (1 + 1e-9) for c in candidates):
                bad.append(f"{name} ({kind}): {written!r}")
    return bad


@pytest.mark.book
@pytest.mark.parametrize("docname", CHAPTERS)
def test_numbers_in_captions_and_alt_texts_are_computed(book, docname):
    """A measurement quoted in a figure's caption or alt text equals a value the chapter glues (or a
    literal of its code), at the precision written."""
    bad = unsupported_numbers(figure_texts(docname), glued_values(book, docname), code_literals(docname))
    assert not bad, f"{docname}: numbers no code computed (glue them, or fix the text): {bad}"


def test_caption_check_reads_numbers_as_written():
    assert [w for w, _, _ in written_numbers("near 1.2e-6, about 25 percent, 49.7 %, $10^{-8}$, n = 500")] \
        == ["1.2e-6", "25 percent", "49.7 %"]
    (_, value, half), = written_numbers(r"an angle of −0.70 rad")
    assert value == -0.70 and math.isclose(half, 0.005)
    (_, value, _), = written_numbers(r"a residual of $3.5 \times 10^{-7}$")
    assert math.isclose(value, 3.5e-7)
    texts = [("fig-x", "alt", "errors near 2e-6, a quarter (25 percent) at rank 1, angle 0.87")]
    # Fig. 5.1's alt said "near 2e-6" where the data gave 1.2e-6; Fig. 11.3's said 25 where it was 49.7 %.
    assert unsupported_numbers(texts, glued=[1.2e-6, 0.497, 0.874], literals=[]) == \
        ["fig-x (alt): '2e-6'", "fig-x (alt): '25 percent'"]
    assert unsupported_numbers(texts, glued=[2.04e-6, 0.2512, 0.866], literals=[]) == []


# ------------------------------------------------------------------------------------------------
# the prose
# ------------------------------------------------------------------------------------------------

#: A glued number printed the way a program prints it, not the way a sentence says it: zero as
#: "0.00", a padded or signed exponent ("3e-05", "1e+06"), "nan".
PROGRAM_OUTPUT = re.compile(r"^[-−]?(?:0\.0+|0(?:\.0+)?e-?\d+|\d+(?:\.\d+)?e(?:\+\d+|-0\d+|0)|nan|inf)$", re.I)
#: The same word twice ("The The matrix inverse ..."), outside mathematics and code.
DOUBLED = re.compile(r"\b([A-Za-z]{2,})\s+\1\b", re.I)


def prose_nodes(book, docname):
    """The chapter's text, code and mathematics each replaced by a placeholder (so that "at `lr=1`
    at" is not read as "at at"), without code cells, their output, tables or scripts."""
    art = book.article(docname)
    for tag in art.select("pre, table, .cell_output, script"):
        tag.decompose()
    for tag in art.select("code, .math, math, mjx-container"):
        tag.replace_with(" ⟨formula⟩ ")
    return art


@pytest.mark.book
@pytest.mark.parametrize("docname", CHAPTERS)
def test_glued_numbers_read_as_prose(book, docname):
    """No "0.00" for a small angle, no "1e+06" for a million: a glued number is formatted for the
    sentence it sits in."""
    pasted = [plain_text(span).strip() for span in book.article(docname).select(".pasted-text")]
    bad = [text for text in pasted if PROGRAM_OUTPUT.match(text)]
    assert not bad, f"{docname}: glued numbers printed like program output: {bad}"


@pytest.mark.book
@pytest.mark.parametrize("docname", CHAPTERS)
def test_no_doubled_words(book, docname):
    """Link text built from a whole chapter title once gave "The The matrix inverse ..." ."""
    text = " ".join(plain_text(prose_nodes(book, docname)).split())
    bad = [text[max(0, m.start() - 40): m.end() + 40] for m in DOUBLED.finditer(text)]
    assert not bad, f"{docname}: doubled words: {bad}"


def test_prose_checks_catch_the_reviewed_examples():
    assert PROGRAM_OUTPUT.match("0.00") and PROGRAM_OUTPUT.match("1e+06") and PROGRAM_OUTPUT.match("1.0e+06")
    assert PROGRAM_OUTPUT.match("2e-07") and PROGRAM_OUTPUT.match("0.0e+00") and PROGRAM_OUTPUT.match("0.0e0")
    assert not PROGRAM_OUTPUT.match("0.56") and not PROGRAM_OUTPUT.match("1e6") and not PROGRAM_OUTPUT.match("2e-7")
    assert DOUBLED.search("The The matrix inverse by the blog's recipe chapter uses")
    assert not DOUBLED.search("the theory")


# ------------------------------------------------------------------------------------------------
# chapter numbers written in link text follow the table of contents
# ------------------------------------------------------------------------------------------------

#: A link whose text names a chapter by number: {doc}`chapter 9 <svd-methods>`, {doc}`Chapter 10's <x>`.
CHAPTER_LINK = re.compile(r"\{doc\}`[Cc]hapters? (\d+)(?:'s)?\s*<([^>]+)>`")


def chapter_numbers() -> dict[str, int]:
    """The number of every chapter, as the book prints it: numbered parts count on across parts."""
    import yaml

    toc = yaml.safe_load((REPO / "_toc.yml").read_text(encoding="utf-8"))
    numbered = [entry["file"].split("/")[-1] for part in toc["parts"] if part.get("numbered")
                for entry in part["chapters"]]
    return {name: i for i, name in enumerate(numbered, start=1)}


def misnumbered_links(source: str, numbers: dict[str, int]) -> list[str]:
    return [m.group(0) for m in CHAPTER_LINK.finditer(source)
            if numbers.get(m.group(2).split("#")[0].strip()) != int(m.group(1))]


@pytest.mark.parametrize("docname", CHAPTERS)
def test_chapter_numbers_in_links_follow_the_toc(docname):
    """A chapter inserted or split renumbers those after it; a link that says 'chapter 9' must
    still lead to chapter 9."""
    source = (REPO / f"{docname}.md").read_text(encoding="utf-8")
    wrong = misnumbered_links(source, chapter_numbers())
    assert not wrong, f"{docname}: link text names another chapter's number: {wrong}"


def test_chapter_number_check_catches_a_stale_number():
    numbers = {"svd-methods": 9, "svd-jacobi": 10}
    assert misnumbered_links("see {doc}`chapter 9 <svd-methods>` and {doc}`Chapter 10's <svd-jacobi>`",
                             numbers) == []
    assert misnumbered_links("{doc}`chapter 9's <svd-jacobi>`", numbers) == ["{doc}`chapter 9's <svd-jacobi>`"]
    assert chapter_numbers()["tensors"] == 1
