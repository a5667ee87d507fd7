"""Citable chapters: a local Sphinx extension (``_config.yml``: ``sphinx.local_extensions``).

Everything is generated from ``CITATION.cff`` at the repository root, the one place where the
book's bibliographic metadata (title, authors with ORCID, version, release date, license,
repository and site URL) is written:

1. **Config.** ``html_baseurl`` (canonical links, OpenGraph ``og:url``) and ``ogp_site_url`` /
   ``ogp_site_name`` are *read* from the CFF. The values that Jupyter Book needs before Sphinx
   starts and that therefore stay in ``_config.yml`` (``title``, ``author``, ``repository.url``)
   are *checked* against the CFF: a mismatch is a build warning, so the strict build fails.
2. **"Cite this chapter"** at the end of every chapter (every document of the book except the root
   document and the ``citation_exclude`` pages): a BibTeX ``@incollection`` and the same reference
   as one formatted line, both literal blocks (so sphinx-copybutton puts a copy button on them),
   and a link to a downloadable ``<chapter>.bib`` written next to the page. The root document
   (the preface) gets "Cite the whole book" (``@book``) instead.
3. **<head> tags**: Highwire Press tags read by Google Scholar and Zotero (``citation_title``, one
   ``citation_author`` [+ ``citation_author_orcid``] per author, ``citation_publication_date``,
   ``citation_inbook_title`` on chapters, ``citation_public_url``, ``citation_fulltext_html_url``,
   ``citation_language``, and ``citation_pdf_url``: the whole book as one PDF, built by
   ``_ext/book_pdf.py``). OpenGraph tags come from ``sphinxext.opengraph``, which this extension
   loads and configures.
4. **The footer's year** (``copyright``) is the year of ``date-released``, the year every
   citation gives; ``_config.yml`` does not set it.
5. **Redirects**: ``citation_redirects`` maps an old page (``book/old-name``) to a current
   document (``book/new-name``), or, for a chapter that was split, to the list of documents it
   became (the first is the main successor); an HTML page with a meta refresh and a canonical link
   to the first is written at the old address, so that old citations keep working after a chapter
   is renamed or split. For a split chapter, a small script sends a link to a section (``#anchor``)
   to whichever successor now holds that anchor.
6. **Sections that moved out of a page that stays**: ``citation_sections_moved`` maps a current
   page to the pages that took some of its sections (``book/svd-methods: [book/svd-jacobi]``). The
   page gets a small script: a link to an anchor it no longer has, which one of those pages has,
   goes there, so that a cited section stays reachable at its old address.

The access date in the blocks is the build date (``SOURCE_DATE_EPOCH`` if set); a small script
replaces it by the reader's date when the page is viewed, so a copied reference says when the
reader accessed it.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import os
import posixpath
import re
from pathlib import Path
from typing import Any

import yaml
from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util import logging
from sphinx.util.nodes import clean_astext

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "citation_static"
WARN = {"type": "citation", "subtype": "metadata"}


# ------------------------------------------------------------------------------------------------
# metadata: CITATION.cff -> a plain dict
# ------------------------------------------------------------------------------------------------


def load_cff(path: Path) -> dict[str, Any]:
    """Read ``CITATION.cff`` (YAML). Dates come back as strings (``YYYY-MM-DD``)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a CFF mapping")
    for key in ("title", "authors", "version", "date-released", "url"):
        if not data.get(key):
            raise ValueError(f"{path}: the book's citation needs `{key}`")
    data["date-released"] = str(data["date-released"])
    data["version"] = str(data["version"])
    if not data["url"].endswith("/"):
        data["url"] += "/"
    return data


