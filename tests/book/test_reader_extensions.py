"""Book: the book's issue-12 extensions, piece by piece, without building the book (fast).

The built book is checked in ``tests/book/test_readers.py``, ``tests/book/test_pdf.py``,
``tests/book/test_book.py`` and ``tests/site/test_browser.py``; here each transformation is checked
on inputs small enough to read.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import pytest

from book_build import REPO

sys.path.insert(0, str(REPO / "_ext"))  # the extensions import each other, as in the build


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "_ext" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


light = load("light_pages")
pdf = load("book_pdf")
notebooks = load("reader_notebooks")
release = load("book_release")
report = load("report_problem")

# A tiny icon pack in the shape of the theme's fontawesome.js: object literals, then registration.
FA_JS = ('var p={github:[496,512,[],"f09b","M1 2z"]};d("fab",p);'
         'var p={file:[384,512,[128196],"f15b","M3 4z"]};d("far",p);'
         'var p={sun:[512,512,[9728],"f185","M5 6z"],"magnifying-glass":[512,512,["search"],"f002",'
         '"M7 8z"],file:[384,512,[],"f15b","M9 0z"]};d("fas",p);'
         "e=':host,:root{--fa-font-solid:normal 900 1em/1 \"Font Awesome 6 Solid\"}.svg-inline--fa{height:1em}';")


def test_icons_are_read_per_pack_with_their_aliases():
    icons = light.fontawesome_icons(FA_JS)
    assert icons["fab", "github"] == (496, 512, "f09b", "M1 2z")
    assert icons["far", "file"][3] == "M3 4z" and icons["fas", "file"][3] == "M9 0z"
    assert icons["fas", "search"] == icons["fas", "magnifying-glass"]
    assert light.fontawesome_css(FA_JS).startswith(":host,:root{--fa-font-solid")


def test_an_icon_becomes_the_svg_fontawesome_js_would_make():
    icons = light.fontawesome_icons(FA_JS)
    page = ('<button><i class="theme-switch fa-solid fa-sun fa-lg" data-mode="light" '
            'aria-hidden="true"></i></button><span class="fab fa-github"></span>'
            '<i class="fa-solid fa-no-such-icon"></i>')
    out, left = light.inline_icons(page, icons)
    # The markup that fontawesome.js 6 writes (class order, attributes), checked in a browser.
    assert ('<svg class="svg-inline--fa fa-sun theme-switch fa-lg" data-mode="light" '
            'aria-hidden="true" focusable="false" data-prefix="fas" data-icon="sun" role="img" '
            'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512" data-fa-i2svg="">'
            '<path fill="currentColor" d="M5 6z"></path></svg>') in out
    assert 'data-prefix="fab" data-icon="github"' in out and 'viewBox="0 0 496 512"' in out
    assert '<i class="fa-solid fa-no-such-icon"></i>' in out and "no-such-icon" in left


def test_unused_icon_rules_and_glyphs_go():
    css = ('.a{x:1}.fa-sun:before{content:"\\f185"}.fa-cut:before,.fa-scissors:before{content:"\\f0c4"}'
           '.fa-moon:before{content:"\\f186"}:root{--pst-icon-bell:"\uf0f3"}')
    trimmed = light.trim_fontawesome_rules(css, {"sun", "scissors"})
    assert ".fa-sun:before" in trimmed and ".fa-cut:before,.fa-scissors:before" in trimmed
    assert ".fa-moon" not in trimmed and ".a{x:1}" in trimmed
    assert light.css_codepoints(trimmed) == {0xF185, 0xF0C4, 0xF0F3}


def test_math_elements_are_found_and_unescaped():
    page = ('<p><span class="math notranslate nohighlight">\\(a &lt; b\\)</span> and '
            '<div class="math notranslate nohighlight" id="equation-x"><span class="eqno">(1)'
            '<a class="headerlink" href="#equation-x">#</a></span>\\[x^2\\]</div>'
            '<code>\\(not math\\)</code></p>')
    items = light.math_items(page)
    assert [(tex, display) for _, _, tex, display in items] == [("a < b", False), ("x^2", True)]
    start, end, *_ = items[1]
    assert page[start:end] == "\\[x^2\\]"


@pytest.mark.skipif(shutil.which("node") is None
                    or not (REPO / "node_modules" / "mathjax" / "es5" / "startup.js").is_file(),
                    reason="needs node and `npm ci`")
def test_mathjax_typesets_in_node_with_assistive_mathml_and_reports_errors():
    items = [{"tex": "\\frac{1}{2}\\lVert AX - I\\rVert^2", "display": False},
             {"tex": "\\cancel{x}", "display": True},   # an autoloaded extension
             {"tex": "x^{", "display": False}]
    proc = subprocess.run(["node", str(REPO / "_ext" / "mathjax_prerender.cjs"),
                           str(REPO / "node_modules" / "mathjax" / "es5"), "fonts"],
                          input=json.dumps(items), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert all(h.startswith('<mjx-container class="MathJax" jax="CHTML"') for h in out["html"])
    assert "<mjx-assistive-mml" in out["html"][0] and 'display="true"' in out["html"][1]
    assert "mjx-menclose" in out["html"][1]
    assert [i for i, _ in out["errors"]] == [2] and "mjx-merror" in out["html"][2]
    assert 'url("fonts/MathJax_Main-Regular.woff")' in out["css"]
    assert 'tabindex="0"' in light.focusable(out["html"][0])


def test_missing_glyphs_get_the_first_fallback_font_that_has_them():
    fonts = {"Serif": {ord("a"), ord("é")}, "Mono": {ord("a"), ord("é")}}
    fallbacks = {"DejaVu": {ord("ᵀ")}, "Symbola": {ord("ᵀ"), ord("✅")}}
    mapping, unfound = pdf.glyph_fallbacks("aé ᵀ ✅ 🦜", fonts, fallbacks)
    assert mapping == {"ᵀ": "DejaVu", "✅": "Symbola"} and unfound == ["🦜"]
    text = pdf.glyph_file(mapping)
    assert "\\newfontfamily\\gdlfallbacka{DejaVu}" in text
    assert ('\\newunicodechar{✅}{\\ifmmode\\text{\\gdlfallbackb\\char"2705\\relax}'
            '\\else{\\gdlfallbackb\\char"2705\\relax}\\fi}') in text


def test_the_icon_stylesheet_goes_where_a_browser_with_javascript_reads_it():
    page = ('<head><script>x</script><noscript><link rel="stylesheet" href="fonts.css" />'
            '<style>.pst-js-only{display:none}</style></noscript>\n'
            '<link href="_static/styles/theme.css" rel="stylesheet" /></head>')
    first = light.first_stylesheet(page)
    assert page[first:].startswith('<link href="_static/styles/theme.css"')
    assert light.first_stylesheet("<head><noscript><style></style></noscript></head>") is None


def test_latex_log_problems_are_found():
    log = ("! Undefined control sequence.\nLaTeX Warning: Reference `book/x:fig' on page 3 undefined "
           "on input line 9.\nLaTeX Warning: Citation `nosuch' on page 4 undefined on input line 2.\n"
           "Missing character: There is no ✅ (U+2705) in font FreeSerif!\nall fine\n")
    problems = pdf.log_problems(log)
    assert len(problems) == 4
    assert pdf.log_problems("Output written on gdlinalg.pdf (135 pages).") == []


def test_launch_urls_and_install_line_come_from_the_repository_url_and_the_sources():
    tag = notebooks.notebooks_tag("notebooks-", "v1.2.0")
    assert tag == "notebooks-v1.2.0"
    url = notebooks.colab_url("https://colab.research.google.com/", "https://github.com/o/r", tag, "book/svd")
    assert url == "https://colab.research.google.com/github/o/r/blob/notebooks-v1.2.0/book/svd.ipynb"
    url = notebooks.binder_url("https://mybinder.org", "https://github.com/o/r.git", tag, "book/svd")
    assert url == "https://mybinder.org/v2/gh/o/r/notebooks-v1.2.0?urlpath=lab/tree/book/svd.ipynb"
    for make in (notebooks.colab_url, notebooks.binder_url):
        assert make("https://x.org", "https://gitlab.com/o/r", tag, "book/svd") is None
    line = notebooks.install_line("gdlinalg", "https://github.com/o/r.git", "v1.2.0")
    assert line == '%pip install --quiet "gdlinalg[plot] @ git+https://github.com/o/r@v1.2.0"'


def _doctree(rst: str):
    from docutils.core import publish_doctree

    return publish_doctree(rst, settings_overrides={"report_level": 5, "doctitle_xform": False})


def test_a_page_becomes_plain_markdown_with_links_to_the_website():
    from docutils import nodes

    md = load("notebook_markdown")
    doc = _doctree("""
