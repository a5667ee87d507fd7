"""Book: one strict build of the book per session, assertions on its HTML, and builds that must
fail.

Everything here is marked ``book`` (slow); deselect with ``pytest -m "not book"``.
"""

from __future__ import annotations

import importlib.util
import json
import re
import statistics
import shutil
from pathlib import Path

import pytest
import yaml

import book_stats
from book_build import (REPO, article, build, build_failure, copy_book, is_notebook, notebook_docnames,
                        the_build, toc_docnames)

pytestmark = pytest.mark.book

bs4 = pytest.importorskip("bs4")


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------




def soup(html: str):
    return bs4.BeautifulSoup(html, "html.parser")


def load_ext():
    spec = importlib.util.spec_from_file_location("gdlinalg_book", REPO / "_ext" / "gdlinalg_book.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")


def cited_keys() -> set[str]:
    keys: set[str] = set()
    for docname in toc_docnames():
        for group in CITE.findall((REPO / f"{docname}.md").read_text(encoding="utf-8")):
            keys.update(k.strip() for k in group.split(","))
    return keys


# ------------------------------------------------------------------------------------------------
# the session build
# ------------------------------------------------------------------------------------------------




def test_the_book_builds(tmp_path_factory):
    """The README's build command (website, then PDF) succeeds. When it does not, this is the one
    test that fails, naming the chapter, the cell, the line and the message; every other book test
    skips with that reason."""
    problem = build_failure(the_build(tmp_path_factory))
    assert not problem, problem


def test_build_has_zero_warnings(book):
    """No WARNING line at all, in the website's and the PDF's build logs (the kernels' transport
    is encrypted, so ipykernel's "running over TCP without encryption" has no cause either)."""
    for log in (book.log, book.pdf.log):
        assert "build succeeded" in log, log[-3000:]
        assert not re.search(r"\bWARNING\b", log), log[-6000:]


def test_the_build_ends_by_saying_where_things_are(book):
    """The last lines of each build (_ext/build_summary.py): the website, the PDF, the notebooks,
    and how to serve the site (search needs HTTP) — not Jupyter Book's "_build/latex" and "Run
    'make'", which point at the wrong place."""
    for b, first in ((book, "The website is built."), (book.pdf, "The PDF is built.")):
        log = b.log
        tail = "\n".join(b.stdout.rstrip().splitlines()[-15:])   # (stderr has the tools' own logs)
        assert first in tail, tail
        assert "website:    _build/html/index.html" in tail
        assert "python -m http.server --directory _build/html 8000" in tail
        assert "Run 'make'" not in log and "can be found at" not in log
    assert "PDF:        _build/html/gdlinalg.pdf" in book.pdf.log
    assert "notebooks:  _build/notebooks/" in book.pdf.log


def test_every_toc_page_exists(book):
    for docname in toc_docnames():
        assert (book.html / f"{docname}.html").is_file(), docname
    assert (book.html / "index.html").is_file()


def test_every_code_cell_was_executed_and_has_output(book):
    for docname in filter(is_notebook, toc_docnames()):
        nb = json.loads((book.root / "_build" / "jupyter_execute" / f"{docname}.ipynb").read_text())
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert code, docname
        assert all(c.get("execution_count") for c in code), f"{docname}: unexecuted cell"
        # Every page shows outputs, and every cell that ends in a print or a plot shows its output.
        with_output = [c for c in code if c.get("outputs")]
        assert with_output, docname
        for c in code:
            src = "".join(c["source"])
            if "plt.show()" in src or re.search(r"^print\(", src, re.M):
                assert c.get("outputs"), f"{docname}: no output for cell\n{src}"
        html = article(book.page(docname))
        assert html.select("div.cell_output"), docname


def test_no_error_output_or_traceback_anywhere(book):
    for page in book.html.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "Traceback (most recent call last)" not in text, page
        s = soup(text)
        assert not s.select(".output.error, .output.traceback, .output.stderr"), page
        assert not s.select(".cell_output .stderr, div.output.stream.stderr"), page
        assert "problematic" not in " ".join(" ".join(t.get("class", [])) for t in s.select("[class]")), page


