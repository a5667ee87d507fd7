"""Book: citable chapters: CITATION.cff, and what _ext/gdlinalg_citation.py makes of it in the built
book.

The tests marked ``book`` read the session's one strict build (``book_build.session_build``,
shared with tests/book/test_book.py); the others are fast.
"""

from __future__ import annotations

import importlib.util
import json
import re
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from book_build import REPO, Build, toc_docnames

bs4 = pytest.importorskip("bs4")
pybtex_db = pytest.importorskip("pybtex.database")

CFF_PATH = REPO / "CITATION.cff"
CONFIG = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))
SPHINX_CONFIG = CONFIG["sphinx"]["config"]
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def load_ext():
    spec = importlib.util.spec_from_file_location("gdlinalg_citation",
                                                  REPO / "_ext" / "gdlinalg_citation.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


ext = load_ext()
META = ext.load_cff(CFF_PATH)


ROOT = toc_docnames()[0]
EXCLUDED = set(SPHINX_CONFIG.get("citation_exclude", []))
CHAPTERS = [d for d in toc_docnames()[1:] if d not in EXCLUDED]
REDIRECTS = SPHINX_CONFIG.get("citation_redirects", {})


def targets(new) -> list[str]:
    """The documents a redirect leads to: one, or the successors of a split chapter."""
    return [new] if isinstance(new, str) else list(new)


def unbrace(text: str) -> str:
    return text.replace("{", "").replace("}", "")


def author_names() -> list[str]:
    return [ext.author_display(a) for a in META["authors"]]


# ------------------------------------------------------------------------------------------------
# the metadata source
# ------------------------------------------------------------------------------------------------


#: The Citation File Format's own JSON schema, version 1.2.0 (citation-file-format.github.io, CC-BY
#: 4.0; the copy cffconvert ships), so that the CFF is validated offline with jsonschema.
CFF_SCHEMA = Path(__file__).with_name("cff-1.2.0-schema.json")


def cff_errors(data: dict) -> list[str]:
    """What the CFF 1.2.0 schema finds wrong with ``data`` (as YAML loads it: dates as text)."""
    import datetime
    import json

    import jsonschema

    def text_dates(x):
        if isinstance(x, dict):
            return {k: text_dates(v) for k, v in x.items()}
        if isinstance(x, list):
            return [text_dates(v) for v in x]
        return x.isoformat() if isinstance(x, datetime.date) else x

    schema = json.loads(CFF_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(text_dates(data))]


def test_citation_cff_is_valid_cff_1_2_0():
    assert META["cff-version"] == "1.2.0"
    assert not cff_errors(META), cff_errors(META)


def test_an_invalid_cff_is_rejected():
    """The validation above is not vacuous: a CFF without authors, or with a misspelt key, fails."""
    data = yaml.safe_load(CFF_PATH.read_text(encoding="utf-8"))
    del data["authors"]
    assert any("authors" in e for e in cff_errors(data))
    assert cff_errors({**META, "licence": "MIT"})


def test_cff_agrees_with_pyproject_and_license():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert META["version"] == project["version"]
    assert META["license"] == project["license"] == "MIT"
    assert [a["name"] for a in project["authors"]] == [
        a.get("name") or f"{a['given-names']} {a['family-names']}" for a in META["authors"]]
    license_text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert license_text.startswith("MIT License")
    assert all(a.get("name", a.get("family-names")) in license_text for a in META["authors"])
    assert DATE.match(META["date-released"])
    assert META["url"].startswith("https://") and META["repository-code"].startswith("https://")


def _config_as_sphinx(**override):
    values = {"html_title": CONFIG["title"], "author": CONFIG["author"],
              "html_theme_options": {"repository_url": CONFIG["repository"]["url"]},
              "html_baseurl": CONFIG.get("html", {}).get("baseurl", "")}
    values.update(override)
    return SimpleNamespace(**values)


def test_config_yml_agrees_with_cff():
    """title, author and repository.url must stay in _config.yml for Jupyter Book; the extension
    warns (so the strict build fails) if they differ from CITATION.cff."""
    assert ext.config_mismatches(META, _config_as_sphinx()) == []
    bad = ext.config_mismatches(META, _config_as_sphinx(
        html_title="Another title", author="Someone", html_baseurl="https://example.org/",
        html_theme_options={"repository_url": "https://github.com/someone/else"}))
    assert len(bad) == 4, bad


def test_bibtex_of_persons_with_orcid_and_special_characters():
    meta = dict(META, authors=[
        {"given-names": "Ada", "family-names": "Lovelace", "orcid": "https://orcid.org/0000-0002-1825-0097"},
        {"given-names": "Jan", "name-particle": "van der", "family-names": "Berg"},
        {"name": "The gdlinalg authors"},
    ])
    rec = ext.record(meta, "book/svd", "SVD & PyTorch: 100% of X_1", "2030-01-02")
    entry = pybtex_db.parse_string(ext.to_bibtex(rec), "bibtex").entries[rec["key"]]
    assert entry.type == "incollection"
    people = entry.persons["author"]
    assert [(p.last_names, p.first_names, p.prelast_names) for p in people[:2]] == [
        (["Lovelace"], ["Ada"], []), (["Berg"], ["Jan"], ["van", "der"])]
    assert unbrace(str(people[2])) == "The gdlinalg authors" and len(people[2].last_names) == 1
    assert entry.fields["title"] == r"{SVD} \& {PyTorch}: 100\% of {X}\_1"
    tags = ext.highwire_tags(rec, "en")
    assert [v for k, v in tags if k == "citation_author"] == [
        "Lovelace, Ada", "van der Berg, Jan", "The gdlinalg authors"]
    assert ("citation_author_orcid", "https://orcid.org/0000-0002-1825-0097") in tags
    assert "Lovelace, Ada, van der Berg, Jan & The gdlinalg authors (" in ext.to_line(rec)


def test_redirect_page_points_to_the_new_page():
    page = ext.redirect_html("book/old-name", "book/new-name", META, "New")
    assert 'content="0; url=new-name.html"' in page
    assert f'rel="canonical" href="{META["url"]}book/new-name.html"' in page
    assert "url=book/x.html" in ext.redirect_html("old-root-page", "book/x", META, "X")
    assert "url=../x.html" in ext.redirect_html("book/old/page", "book/x", META, "X")


def test_split_chapter_redirect_follows_its_anchors(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "part-1.html").write_text('<div id="shared"></div><section id="intro">')
    (tmp_path / "book" / "part-2.html").write_text('<div id="shared"></div><section id="methods">'
                                                   '<span id="a&lt;/script&gt;"></span>')
    moved = ext.split_anchors(tmp_path, ["book/part-1", "book/part-2"])
    assert moved == {"methods": "book/part-2", "a&lt;/script&gt;": "book/part-2"}
    page = ext.redirect_html("book/old", "book/part-1", META, "Part 1", moved)
    assert 'content="0; url=part-1.html"' in page          # without a script: the first part
    assert '"methods": "part-2.html"' in page
    assert page.count("</script>") == 1                      # no anchor can close the script


def test_toc_exclusions_and_redirects_name_real_documents():
    docs = set(toc_docnames())
    assert EXCLUDED <= docs, EXCLUDED - docs
    assert ROOT not in EXCLUDED
    assert CHAPTERS, "no citable chapter"
    for old, new in REDIRECTS.items():
        for target in targets(new):
            assert target in docs, f"redirect {old} -> {target}: not a TOC document"
        assert old not in docs, f"redirect {old}: a current document has that name"


# ------------------------------------------------------------------------------------------------
# the built book
# ------------------------------------------------------------------------------------------------




def soup(build: Build, docname: str):
    return bs4.BeautifulSoup(build.page(docname), "html.parser")


def meta_tags(s, name: str) -> list[str]:
    return [m["content"] for m in s.find_all("meta", attrs={"name": name})]


def og(s, prop: str) -> str | None:
    m = s.find("meta", attrs={"property": prop})
    return m["content"] if m else None


def h1_text(s) -> str:
    h1 = s.find("article").find("h1")
    for a in h1.find_all(["a", "span"], class_=["headerlink", "section-number"]):
        a.extract()  # the chapter number is navigation, not part of the title
    return " ".join(h1.get_text().split())


def cite_block(s, chapter: bool):
    return s.find("section", id="cite-this-chapter" if chapter else "cite-the-whole-book")


def block_texts(block) -> tuple[str, str]:
    pres = block.select("div.highlight pre")  # what sphinx-copybutton puts its button on
    assert len(pres) == 2
    return pres[0].get_text(), pres[1].get_text()


@pytest.mark.book
@pytest.mark.parametrize("docname", CHAPTERS)
def test_chapter_has_a_cite_block_with_parsable_bibtex(book, docname):
    s = soup(book, docname)
    url = META["url"] + docname + ".html"
    assert s.find("link", rel="canonical")["href"] == url  # the page's own address
    block = cite_block(s, chapter=True)
    assert block is not None, f"{docname}: no 'Cite this chapter'"
    assert block.find_parent("article") is not None
    bibtex, line = block_texts(block)

    data = pybtex_db.parse_string(bibtex, "bibtex")
    assert len(data.entries) == 1
    (key, entry), = data.entries.items()
    assert entry.type == "incollection"
    assert key == ext.bibtex_key_prefix(META) + "-" + docname.rsplit("/", 1)[-1]
    title = h1_text(s)
    assert unbrace(entry.fields["title"]) == title
    assert unbrace(entry.fields["booktitle"]) == META["title"]
    assert [unbrace(str(p)) for p in entry.persons["author"]] == author_names()
    assert entry.fields["year"] == META["date-released"][:4]
    assert entry.fields["version"] == META["version"]
    assert entry.fields["url"] == url
    assert DATE.match(entry.fields["urldate"])
    assert entry.fields["note"] == f"Version {META['version']}. Online; accessed {entry.fields['urldate']}"

    # The same reference as one line.
    assert line.strip() == (f"{author_names()[0]} ({META['date-released'][:4]}). {title}. In "
                            f"{META['title']} (version {META['version']}). {url} "
                            f"(accessed {entry.fields['urldate']}).")
    # The .bib download is the same entry.
    link = block.find("a", class_="gdl-citation-download")
    bib = book.html / Path(docname).parent / link["href"]
    assert bib.read_text(encoding="utf-8") == bibtex
    # A copy button on both (sphinx-copybutton is loaded, and its selector matches the blocks).
    assert s.find("script", src=re.compile(r"copybutton\.js"))


@pytest.mark.book
@pytest.mark.parametrize("docname", CHAPTERS)
def test_chapter_head_has_highwire_and_opengraph_tags(book, docname):
    s = soup(book, docname)
    url = META["url"] + docname + ".html"
    assert meta_tags(s, "citation_title") == [h1_text(s)]
    assert meta_tags(s, "citation_author") == author_names()  # one per author, in order
    assert meta_tags(s, "citation_author_orcid") == [a["orcid"] for a in META["authors"] if a.get("orcid")]
    assert meta_tags(s, "citation_publication_date") == [META["date-released"].replace("-", "/")]
    assert meta_tags(s, "citation_inbook_title") == [META["title"]]
    assert meta_tags(s, "citation_public_url") == [url]
    assert meta_tags(s, "citation_fulltext_html_url") == [url]
    assert meta_tags(s, "citation_language") == [s.find("html")["lang"]]
    # The whole book as one PDF (_ext/book_pdf.py), at the site's root.
    pdf = yaml.safe_load((REPO / "_config.yml").read_text())["sphinx"]["config"]["book_pdf_file"]
    assert meta_tags(s, "citation_pdf_url") == [META["url"] + pdf]
    assert og(s, "og:url") == url
    assert og(s, "og:title") == h1_text(s)
    assert og(s, "og:site_name") == META["title"]
    assert og(s, "og:type") and og(s, "og:description")


@pytest.mark.book
def test_preface_cites_the_whole_book(book):
    s = soup(book, ROOT)
    assert cite_block(s, chapter=True) is None
    block = cite_block(s, chapter=False)
    assert block is not None
    bibtex, line = block_texts(block)
    (key, entry), = pybtex_db.parse_string(bibtex, "bibtex").entries.items()
    assert entry.type == "book" and key == ext.bibtex_key_prefix(META)
    assert unbrace(entry.fields["title"]) == META["title"] and "booktitle" not in entry.fields
    assert entry.fields["url"] == META["url"] and entry.fields["version"] == META["version"]
    assert [unbrace(str(p)) for p in entry.persons["author"]] == author_names()
    assert META["title"] in line and META["url"] in line
    # The landing page carries the whole-book record (and is not a chapter of itself).
    assert meta_tags(s, "citation_title") == [META["title"]]
    assert meta_tags(s, "citation_author") == author_names()
    assert meta_tags(s, "citation_inbook_title") == []
    assert meta_tags(s, "citation_public_url") == [META["url"]]


@pytest.mark.book
def test_reference_pages_are_not_cited_as_chapters(book):
    for docname in EXCLUDED:
        s = soup(book, docname)
        assert cite_block(s, True) is None and cite_block(s, False) is None, docname
        assert meta_tags(s, "citation_title") == [], docname
        assert not (book.html / f"{docname}.bib").exists()


@pytest.mark.book
def test_every_toc_page_has_a_canonical_url_from_the_cff(book):
    for docname in toc_docnames(book.root):  # the TOC that was built (chapters come and go)
        link = soup(book, docname).find("link", rel="canonical")
        assert link is not None and link["href"] == META["url"] + docname + ".html", docname


@pytest.mark.book
def test_configured_redirects_exist(book):
    assert REDIRECTS, "configure at least one redirect (citation_redirects in _config.yml)"
    for old, new in REDIRECTS.items():
        first, *later = targets(new)
        page = book.html / f"{old}.html"
        assert page.is_file(), old
        s = bs4.BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        assert s.find("link", rel="canonical")["href"] == META["url"] + first + ".html"
        refresh = s.find("meta", attrs={"http-equiv": "refresh"})["content"]
        target = refresh.split("url=", 1)[1]
        assert (page.parent / target).resolve() == (book.html / f"{first}.html").resolve()
        script = s.find("script").string

        def section_ids(doc):
            page = bs4.BeautifulSoup((book.html / f"{doc}.html").read_text(encoding="utf-8"), "html.parser")
            return {sec["id"] for sec in page.find("article").find_all("section", id=True)}

        seen = section_ids(first)
        for doc in later:  # every section that moved to a later part is reachable at the old address
            moved = section_ids(doc) - seen      # ("summary", "exercises": both have one; first wins)
            assert moved
            for anchor in moved:
                assert f'"{anchor}": "{Path(doc).name}.html"' in script, (old, anchor)
            seen |= moved


@pytest.mark.book
def test_split_chapters_keep_their_old_addresses(book):
    assert targets(REDIRECTS["book/inverse"]) == ["book/inverse-recipe", "book/solves", "book/inverses"]
    assert targets(REDIRECTS["book/inverse-methods"]) == ["book/solves", "book/inverses"]
    assert targets(REDIRECTS["book/svd"]) == ["book/svd-recipe", "book/svd-methods", "book/svd-jacobi"]


@pytest.mark.book
def test_access_date_script_is_loaded(book):
    s = soup(book, CHAPTERS[0])
    assert s.find("script", src=re.compile(r"gdlinalg-citation\.js"))
    assert (book.html / "_static" / "gdlinalg-citation.js").is_file()
    block = cite_block(s, chapter=True)
    built = [c for c in block["class"] if c.startswith("gdl-built-")]
    assert len(built) == 1 and DATE.match(built[0].removeprefix("gdl-built-"))


@pytest.mark.book
@pytest.mark.parametrize("page, successor, anchor", [
    ("book/svd-methods", "svd-jacobi.html", "one-sided-jacobi-exact-coordinate-descent"),
    ("book/eigenvalues", "partial.html", "what-the-gap-does-measured"),
])
def test_a_moved_section_is_followed_from_the_page_it_left(book, page, successor, anchor):
    """Sections that moved to a new chapter while their page stayed: the old page forwards a link
    to such a section (and only to one it no longer has) to the page that now holds it."""
    config = yaml.safe_load((REPO / "_config.yml").read_text(encoding="utf-8"))
    moves = config["sphinx"]["config"]["citation_sections_moved"]
    assert f"book/{Path(successor).stem}" in moves[page]
    script = " ".join(s.string or "" for s in soup(book, page).find_all("script") if "var moved" in (s.string or ""))
    table = json.loads(re.search(r"var moved = (\{.*?\});", script).group(1))
    assert table.get(anchor) == successor, (anchor, sorted(table)[:10])
    own = {sec["id"] for sec in soup(book, page).find("article").find_all(id=True)}
    assert not own & set(table), sorted(own & set(table))[:5]
    assert anchor in {sec["id"] for sec in soup(book, f"book/{Path(successor).stem}").find_all("section", id=True)}