Title
=====

Some *text* with ``code``, a `link <glossary.html#term-x>`_ and 2*3_4.

.. note:: Careful

   Body of the note.

Part
----

- one
- two with *x*

.. math::

   a = b
""")
    # Pieces the website's build adds: a citation, a glued number, inline math, a code cell.
    para = doc.next_node(nodes.paragraph)
    cite = nodes.inline(classes=["bibtex-citation"])
    cite += [nodes.Text("["), nodes.reference("", "Smith, 2020", refuri="references.html#id3"), nodes.Text("]")]
    para += [nodes.Text(" "), cite, nodes.Text(" gives "), nodes.inline("", "0.25", classes=["pasted-text"]),
             nodes.Text(" and "), nodes.math("", "x^2")]
    cell = nodes.container(nb_element="cell_code", cell_index=4)
    fig = nodes.figure(ids=["fig-a"])
    fig += nodes.caption("", "A caption.")
    cell += fig
    doc.children[0].insert(3, cell)                # after the note, before the subsection
    writer = md.Writer(page_url="https://site/book/ch.html", secnumbers={"": (3,), "#part": (3, 1)},
                       fignumbers={"figure": {"fig-a": (3, 1)}}, cell_source=lambda i: "print(1)")
    items = writer.convert(doc)
    assert [type(i).__name__ for i in items] == ["Markdown", "CodeCell", "Markdown"]
    first, code, rest = items
    assert first.text.startswith("# 3 Title\n\nSome *text* with `code`, a "
                                 "[link](https://site/book/glossary.html#term-x) and 2\\*3\\_4. "
                                 "([Smith, 2020](https://site/book/references.html#id3)) gives 0.25 and $x^2$")
    assert first.text.endswith("> **Note**\n>\n> Careful\n>\n> Body of the note.")
    assert code.index == 4 and code.caption == "**Fig. 3.1.** A caption."
    assert rest.text == "## 3.1 Part\n\n- one\n- two with *x*\n\n$$\na = b\n$$"


def test_source_ref_is_the_tag_else_the_commit_else_the_release(tmp_path):
    assert release.source_ref(tmp_path, "1.0", environ={}) == "v1.0"  # not a repository
    assert release.source_ref(tmp_path, "1.0", environ={"BOOK_SOURCE_REF": "abc"}) == "abc"
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "f").write_text("x")
    subprocess.run([*git, "add", "f"], check=True)
    subprocess.run([*git, "commit", "-qm", "x"], check=True)
    sha = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert release.source_ref(tmp_path, "1.0", environ={}) == sha
    subprocess.run([*git, "tag", "v1.0"], check=True)
    assert release.source_ref(tmp_path, "1.0", environ={}) == "v1.0"
    # A folder inside another repository is not that repository's commit.
    (tmp_path / "copy").mkdir()
    assert release.source_ref(tmp_path / "copy", "2.0", environ={}) == "v2.0"


def test_issue_link_is_prefilled_with_page_and_version():
    url = report.issue_url("https://github.com/o/r/", title="The SVD", url="https://s/book/svd.html",
                           version="1.2.0", ref="v1.2.0")
    parts = urlsplit(url)
    assert parts.path == "/o/r/issues/new"
    query = parse_qs(parts.query)
    assert query["title"] == ["Problem in “The SVD” (version 1.2.0)"]
    assert "**Page:** [The SVD](https://s/book/svd.html)" in query["body"][0]
    assert "**Book version:** 1.2.0 (sources `v1.2.0`)" in query["body"][0]