def test_every_figure_has_alt_text(book):
    checked = 0
    for docname in toc_docnames():
        for img in article(book.page(docname)).find_all("img"):
            alt = (img.get("alt") or "").strip()
            assert alt and len(alt) > 20, f"{docname}: image {img.get('src')} without alt text"
            checked += 1
    assert checked >= 5


def test_figures_have_an_opaque_light_background(book):
    """Readable in the dark theme too: no transparent figure that would show dark-on-dark."""
    import matplotlib.image as mpimg

    images = sorted((book.html / "_images").glob("*.png"))
    assert images
    for png in images:
        pixels = mpimg.imread(png)
        corners = [pixels[0, 0], pixels[0, -1], pixels[-1, 0], pixels[-1, -1]]
        for px in corners:
            if len(px) == 4:
                assert px[3] > 0.99, f"{png.name}: transparent background"
            assert min(px[:3]) > 0.9, f"{png.name}: dark background {px}"


def test_figures_are_numbered_and_captioned(book):
    for docname, names in {"book/tensors": ["fig-broadcast", "fig-normal-draws"],
                           "book/derivatives": ["fig-sin-derivative", "fig-autograd-cost"]}.items():
        a = article(book.page(docname))
        for name in names:
            fig = a.find(id=name)
            assert fig is not None and fig.find("figcaption"), (docname, name)


def test_bibliography_lists_every_cited_work(book):
    from pybtex.database import parse_file

    bib = parse_file(str(REPO / "references.bib"))
    keys = cited_keys()
    assert {"paszke2019pytorch", "baydin2018automatic", "wittmann2020part1"} <= keys
    refs = " ".join(article(book.page("book/references")).get_text().split()).lower()
    for key in sorted(keys):
        assert key in bib.entries, f"cited key {key} is not in references.bib"
        title = re.sub(r"[{}]", "", bib.entries[key].fields["title"]).replace("--", "–")
        # (the bibliography style may change the case of titles)
        assert title.split(":")[0].lower() in refs, f"{key}: {title!r} missing from the bibliography"
    # In-text citations link to the bibliography page.
    assert 'href="references.html#' in book.page("book/derivatives")


def test_glued_numbers_are_in_the_prose(book):
    deriv = " ".join(article(book.page("book/derivatives")).get_text().split())
    assert "16807" in deriv and "36015" in deriv
    for docname in filter(is_notebook, toc_docnames()):
        source = (REPO / f"{docname}.md").read_text(encoding="utf-8")
        n_refs = len(re.findall(r"\{glue(?::text)?\}`", source))
        pasted = article(book.page(docname)).select(".pasted-text, .pasted-inline")
        assert len(pasted) >= n_refs, f"{docname}: {len(pasted)} of {n_refs} glued values shown"


def test_every_bibliography_entry_is_cited():
    from pybtex.database import parse_file

    entries = set(parse_file(str(REPO / "references.bib")).entries)
    uncited = entries - cited_keys()
    assert not uncited, f"entries no chapter cites (cite them or drop them): {sorted(uncited)}"
    assert ":all:" not in (REPO / "book" / "references.md").read_text(encoding="utf-8")


def test_bibliography_years_are_numbers_and_the_style_tells_them_apart(book):
    from pybtex.database import parse_file

    bib = parse_file(str(REPO / "references.bib"))
    assert all(e.fields["year"].isdigit() for e in bib.entries.values() if "year" in e.fields)
    intro = " ".join(article(book.page("book/intro")).get_text().split())
    labels = re.findall(r"Wittmann, (2020[a-z])", intro)
    assert len(labels) == len(set(labels)) >= 5, labels   # five different works, five labels
    refs = " ".join(article(book.page("book/references")).get_text().split())
    assert "Fernández del Río" in refs and "J. F. del Río" not in refs