def build_date() -> str:
    """Today (UTC), or the reproducible-builds ``SOURCE_DATE_EPOCH``, as ``YYYY-MM-DD``."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = (_dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc) if epoch
            else _dt.datetime.now(_dt.timezone.utc))
    return when.strftime("%Y-%m-%d")


def is_entity(author: dict[str, Any]) -> bool:
    return "family-names" not in author and "given-names" not in author


def author_display(author: dict[str, Any]) -> str:
    """``Family, Given`` for a person (Google Scholar's preferred order), the name of an entity."""
    if is_entity(author):
        return author["name"]
    family = " ".join(p for p in (author.get("name-particle"), author.get("family-names")) if p)
    given = author.get("given-names", "")
    suffix = author.get("name-suffix")
    return ", ".join(p for p in (family, suffix, given) if p)


def author_bibtex(author: dict[str, Any]) -> str:
    """BibTeX's ``von Last, Jr, First``; an entity in braces so it is never split into names."""
    if is_entity(author):
        return "{" + bibtex_escape(author["name"]) + "}"
    return bibtex_escape(author_display(author))


def orcid(author: dict[str, Any]) -> str | None:
    value = author.get("orcid")
    return str(value) if value else None


_BIBTEX_SPECIAL = re.compile(r"([&%#_])")
_WORD = re.compile(r"(?<![\\{\w])[A-Za-z][A-Za-z0-9]*")


def bibtex_escape(text: str) -> str:
    return _BIBTEX_SPECIAL.sub(r"\\\1", text)


def bibtex_title(text: str) -> str:
    """Escape, and brace every word with a capital (PyTorch, SVD, Newton, a matrix X) except a
    capitalised first word, so that a style that lowercases titles keeps the chapter's case."""
    def keep(m: re.Match) -> str:
        word = m[0]
        first = m.start() == 0 and not any(c.isupper() for c in word[1:])
        return word if first or word.islower() or not any(c.isupper() for c in word) else "{%s}" % word
    return _WORD.sub(keep, bibtex_escape(text))


def bibtex_key_prefix(meta: dict[str, Any]) -> str:
    """``gdlinalg2026``: the repository's name (or the title's first word) and the year."""
    repo = (meta.get("repository-code") or "").rstrip("/").rsplit("/", 1)[-1]
    stem = re.sub(r"[^a-z0-9]", "", (repo or meta["title"].split()[0]).lower())
    return f"{stem}{meta['date-released'][:4]}"


def page_url(meta: dict[str, Any], docname: str) -> str:
    return meta["url"] + docname + ".html"


def record(meta: dict[str, Any], docname: str, title: str | None, accessed: str) -> dict[str, Any]:
    """Everything a citation of one page needs. ``title=None`` is the whole book."""
    book = title is None
    return {
        "docname": docname,
        "kind": "book" if book else "chapter",
        "key": bibtex_key_prefix(meta) + ("" if book else "-" + docname.rsplit("/", 1)[-1]),
        "title": meta["title"] if book else title,
        "booktitle": None if book else meta["title"],
        "authors": list(meta["authors"]),
        "year": meta["date-released"][:4],
        "date": meta["date-released"],
        "version": meta["version"],
        "url": meta["url"] if book else page_url(meta, docname),
        "accessed": accessed,
        "release_url": release_url(meta),
    }


def release_url(meta: dict[str, Any]) -> str | None:
    """The GitHub release of this version: the published workflow attaches the site and the PDF
    of every tagged version to it, so that a citation of version X can be followed to its text."""
    repo = (meta.get("repository-code") or "").rstrip("/")
    return f"{repo}/releases/tag/v{meta['version']}" if "github.com/" in repo else None


def to_bibtex(rec: dict[str, Any]) -> str:
    fields = [("author", " and ".join(author_bibtex(a) for a in rec["authors"])),
              ("title", bibtex_title(rec["title"]))]
    if rec["booktitle"]:
        fields.append(("booktitle", bibtex_title(rec["booktitle"])))
    fields += [("year", rec["year"]),
               ("version", rec["version"]),
               ("url", rec["url"]),
               ("urldate", rec["accessed"]),
               ("note", f"Version {rec['version']}. Online; accessed {rec['accessed']}")]
    width = max(len(name) for name, _ in fields)
    body = ",\n".join(f"  {name.ljust(width)} = {{{value}}}" for name, value in fields)
    entry = "incollection" if rec["kind"] == "chapter" else "book"
    return f"@{entry}{{{rec['key']},\n{body},\n}}\n"


def to_line(rec: dict[str, Any]) -> str:
    """One formatted reference (author-year style)."""
    names = [author_display(a) for a in rec["authors"]]
    authors = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " & " + names[-1]
    where = (f"{rec['title']}. In {rec['booktitle']} (version {rec['version']})" if rec["booktitle"]
             else f"{rec['title']} (version {rec['version']})")
    return f"{authors} ({rec['year']}). {where}. {rec['url']} (accessed {rec['accessed']})."


def highwire_tags(rec: dict[str, Any], language: str,
                  pdf_url: str | None = None) -> list[tuple[str, str]]:
    """(name, content) pairs of the Highwire Press tags Google Scholar reads, in order."""
    tags = [("citation_title", rec["title"])]
    for author in rec["authors"]:
        tags.append(("citation_author", author_display(author)))
        if orcid(author):
            tags.append(("citation_author_orcid", orcid(author)))
    tags.append(("citation_publication_date", rec["date"].replace("-", "/")))
    if rec["booktitle"]:
        tags.append(("citation_inbook_title", rec["booktitle"]))
    tags += [("citation_public_url", rec["url"]),
             ("citation_fulltext_html_url", rec["url"]),
             ("citation_language", language)]
    if pdf_url:
        tags.append(("citation_pdf_url", pdf_url))
    return tags


def config_mismatches(meta: dict[str, Any], config: Any) -> list[str]:
    """Values in ``_config.yml`` that disagree with ``CITATION.cff`` (empty if none)."""
    problems = []
    title = getattr(config, "html_title", "")
    if title != meta["title"]:
        problems.append(f"_config.yml title {title!r} != CITATION.cff title {meta['title']!r}")
    authors = ", ".join(a["name"] if is_entity(a) else
                        " ".join(p for p in (a.get("given-names"), a.get("name-particle"),
                                             a.get("family-names"), a.get("name-suffix")) if p)
                        for a in meta["authors"])
    if getattr(config, "author", "") != authors:
        problems.append(f"_config.yml author {config.author!r} != CITATION.cff authors {authors!r}")
    repo = (getattr(config, "html_theme_options", None) or {}).get("repository_url")
    if repo and meta.get("repository-code") and repo.rstrip("/") != meta["repository-code"].rstrip("/"):
        problems.append(f"_config.yml repository.url {repo!r} != CITATION.cff repository-code "
                        f"{meta['repository-code']!r}")
    baseurl = getattr(config, "html_baseurl", "")
    if baseurl and baseurl.rstrip("/") + "/" != meta["url"]:
        problems.append(f"html_baseurl {baseurl!r} != CITATION.cff url {meta['url']!r}")
    return problems


# ------------------------------------------------------------------------------------------------
# Sphinx: config
# ------------------------------------------------------------------------------------------------


def read_metadata(app: Sphinx, config: Config) -> None:
    path = Path(app.confdir) / config.citation_cff
    meta = load_cff(path)
    for problem in config_mismatches(meta, config):
        logger.warning(f"[citation] {problem}", **WARN)
    config.html_baseurl = meta["url"]
    config.copyright = meta["date-released"][:4]
    if not config.ogp_site_url:
        config.ogp_site_url = meta["url"]
    if config.ogp_site_name is None:
        config.ogp_site_name = meta["title"]
    if config.ogp_social_cards is None:
        # sphinxext-opengraph's generated preview images carry the Sphinx logo (the book has no
        # logo yet) and cost a matplotlib figure per page: off until the book has a logo.
        config.ogp_social_cards = {"enable": False}
    meta["accessed"] = build_date()
    # A config value with rebuild="env": a change of the CFF (or a new day) re-reads every page.
    config.citation_metadata = meta
    if STATIC_DIR.is_dir():
        config.html_static_path = [*config.html_static_path, str(STATIC_DIR)]


# ------------------------------------------------------------------------------------------------
# Sphinx: the blocks
# ------------------------------------------------------------------------------------------------


def citable_kind(app: Sphinx, docname: str) -> str | None:
    """``"book"`` for the root document, ``"chapter"`` for every other page not excluded."""
    if docname == app.config.root_doc:
        return "book"
    if docname in set(app.config.citation_exclude):
        return None
    return "chapter"


def _first_title(doctree: nodes.document) -> str:
    section = next(iter(doctree.findall(nodes.section)), None)
    return clean_astext(section[0]) if section is not None else ""


def _literal(text: str, language: str) -> nodes.literal_block:
    block = nodes.literal_block(text, text, language=language)
    block["linenos"] = False
    return block


def citation_section(rec: dict[str, Any]) -> nodes.section:
    chapter = rec["kind"] == "chapter"
    heading = "Cite this chapter" if chapter else "Cite the whole book"
    section = nodes.section(ids=["cite-this-chapter" if chapter else "cite-the-whole-book"],
                            names=[heading.lower()],
                            classes=["gdl-citation", f"gdl-built-{rec['accessed']}"])
    section += nodes.title(heading, heading)
    intro = ("To cite this chapter on its own, copy the BibTeX entry or the formatted reference "
             "(button at the top right of each box)." if chapter else
             "To cite the book as a whole, copy the BibTeX entry or the formatted reference. "
             "Each chapter ends with its own entry for citing just that chapter; the same "
             "metadata is in the repository's CITATION.cff.")
    section += nodes.paragraph(intro, intro)
    section += version_paragraph(rec)
    section += nodes.rubric("BibTeX", "BibTeX")
    section += _literal(to_bibtex(rec), "bibtex")
    section += nodes.rubric("Formatted", "Formatted")
    section += _literal(to_line(rec), "none")
    bibfile = rec["docname"].rsplit("/", 1)[-1] + ".bib"
    para = nodes.paragraph()
    para += nodes.Text("Download: ")
    para += nodes.reference(bibfile, bibfile, refuri=bibfile, classes=["gdl-citation-download"])
    para += nodes.Text(". The access date is the day you load this page.")
    only = addnodes.only(expr="html")
    only += para
    section += only
    return section


def version_paragraph(rec: dict[str, Any]) -> nodes.paragraph:
    """Which version is being cited, and where that version's text stays readable."""
    para = nodes.paragraph(classes=["gdl-citation-version"])
    text = f"This is version {rec['version']} of the book, released {rec['date']}."
    para += nodes.Text(text)
    if rec.get("release_url"):
        para += nodes.Text(" The website and the PDF of every version are archived with its ")
        para += nodes.reference("release", "release", refuri=rec["release_url"])
        para += nodes.Text(", so a citation of this version can always be followed to its text.")
    return para


def add_citation_block(app: Sphinx, doctree: nodes.document) -> None:
    docname = app.env.docname
    kind = citable_kind(app, docname)
    store = _store(app.env)
    store.pop(docname, None)
    if kind is None:
        return
    meta = app.config.citation_metadata
    rec = record(meta, docname, None if kind == "book" else _first_title(doctree), meta["accessed"])
    store[docname] = rec
    top = [n for n in doctree.children if isinstance(n, nodes.section)]
    section = citation_section(rec)
    if kind == "book":
        # What sphinx-jupyterbook-latex marks on the preface's own sections (in a transform that
        # has run by now), so that in the PDF this one too is part of the preface, not a "Part".
        section["docname"], section["header_level"] = docname, 2
    (top[-1] if top else doctree).append(section)


def _store(env: Any) -> dict[str, dict[str, Any]]:
    if not hasattr(env, "gdlinalg_citations"):
        env.gdlinalg_citations = {}
    return env.gdlinalg_citations


def purge_doc(app: Sphinx, env: Any, docname: str) -> None:
    _store(env).pop(docname, None)


def merge_info(app: Sphinx, env: Any, docnames: set[str], other: Any) -> None:
    _store(env).update({d: r for d, r in _store(other).items() if d in docnames})


# ------------------------------------------------------------------------------------------------
# Sphinx: <head> tags, .bib files, redirects
# ------------------------------------------------------------------------------------------------


def add_meta_tags(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                  doctree: Any) -> None:
    rec = _store(app.env).get(pagename)
    if rec is None:
        return
    language = app.config.language or "en"
    pdf = getattr(app.config, "book_pdf_file", "")
    pdf_url = app.config.citation_metadata["url"] + pdf if pdf else None
    tags = "\n".join(f'<meta name="{name}" content="{html.escape(value, quote=True)}" />'
                     for name, value in highwire_tags(rec, language, pdf_url))
    metatags = context.get("metatags", "")
    # sphinxext-opengraph titles a numbered chapter "7. Title"; a link preview, like the
    # citation, shows the title alone (the number is navigation and changes when chapters move).
    metatags = _OG_TITLE.sub(lambda m: m.group(1) + html.escape(rec["title"], quote=True) + m.group(2),
                             metatags)
    context["metatags"] = metatags + "\n" + tags + "\n"


_OG_TITLE = re.compile(r'(<meta property="og:title" content=")[^"]*(" />)')


def _relative(old: str, new: str) -> str:
    return posixpath.relpath(new + ".html", posixpath.dirname(old) or ".")


def redirect_html(old: str, new: str, meta: dict[str, Any], title: str,
                  anchors: dict[str, str] | None = None) -> str:
    """The page written at ``old``: forwards to ``new``, or, for an ``#anchor`` listed in
    ``anchors`` (anchor -> document), to the document that holds that anchor."""
    rel = _relative(old, new)
    canonical = html.escape(page_url(meta, new), quote=True)
    rel_e, title_e = html.escape(rel, quote=True), html.escape(title)
    where = {a: _relative(old, doc) for a, doc in sorted((anchors or {}).items())}
    # json.dumps writes a valid JS object literal; "</" is escaped so no value can end the script.
    table = json.dumps(where, ensure_ascii=True).replace("</", "<\\/")
    script = (f"var moved = {table};\n"
              "var anchor = decodeURIComponent(location.hash.slice(1));\n"
              f"location.replace((moved[anchor] || {json.dumps(rel)}) + location.hash);")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<title>Moved: {title_e}</title>
<link rel="canonical" href="{canonical}" />
<meta name="robots" content="noindex" />
<meta http-equiv="refresh" content="0; url={rel_e}" />
<script>
{script}
</script>
</head>
<body>
<p>This page has moved to <a href="{rel_e}">{title_e}</a> ({canonical}).</p>
</body>
</html>
"""


def write_outputs(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    meta = app.config.citation_metadata
    for docname, rec in _store(app.env).items():
        target = outdir / (docname + ".bib")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(to_bibtex(rec), encoding="utf-8")
    for old, value in (app.config.citation_redirects or {}).items():
        old = old.removesuffix(".html").strip("/")
        targets = _documents(app, f"redirect {old!r}", value)
        if targets is None:
            continue
        if old in app.env.found_docs:
            logger.warning(f"[citation] redirect {old!r}: a document of that name exists", **WARN)
            continue
        new = targets[0]
        title = clean_astext(app.env.titles[new]) if new in app.env.titles else new
        path = outdir / (old + ".html")
        path.parent.mkdir(parents=True, exist_ok=True)
        anchors = split_anchors(outdir, targets)
        path.write_text(redirect_html(old, new, meta, title, anchors), encoding="utf-8")
    for page, value in (app.config.citation_sections_moved or {}).items():
        documents = _documents(app, f"sections moved from {page!r}", value, also=page)
        if documents is None:
            continue
        path = outdir / (page + ".html")
        moved = {a: _relative(page, doc) for a, doc in split_anchors(outdir, [page, *documents]).items()}
        html_text = path.read_text(encoding="utf-8")
        path.write_text(html_text.replace("</body>", moved_sections_script(moved) + "</body>", 1),
                        encoding="utf-8")


def _documents(app: Sphinx, entry: str, value: str | list[str], also: str | None = None) -> list[str] | None:
    """The documents a configuration entry names (one name or a list), or ``None``, with a warning,
    when the list is empty or one of them (or ``also``) does not exist."""
    documents = [value] if isinstance(value, str) else list(value)
    missing = [d for d in ([also] if also else []) + documents if d not in app.env.found_docs]
    if not documents or missing:
        logger.warning(f"[citation] {entry} -> {missing or documents!r}: no such document", **WARN)
        return None
    return documents


def moved_sections_script(moved: dict[str, str]) -> str:
    """A script for a page some of whose sections moved: an ``#anchor`` the page lacks and
    ``moved`` (anchor -> relative address) has is followed to its new page."""
    table = json.dumps(dict(sorted(moved.items())), ensure_ascii=True).replace("</", "<\\/")
    return ("<script>(function () {\n"
            f"  var moved = {table};\n"
            "  var anchor = decodeURIComponent(location.hash.slice(1));\n"
            "  if (anchor && !document.getElementById(anchor) && moved[anchor]) {\n"
            "    location.replace(moved[anchor] + location.hash);\n"
            "  }\n"
            "})();</script>\n")


_ID = re.compile(r'\sid="([^"]+)"')


def split_anchors(outdir: Path, targets: list[str]) -> dict[str, str]:
    """For a chapter split into ``targets``: each anchor (``id``) of a later part that the first
    part does not have, mapped to that part. Ids every page shares (the theme's) stay with the first."""
    def ids(doc: str) -> set[str]:
        page = outdir / (doc + ".html")
        return set(_ID.findall(page.read_text(encoding="utf-8"))) if page.is_file() else set()

    seen = ids(targets[0])
    moved: dict[str, str] = {}
    for doc in targets[1:]:
        for anchor in sorted(ids(doc) - seen):
            moved[anchor] = doc
        seen |= set(moved)
    return moved


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinxext.opengraph")
    app.add_config_value("citation_cff", "CITATION.cff", "env")
    app.add_config_value("citation_metadata", {}, "env")
    app.add_config_value("citation_exclude", [], "env")
    app.add_config_value("citation_redirects", {}, "html")
    app.add_config_value("citation_sections_moved", {}, "html")
    # After jupyter-book/myst-nb have filled in their config (default priority 500).
    app.connect("config-inited", read_metadata, priority=820)
    # Before the TOC collector (priority 500), so that the new section is in "On this page".
    app.connect("doctree-read", add_citation_block, priority=400)
    app.connect("env-purge-doc", purge_doc)
    app.connect("env-merge-info", merge_info)
    app.connect("html-page-context", add_meta_tags, priority=600)  # after sphinxext-opengraph
    app.connect("build-finished", write_outputs)
    app.add_css_file("gdlinalg-citation.css")
    app.add_js_file("gdlinalg-citation.js")
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