def test_api_reference_is_generated_and_linked(book):
    api = book.page("book/api")
    for name in ("gdlinalg.inv", "gdlinalg.solve", "gdlinalg.svd", "gdlinalg.Result",
                 "gdlinalg.matrices.random_spd"):
        assert f'id="{name}"' in api, name
    assert 'href="api.html#gdlinalg.inv"' in book.page("book/derivatives")


CONFIG = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))
REPO_URL = CONFIG["repository"]["url"]
CFF = yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))


def launch_links(page: str) -> dict[str, str]:
    menu = soup(page).select_one(".dropdown-launch-buttons")
    assert menu is not None
    return {a.get_text(strip=True): a["href"] for a in menu.select("a")}


@pytest.mark.parametrize("docname", [d for d in toc_docnames() if is_notebook(d)])
def test_launch_buttons_open_the_notebook_of_the_page_s_own_sources(book, docname):
    owner, repo = REPO_URL.rstrip("/").split("/")[-2:]
    links = launch_links(book.page(docname))
    index = json.loads((book.root / "_build" / "notebooks" / "index.json").read_text())
    # The generated notebook, at the tag of the sources its install cell installs (the tag's name:
    # test_readers.py::test_every_notebook_chapter_has_a_notebook_with_an_install_cell).
    tag = index["tag"]
    assert links["Colab"] == (f"https://colab.research.google.com/github/{owner}/{repo}/blob/"
                              f"{tag}/{docname}.ipynb")
    assert links["Binder"] == f"https://mybinder.org/v2/gh/{owner}/{repo}/{tag}?urlpath=lab/tree/{docname}.ipynb"
    assert (book.root / "_build" / "notebooks" / f"{docname}.ipynb").is_file()
    assert (book.root / "_build" / "notebooks" / "binder" / "requirements.txt").is_file()


def test_download_menu_offers_the_book_pdf_and_printing(book):
    page = soup(book.page("book/tensors"))
    menu = page.select_one(".dropdown-download-buttons")
    texts = {el.get_text(strip=True): el for el in menu.select("a, button")}
    assert texts[".ipynb"]["href"] == "../_sources/book/tensors.ipynb"
    assert (book.html / "_sources" / "book" / "tensors.ipynb").is_file()
    assert texts["Book (PDF)"]["href"] == "../gdlinalg.pdf"
    assert (book.html / "gdlinalg.pdf").stat().st_size > 100_000
    assert "print" in texts["Print chapter"]["onclick"].lower()
    assert REPO_URL in book.page("book/tensors") and REPO_URL in book.page("book/intro")
    # The preface links the PDF too.
    intro = article(book.page("book/intro"))
    assert intro.select_one('a.gdl-book-pdf[href="../gdlinalg.pdf"]') is not None


@pytest.mark.parametrize("docname", toc_docnames())
def test_report_a_problem_names_the_page_and_the_version(book, docname):
    from urllib.parse import parse_qs, urlsplit

    link = next(a for a in soup(book.page(docname)).select("a.btn-source-issues-button"))
    assert link.get_text(strip=True) == "Report a problem"
    url = urlsplit(link["href"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == REPO_URL + "/issues/new"
    query = parse_qs(url.query)
    heading = article(book.page(docname)).find("h1")
    for number in heading.select(".section-number"):  # the title alone: numbers change
        number.decompose()
    title = " ".join(heading.get_text().replace("#", "").split())
    assert query["title"] == [f"Problem in “{title}” (version {CFF['version']})"]
    body = query["body"][0]
    assert f"{CFF['url']}{docname}.html" in body and f"**Book version:** {CFF['version']}" in body
    assert "(sources `v" in body or re.search(r"\(sources `[0-9a-f]{40}`\)", body)


def test_footer_year_is_the_release_year(book):
    for docname in ("book/intro", "book/tensors"):
        footer = " ".join(soup(book.page(docname)).select_one(".bd-footer-content .copyright").get_text().split())
        assert f"© Copyright {CFF['date-released'][:4]}." in footer, footer


def test_one_search_field_and_no_empty_top_bar(book):
    page = soup(book.page("book/tensors"))
    assert page.select_one(".navbar-persistent--container") is None
    assert len(page.select(".bd-sidebar-primary .search-button-field")) == 1
    assert 'data-default-mode="auto"' in book.page("book/tensors")


def test_reproducibility_page_has_versions_and_timings(book):
    text = " ".join(article(book.page("book/reproducibility")).get_text().split())
    assert "torch" in text and "jupyter-book" in text
    for docname in ("book/tensors", "book/derivatives"):
        assert docname in text  # a row of the execution table


# ------------------------------------------------------------------------------------------------
# a chapter a reader wants to read (issue 11)
# ------------------------------------------------------------------------------------------------

WORD_BUDGET = 2500        # words of prose: one sitting (DEVELOPERS.md)
MEDIAN_VISIBLE_LINES = 15  # median visible code cell
CHAPTERS = book_stats.chapters()


def test_reading_time_counts_prose_code_figures_and_equations():
    html = ('<article><h1>T</h1><p>one two three <span class="math">\\(x^2\\)</span></p>'
            '<div class="math">\\[y = x\\]</div>'
            '<div class="cell_input"><pre>print("not prose")\n\nx = 1</pre></div>'
            '<details><div class="cell_input"><pre>hidden = 2</pre></div></details>'
            '<div class="cell_output"><pre>output</pre></div>'
            '<div class="solution dropdown admonition"><p>hidden solution words</p></div>'
            '<section id="cite-this-chapter"><p>cite words</p></section>'
            '<figure><figcaption><p>Fig. 1.1 caption words</p></figcaption></figure></article>')
    # T, one, two, three, the two formulas (one word each), and the caption: Fig., 1.1, caption,
    # words; two visible lines of code (the one in <details> is not shown); one figure; one display.
    reading = book_stats.reading_time.measure(html)
    assert reading == book_stats.reading_time.Reading(words=10, code_lines=2, figures=1, equations=1)
    Reading = book_stats.reading_time.Reading
    # minutes = words/100 + code lines/6 + figures + equations/2, rounded up to 5 (at least 5)
    assert Reading(2320, 153, 5, 9).minutes == 60          # 23.2 + 25.5 + 5 + 4.5 = 58.2
    assert Reading(1000, 60, 0, 0).minutes == 20           # exactly 20: not rounded up to 25
    assert Reading(1001, 60, 0, 0).minutes == 25
    assert Reading(10, 0, 0, 0).minutes == 5
    line = book_stats.reading_time.reading_time_html(Reading(2500, 153, 1, 9))
    assert "about 60 minutes (2,500 words of prose, 153 lines of code, 1 figure)" in line
    assert 'data-words="2500"' in line and 'data-code-lines="153"' in line


@pytest.mark.parametrize("docname", CHAPTERS)
def test_chapter_is_one_sitting_and_says_how_long(book, docname):
    a = article(book.page(docname))
    reading = book_stats.reading_time.measure(book.page(docname))
    assert reading.words <= WORD_BUDGET, f"{docname}: {reading.words} words of prose (budget {WORD_BUDGET})"
    line = a.find("p", class_="gdl-reading-time")
    assert line is not None, f"{docname}: no reading time"
    assert line.find_previous_sibling() is not None and line.find_previous_sibling().name == "h1"
    # the numbers on the page are the tested numbers, and the minutes follow the formula
    shown = book_stats.reading_time.Reading(int(line["data-words"]), int(line["data-code-lines"]),
                                            int(line["data-figures"]), int(line["data-equations"]))
    assert shown == reading, (docname, shown, reading)
    assert int(line["data-minutes"]) == reading.minutes
    assert f"about {reading.minutes} minutes ({reading.words:,} words of prose" in line.get_text()


def test_reference_pages_have_no_reading_time(book):
    for docname in ("book/intro", "book/api", "book/glossary", "book/references"):
        assert 'class="gdl-reading-time"' not in book.page(docname), docname


@pytest.mark.parametrize("docname", CHAPTERS)
def test_visible_code_is_short_and_bookkeeping_hidden(book, docname):
    source = (REPO / f"{docname}.md").read_text(encoding="utf-8")
    lines = book_stats.visible_code_lines(source)
    assert lines and statistics.median(lines) <= MEDIAN_VISIBLE_LINES, (docname, lines)
    # No glue(...) or assert in any code a reader can see or open (hidden-input cells included).
    for cell in article(book.page(docname)).select("div.cell_input"):
        code = cell.get_text()
        assert "glue(" not in code, f"{docname}: visible glue\n{code}"
        assert not re.search(r"^\s*assert\b", code, re.M), f"{docname}: visible assert\n{code}"


def test_bookkeeping_detector_sees_tags():
    source = ("```{code-cell} ipython3\nx = 1\n```\n"
              "```{code-cell} ipython3\n:tags: [remove-cell]\nglue('x', x)\n```\n"
              "```{code-cell} ipython3\n---\ntags: [hide-input]\nmystnb:\n  image:\n    alt: a\n---\n"
              "plot()\nplot()\n```\n"
              "```{code-cell} ipython3\n---\nmystnb:\n  markdown_format: gfm\n---\na = 1\nb = 2\n```\n")
    assert book_stats.visible_code_lines(source) == [1, 2]


def test_no_page_renders_raw_tex(book):
    assert book_stats.raw_tex("<article><p>a <span class=\"math\">\\(\\kappa\\)</span></p></article>") == []
    assert book_stats.raw_tex("<article><p>SGD, \\eta_* and $U\\in\\mathrm{St}(m,k)$</p></article>")
    checked = 0
    for page in book.html.rglob("*.html"):
        if page.parent.name == "_static" or "_modules" in page.parts:
            continue
        found = book_stats.raw_tex(page.read_text(encoding="utf-8"))
        assert not found, f"{page.relative_to(book.html)} shows raw TeX: {found[:5]}"
        checked += 1
    assert checked >= len(CHAPTERS)


@pytest.mark.parametrize("docname", CHAPTERS)
def test_figures_and_exercises_are_numbered_per_chapter(book, docname):
    a = article(book.page(docname))
    number = a.find("h1").find("span", class_="section-number").get_text().strip().rstrip(".")
    captions = [" ".join(c.get_text().split()) for c in a.select("figure figcaption")]
    for i, caption in enumerate(c for c in captions if c.startswith("Fig.")):
        assert caption.startswith(f"Fig. {number}.{i + 1} "), (docname, caption)
    titles = [" ".join(t.get_text().split()) for t in a.select(".exercise p.admonition-title")]
    assert titles and all(t.startswith(f"Exercise {number}.{i + 1}") for i, t in enumerate(titles)), titles


@pytest.mark.parametrize("docname", CHAPTERS)
def test_exercises_derive_predict_and_hide_solutions(book, docname):
    a = article(book.page(docname))
    exercises, solutions = a.select(".exercise"), a.select(".solution")
    assert len(exercises) >= 4, f"{docname}: {len(exercises)} exercises"
    assert len(solutions) == len(exercises) and all("dropdown" in s["class"] for s in solutions)
    titles = [" ".join(e.select_one("p.admonition-title").get_text().split()) for e in exercises]
    assert any("(Predict, then run)" in t for t in titles), titles
    assert any("(Derivation)" in t or "(Open question)" in t for t in titles), titles


def test_every_glossary_term_is_used_and_defined_once():
    terms = book_stats.glossary_terms()
    assert len(terms) == len(set(terms)) >= 40
    sources = " ".join((REPO / f"{d}.md").read_text(encoding="utf-8") for d in toc_docnames())
    linked = set(re.findall(r"\{term\}`(?:[^`<]*<)?([^`>]+)>?`", sources))
    assert set(terms) <= linked, f"glossary terms never linked: {sorted(set(terms) - linked)}"


@pytest.mark.parametrize("docname", CHAPTERS)
def test_glossary_terms_are_linked_at_first_use(book, docname):
    missing = book_stats.first_uses_unlinked(book.page(docname), book_stats.glossary_terms())
    assert not missing, f"{docname}: first use not linked to the glossary: {missing}"


def test_first_use_detector():
    html = ("<article><p>The <a href=\"toolkit.html\">condition number chapter</a> and the "
            "<a href=\"glossary.html#term-condition-number\">condition number</a>, and Hilbert "
            "matrices.</p><p>A <a href=\"glossary.html#term-Hilbert-matrix\">Hilbert matrix</a>.</p>"
            "</article>")
    assert book_stats.first_uses_unlinked(html, ["condition number", "Hilbert matrix"]) == ["Hilbert matrix"]


# ------------------------------------------------------------------------------------------------
# strictness: a deliberately broken copy of the book must fail
# ------------------------------------------------------------------------------------------------

BREAKAGES = {
    "failing cell": ("book/derivatives.md",
                     "\n```{code-cell} ipython3\n:tags: [remove-cell]\nx = 1\n"
                     "assert x == 2, 'deliberate failure: the claim it guards'\n```\n",
                     "deliberate failure"),
    "warning in a cell": ("book/tensors.md",
                          "\n```{code-cell} ipython3\nimport warnings\nwarnings.warn('deliberate warning')\n```\n",
                          "stderr was found in the cell outputs"),
    "broken cross-reference": ("book/intro.md", "\nSee {ref}`no-such-label-anywhere`.\n",
                               "no-such-label-anywhere"),
    "unknown citation key": ("book/intro.md", "\nAs shown by {cite:p}`nosuchkey2099`.\n", "nosuchkey2099"),
}


def _fatal(breakage: str) -> bool:
    """A failing cell stops the build where it is (``raise_on_error``), so later pages are never
    read: it gets a copy of its own. The others are warnings, all reported by one --keep-going build."""
    return breakage == "failing cell"


@pytest.fixture(scope="module")
def broken_builds(book, tmp_path_factory):
    """Builds of broken copies of the book (one with the failing cell, one with every warning),
    reusing the session build's execution cache, so that only the broken pages execute again."""
    made = {}

    def get(fatal: bool):
        if fatal not in made:
            root = copy_book(tmp_path_factory.mktemp("broken"), cache_from=book.root / "_build" / ".jupyter_cache")
            for name, (path, addition, _) in BREAKAGES.items():
                if _fatal(name) == fatal:
                    with open(root / path, "a", encoding="utf-8") as fh:
                        fh.write(addition)
            made[fatal] = build(root)
        return made[fatal]
    return get


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_broken_copy_fails_the_build(broken_builds, breakage):
    path, _, needle = BREAKAGES[breakage]
    result = broken_builds(_fatal(breakage))
    assert result.returncode != 0, f"{breakage}: the broken copy built\n{result.log[-3000:]}"
    if _fatal(breakage):                 # reported in one line: chapter, cell, line, message
        first = build_failure(result).splitlines()[0]
        assert re.fullmatch(r"book/derivatives: code cell \d+, line 2: AssertionError: "
                            r"deliberate failure: the claim it guards", first), first
    else:
        # Each is a warning of its own page (which -W turns into the failure), not merely the
        # needle echoed somewhere in the log.
        reported = [line for line in result.log.splitlines()
                    if needle in line and f"{path}:" in line and "WARNING" in line]
        assert reported, f"{breakage}: not reported as a warning of {path}\n{result.log[-4000:]}"


# ------------------------------------------------------------------------------------------------
# no stale outputs: the execution cache is keyed on the package sources
# ------------------------------------------------------------------------------------------------


def test_source_hash_changes_with_the_package(tmp_path, monkeypatch):
    ext = load_ext()
    pkg = tmp_path / "toypkg_hash"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("VALUE = 1\n")
    (pkg / "sub" / "mod.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    first = ext.source_hash(["toypkg_hash"])
    assert first == ext.source_hash(["toypkg_hash"])  # deterministic
    (pkg / "sub" / "__pycache__").mkdir()
    (pkg / "sub" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"junk")
    assert ext.source_hash(["toypkg_hash"]) == first  # bytecode is not source
    (pkg / "sub" / "mod.py").write_text("X = 2\n")
    assert ext.source_hash(["toypkg_hash"]) != first  # any source change is a new key
    assert len(first) == ext.KEY_LENGTH and int(first, 16) >= 0
    # The book's own key covers gdlinalg.
    assert ext.package_dirs("gdlinalg", REPO)


def test_external_references_resolve_offline():
    """torch/matplotlib/numpy/stdlib names in docstrings link out; anything else stays an error."""
    from docutils import nodes

    ext = load_ext()

    def resolve(target, reftype="class"):
        node = {"refdomain": "py", "reftarget": target, "reftype": reftype}
        ref = ext.external_reference(None, None, node, nodes.literal(text=target))
        return None if ref is None else ref["refuri"]

    assert resolve("torch.linalg.solve", "func") == "https://pytorch.org/docs/stable/generated/torch.linalg.solve.html"
    assert resolve("torch.Tensor") == "https://pytorch.org/docs/stable/tensors.html"
    assert resolve("torch.linalg", "mod") == "https://pytorch.org/docs/stable/linalg.html"
    assert resolve("matplotlib.axes.Axes").startswith("https://matplotlib.org/")
    assert resolve("collections.abc.Sequence") == (
        "https://docs.python.org/3/library/collections.abc.html#collections.abc.Sequence")
    assert resolve("gdlinalg.no_such_function", "func") is None  # a typo still fails the build
    assert resolve("torch.linalg.sovle", "func") is None         # ... in torch's names too
    assert resolve("matplotlib.axes.Axis") is None and resolve("numpy.no_such") is None
    assert resolve("torch.return_types.linalg_eigh").startswith("https://pytorch.org/")
    assert resolve("keyword-only") is None


TOY_CONFIG = """\
title: cache test
only_build_toc_files: true
exclude_patterns: [toy]
execute:
  execute_notebooks: cache
  raise_on_error: true
"""
TOY_GUARD = """\
sphinx:
  local_extensions:
    gdlinalg_book: _ext
  config:
    book_cache_packages: [{pkg}]
"""
TOY_PAGE = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# Toy

```{code-cell} ipython3
import PKG
print(f"toy value {PKG.VALUE}")
```
"""


def _toy_book(root: Path, pkg: str, guarded: bool) -> None:
    root.mkdir(parents=True)
    (root / "_config.yml").write_text(TOY_CONFIG + (TOY_GUARD.format(pkg=pkg) if guarded else ""))
    (root / "_toc.yml").write_text("format: jb-book\nroot: index\n")
    (root / "index.md").write_text(TOY_PAGE.replace("PKG", pkg))
    shutil.copytree(REPO / "_ext", root / "_ext", ignore=shutil.ignore_patterns("__pycache__"))


@pytest.mark.parametrize("guarded", [True, False], ids=["with-cache-key", "plain-jupyter-cache"])
def test_package_change_invalidates_the_execution_cache(tmp_path, guarded):
    pkg = f"toypkg_{'guarded' if guarded else 'plain'}"
    lib = tmp_path / "lib"
    (lib / pkg).mkdir(parents=True)
    (lib / pkg / "__init__.py").write_text("VALUE = 1\n")
    root = tmp_path / "book"
    _toy_book(root, pkg, guarded)
    env = {"PYTHONPATH": str(lib)}

    first = build(root, env=env)
    assert first.returncode == 0, first.log[-3000:]
    assert "toy value 1" in (root / "_build" / "html" / "index.html").read_text()

    (lib / pkg / "__init__.py").write_text("VALUE = 2\n")  # the package changes, the page does not
    second = build(root, env=env)
    assert second.returncode == 0, second.log[-3000:]
    html = (root / "_build" / "html" / "index.html").read_text()
    if guarded:
        assert "toy value 2" in html and "toy value 1" not in html
        caches = [p.name for p in (root / "_build" / ".jupyter_cache").iterdir()]
        assert len(caches) == 1, caches  # the stale cache was removed
    else:
        # What the guard is for: plain jupyter-cache serves the stale output.
        assert "toy value 1" in html


def _toy_page(code: str) -> str:
    return TOY_PAGE.split("```{code-cell}")[0] + f"```{{code-cell}} ipython3\n{code}\n```\n"


def _executed_outputs(root: Path, docname: str) -> str:
    nb = json.loads((root / "_build" / "jupyter_execute" / f"{docname}.ipynb").read_text())
    return json.dumps([c.get("outputs", []) for c in nb["cells"] if c["cell_type"] == "code"])


def test_pages_executed_ahead_or_served_from_the_cache_keep_their_outputs_and_a_failure_is_reported(tmp_path):
    """_ext/execute_ahead.py on a toy book of three pages: executed ahead (myst-nb executes none),
    then served from the cache by a warm rebuild, the notebooks the download button is made from
    keep their outputs; a page that fails ahead is left to myst-nb, which fails the build."""
    root = tmp_path / "book"
    root.mkdir()
    (root / "_config.yml").write_text(TOY_CONFIG + "sphinx:\n  local_extensions:\n    execute_ahead: _ext\n")
    (root / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n- file: a\n- file: b\n")
    shutil.copytree(REPO / "_ext", root / "_ext", ignore=shutil.ignore_patterns("__pycache__"))
    pages = ("index", "a", "b")
    for name in pages:
        (root / f"{name}.md").write_text(_toy_page(f'print("toy {name}")'))
    env = {"GDLINALG_EXECUTION_WORKERS": "2"}
    for cold in (True, False):
        result = build(root, env=env)
        assert result.returncode == 0, result.log[-3000:]
        assert ("[execute_ahead] executing 3 pages, 2 at a time" in result.log) == cold, result.log[-3000:]
        assert "Executing notebook using" not in result.log          # myst-nb executed nothing itself
        for name in pages:
            assert f"toy {name}" in _executed_outputs(root, name), (cold, name)
    (root / "a.md").write_text(_toy_page('print("toy a, again")'))
    (root / "b.md").write_text(_toy_page('assert False, "toy failure"'))
    failed = build(root, env=env)
    assert failed.returncode != 0
    assert "[execute_ahead] b: failed; left to myst-nb" in failed.log
    assert "toy failure" in build_failure(failed)


def test_chapters_are_executed_ahead_two_at_a_time(book):
    """_ext/execute_ahead.py ran every chapter before Sphinx read it; myst-nb executed none itself."""
    match = re.search(r"\[execute_ahead\] (\d+) of (\d+) pages executed", book.log)
    assert match and match[1] == match[2], "the chapters were not executed ahead"
    assert int(match[1]) == len(notebook_docnames())
    assert "Executing notebook using" not in book.log


def test_book_build_uses_a_keyed_cache(book):
    ext = load_ext()
    match = re.search(r"execution cache key ([0-9a-f]+) -> (\S+)", book.log)
    assert match, "the book was built without the cache-key extension"
    key, path = match.groups()
    assert len(key) == ext.KEY_LENGTH and Path(path).name == key
    caches = [p for p in (book.root / "_build" / ".jupyter_cache").iterdir() if p.is_dir()]
    assert [p.name for p in caches] == [key]
    assert f"Using jupyter-cache at: {path}" in book.log
