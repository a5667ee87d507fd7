"""Light pages with the same look: what a chapter page loads, cut from 4 MB to about 1 MB.

A chapter page loaded 4.0 MB, most of it for two things done in the browser that can be done once
at build time. At ``build-finished`` (HTML builder) this extension rewrites the written site:

1. **Icons.** pydata-sphinx-theme loads Font Awesome's whole SVG+JS kit (``fontawesome.js``,
   1.49 MB with every icon) to turn each ``<i class="fa-solid fa-sun">`` into an inline ``<svg>``,
   and the pages then also fetch the solid and brands web fonts (274 kB). Here every such element
   is replaced by the very ``<svg>`` that script would have made (same classes, attributes and
   path, taken from the theme's own ``fontawesome.js``), the script is no longer loaded, and the
   styles it would inject are a small stylesheet (``_static/fontawesome-svg.css``). The icon
   fonts remain for the theme's CSS pseudo-element icons (admonitions, external links): the
   solid font is cut to the glyphs the site's CSS and scripts can use, and the ``.fa-<name>``
   rules of the ~1,900 icons nobody uses leave the theme stylesheet.
2. **Math.** Instead of MathJax's ``tex-chtml.js`` (1.16 MB) typesetting in the browser, every
   ``\\(...\\)``/``\\[...\\]`` in ``span.math``/``div.math`` is typeset at build time by the same
   MathJax (``npm ci``) in Node (``_ext/mathjax_prerender.cjs``): TeX input, CommonHTML output with
   the assistive MathML that screen readers read. The pages get MathJax's stylesheet
   (``_static/mathjax-chtml.css``, fonts from ``_static/mathjax/``) and no MathJax script. MathJax
   scales math so that its x-height matches the surrounding text (``matchFontHeight``); the same
   scale is the CSS ``font-size: calc(1ex / 0.442)``, 0.442 em being the x-height of MathJax's TeX
   fonts. A TeX error is a build warning. (What is lost: MathJax's right-click menu.)
3. **Unused assets.** The search scripts (``searchtools.js``, ``language_data.js`` and the whole
   ``searchindex.js``) are loaded by the theme on every page for "search as you type", which is
   off (``search_as_you_type``): they stay on the search page only. sphinx-design's stylesheet and
   tab script (62 kB) stay only on pages that use one of its components (``sd-*`` classes).
4. **Figures** that matplotlib saved as RGBA with every pixel opaque are stored as RGB: the same
   pixels, a fifth smaller.
"""

from __future__ import annotations

import html as htmllib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)
WARN = {"type": "light_pages", "subtype": "rewrite"}

HERE = Path(__file__).resolve().parent
FA_CSS = "fontawesome-svg.css"
MATH_CSS = "mathjax-chtml.css"
#: The x-height of MathJax's TeX fonts, in em (its ``font.params.x_height``).
MATHJAX_X_HEIGHT = 0.442
#: Font Awesome's class prefixes: (style classes) -> the pack's prefix in ``fontawesome.js``.
FA_STYLES = {"fa-solid": "fas", "fas": "fas", "fa": "fas", "fa-regular": "far", "far": "far",
             "fa-brands": "fab", "fab": "fab"}
#: Font Awesome's modifier classes, which are not icon names.
FA_MODIFIERS = re.compile(r"^fa-(?:\d?x[sl]|[2-9]?xs|lg|sm|xl|[1-9]?\dx|fw|spin|pulse|border|"
                          r"inverse|flip.*|rotate.*|beat.*|bounce|fade|shake|li|ul|stack.*|"
                          r"pull-.*|layers.*|width-auto)$")


# ------------------------------------------------------------------------------------------------
# 1. icons
# ------------------------------------------------------------------------------------------------

_FA_ENTRY = re.compile(r'(?:"([\w-]+)"|([A-Za-z_$][\w$]*)|(\d+)):\[(\d+),(\d+),\[([^\]]*)\],'
                       r'"([0-9a-f]+)",("(?:[^"\\]|\\.)*")\]')
_FA_PACK = re.compile(r'\w+\("(fab|far|fas)",\w+\)')


def fontawesome_icons(js: str) -> dict[tuple[str, str], tuple[int, int, str, str]]:
    """``{(prefix, name): (width, height, unicode, path)}`` from the theme's ``fontawesome.js``
    (its icon packs are object literals, each followed by the call that registers it)."""
    packs = [(m.start(), m.group(1)) for m in _FA_PACK.finditer(js)]
    icons: dict[tuple[str, str], tuple[int, int, str, str]] = {}
    start = 0
    for end, prefix in packs:
        for m in _FA_ENTRY.finditer(js, start, end):
            name = m.group(1) or m.group(2) or m.group(3)
            entry = (int(m.group(4)), int(m.group(5)), m.group(7), json.loads(m.group(8)))
            icons.setdefault((prefix, name), entry)
            for alias in re.findall(r'"([\w-]+)"', m.group(6)):
                icons.setdefault((prefix, alias), entry)
        start = end
    return icons


def fontawesome_css(js: str) -> str | None:
    """The stylesheet ``fontawesome.js`` would inject into every page."""
    start = js.find("':host,:root{--fa-font-solid")
    if start < 0:
        return None
    end = js.find("'", start + 1)
    return js[start + 1:end] if end > 0 else None


_ICON = re.compile(r'<(i|span)\s([^>]*?\bclass="([^"]*)"[^>]*)>\s*</\1>')
_ATTR = re.compile(r'([\w:-]+)(?:="([^"]*)")?')


def icon_svg(tag_attrs: str, classes: str,
             icons: dict[tuple[str, str], tuple[int, int, str, str]]) -> str | None:
    """The ``<svg>`` Font Awesome's script makes of an ``<i>``/``<span>`` icon element."""
    names = classes.split()
    prefix = next((FA_STYLES[c] for c in names if c in FA_STYLES), None)
    if prefix is None:
        return None
    icon = next((c[3:] for c in names if c.startswith("fa-") and c not in FA_STYLES
                 and not FA_MODIFIERS.match(c) and (prefix, c[3:]) in icons), None)
    if icon is None:
        return None
    width, height, _, path = icons[prefix, icon]
    rest = [c for c in names if c not in FA_STYLES and c != f"fa-{icon}"]
    attrs = [("class", " ".join(["svg-inline--fa", f"fa-{icon}", *rest]))]
    for name, value in _ATTR.findall(tag_attrs):
        if name not in ("class", "aria-hidden"):
            attrs.append((name, value))
    attrs += [("aria-hidden", "true"), ("focusable", "false"), ("data-prefix", prefix),
              ("data-icon", icon), ("role", "img"), ("xmlns", "http://www.w3.org/2000/svg"),
              ("viewBox", f"0 0 {width} {height}"), ("data-fa-i2svg", "")]
    head = " ".join(f'{k}="{v}"' for k, v in attrs)
    return f'<svg {head}><path fill="currentColor" d="{path}"></path></svg>'


def inline_icons(page: str, icons) -> tuple[str, set[str]]:
    """Replace the page's icon elements by inline SVG; return the page and the icons left over
    (elements that could not be converted keep their web-font rendering)."""
    left: set[str] = set()

    def sub(m: re.Match) -> str:
        svg = icon_svg(m.group(2), m.group(3), icons)
        if svg is None:
            left.update(c[3:] for c in m.group(3).split() if c.startswith("fa-"))
            return m.group(0)
        return svg
    return _ICON.sub(sub, page), left


def trim_fontawesome_rules(css: str, keep: set[str]) -> str:
    """Drop the ``.fa-<name>:before{content:...}`` rules of icons not in ``keep``."""
    def sub(m: re.Match) -> str:
        names = re.findall(r"\.fa-([\w-]+):before", m.group(0))
        return m.group(0) if any(n in keep for n in names) else ""
    return re.sub(r'(?:\.fa-[\w-]+:before,?)+\{content:"[^"]*"\}', sub, css)


def css_codepoints(css: str) -> set[int]:
    """Icon code points (Unicode's private-use area, where Font Awesome puts its glyphs) in CSS:
    escaped (``content:"\\f107"``) or literal (``--pst-icon-lightbulb:""``)."""
    escaped = {int(h, 16) for h in re.findall(r'\\([0-9a-fA-F]{4,5})', css)}
    literal = {ord(c) for c in css if 0xE000 <= ord(c) <= 0xF8FF}
    return {c for c in escaped | literal if 0xE000 <= c <= 0xF8FF}


def subset_font(src: Path, dst: Path, codepoints: set[int]) -> None:
    from fontTools import subset

    options = subset.Options()
    options.flavor = "woff"  # zlib: no brotli module needed (woff2 would need one)
    options.layout_features = ["*"]
    font = subset.load_font(str(src), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(codepoints))
    subsetter.subset(font)
    subset.save_font(font, str(dst), options)


# ------------------------------------------------------------------------------------------------
# 2. math
# ------------------------------------------------------------------------------------------------

_MATH_ELEMENT = re.compile(r'(<(span|div) class="math[^"]*"[^>]*>)(.*?)(</\2>)', re.S)
_DELIMITED = re.compile(r"\\\((.*?)\\\)|\\\[(.*?)\\\]", re.S)


def math_items(page: str) -> list[tuple[int, int, str, bool]]:
    """(start, end, tex, display) of every delimited formula inside the page's math elements."""
    items = []
    for el in _MATH_ELEMENT.finditer(page):
        inner_start = el.start(3)
        for m in _DELIMITED.finditer(el.group(3)):
            display = m.group(2) is not None
            tex = htmllib.unescape(m.group(2) if display else m.group(1))
            items.append((inner_start + m.start(), inner_start + m.end(), tex, display))
    return items


def prerender(app: Sphinx, formulas: list[tuple[str, bool]]) -> dict[str, Any]:
    from offline_assets import mathjax_source

    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is needed to typeset the math (install Node.js; see the README)")
    payload = json.dumps([{"tex": t, "display": d} for t, d in formulas])
    proc = subprocess.run([node, str(HERE / "mathjax_prerender.cjs"), str(mathjax_source(app)),
                           "mathjax/output/chtml/fonts/woff-v2"],
                          input=payload, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"MathJax (node) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def focusable(container: str) -> str:
    """Keyboard focus on every formula, as MathJax's menu gave it (``tabindex="0"``): a display
    formula wider than the page scrolls, and a scrolling region must be reachable by keyboard."""
    return container.replace('<mjx-container class="MathJax" jax="CHTML"',
                             '<mjx-container class="MathJax" jax="CHTML" tabindex="0"', 1)


MATH_SCALE_CSS = f"""
/* MathJax's matchFontHeight, done by the browser's layout instead of a script (_ext/light_pages.py):
   math is scaled so that its x-height equals the x-height of the surrounding text. */
mjx-container[jax="CHTML"] {{
  font-size: calc(1ex / {MATHJAX_X_HEIGHT});
}}
"""


# ------------------------------------------------------------------------------------------------
# the rewrite
# ------------------------------------------------------------------------------------------------

_FA_SCRIPT = re.compile(r'\s*<script defer src="([^"]*?)_static/scripts/fontawesome\.js[^"]*"></script>')
_SEARCH_SCRIPTS = re.compile(r'\s*<script src="[^"]*?(?:_static/searchtools\.js|'
                             r'_static/language_data\.js|searchindex\.js)"></script>')
_DESIGN_ASSETS = re.compile(r'\s*<link[^>]*?_static/sphinx-design\.min\.css[^>]*>|'
                            r'\s*<script[^>]*?_static/design-tabs\.js[^>]*></script>')
_USES_DESIGN = re.compile(r'class="(?:[^"]*\s)?sd-')
_FIRST_STYLE = re.compile(r'<link [^>]*rel="stylesheet"|<style\b')
_NOSCRIPT = re.compile(r"<noscript>.*?</noscript>", re.S)


def first_stylesheet(page: str) -> int | None:
    """Where the page's first stylesheet starts, outside ``<noscript>`` (whose content a browser
    with JavaScript ignores: a stylesheet put there would never apply), or ``None``."""
    masked = _NOSCRIPT.sub(lambda m: " " * len(m.group(0)), page)
    first = _FIRST_STYLE.search(masked)
    return first.start() if first else None
_HEAD_END = "</head>"


def site_pages(outdir: Path) -> list[Path]:
    skip = ("_static", "_sources", "_images", "_downloads")
    return sorted(p for p in outdir.rglob("*.html") if p.relative_to(outdir).parts[0] not in skip)


def static_prefix(page: str) -> str | None:
    m = re.search(r'href="([^"]*?)_static/styles/theme\.css', page)
    return m.group(1) if m else None


def lighten_site(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    static = outdir / "_static"
    fa_js = static / "scripts" / "fontawesome.js"
    js = fa_js.read_text(encoding="utf-8") if fa_js.is_file() else ""
    icons = fontawesome_icons(js)
    fa_css = fontawesome_css(js)
    if not icons or fa_css is None:
        logger.warning("[light_pages] no icons found in the theme's fontawesome.js: pages keep "
                       "loading it (did pydata-sphinx-theme change?)", **WARN)
    search_as_you_type = bool(app.config.html_theme_options.get("search_as_you_type"))

    pages = {p: p.read_text(encoding="utf-8") for p in site_pages(outdir)}
    formulas: list[tuple[str, bool]] = []
    located: dict[Path, list[tuple[int, int, int]]] = {}
    for path, text in pages.items():
        for start, end, tex, display in math_items(text):
            located.setdefault(path, []).append((start, end, len(formulas)))
            formulas.append((tex, display))
    rendered = prerender(app, formulas) if formulas else {"html": [], "css": "", "errors": []}
    for index, message in rendered["errors"]:
        page = next(p for p, spans in located.items() if any(i == index for *_, i in spans))
        logger.warning(f"[light_pages] TeX error in {page.relative_to(outdir)}: {message} "
                       f"in {formulas[index][0]!r}", **WARN)

    left_icons: set[str] = set()
    for path, text in pages.items():
        prefix = static_prefix(text)
        extra = []
        if path in located:
            for start, end, index in reversed(located[path]):
                text = text[:start] + focusable(rendered["html"][index]) + text[end:]
            extra.append(f'<link rel="stylesheet" href="{prefix}_static/{MATH_CSS}" />')
        if icons and fa_css is not None and prefix is not None:
            text, left = inline_icons(text, icons)
            left_icons |= left
            text = _FA_SCRIPT.sub("", text)
            # Where fontawesome.js puts its styles: before every other stylesheet, so that the
            # theme's own values (e.g. --fa-font-solid) win, as they did.
            first = first_stylesheet(text)
            link = f'<link rel="stylesheet" href="{prefix}_static/{FA_CSS}" />\n'
            text = text[:first] + link + text[first:] if first is not None else text
        if not search_as_you_type and path.name != "search.html":
            text = _SEARCH_SCRIPTS.sub("", text)
        if not _USES_DESIGN.search(text):
            text = _DESIGN_ASSETS.sub("", text)
        if extra and _HEAD_END in text:
            text = text.replace(_HEAD_END, "\n".join(extra) + "\n" + _HEAD_END, 1)
        path.write_text(text, encoding="utf-8")

    if formulas:
        (static / MATH_CSS).write_text(rendered["css"] + MATH_SCALE_CSS, encoding="utf-8")
    if icons and fa_css is not None:
        (static / FA_CSS).write_text(fa_css + "\n", encoding="utf-8")
        slim_icon_fonts(static, left_icons, icons)
        for leftover in (fa_js, fa_js.with_name("fontawesome.js.map")):
            leftover.unlink(missing_ok=True)  # (the licence file stays)
    opaque_figures_as_rgb(outdir / "_images")
    logger.info(f"[light_pages] {len(pages)} pages: {len(formulas)} formulas typeset, icons inlined")


def opaque_figures_as_rgb(images: Path) -> None:
    from PIL import Image

    for png in sorted(images.glob("*.png")) if images.is_dir() else []:
        with Image.open(png) as im:
            if im.mode != "RGBA" or im.getchannel("A").getextrema() != (255, 255):
                continue
            rgb = im.convert("RGB")
            info = {k: v for k, v in im.info.items() if k in ("dpi",)}
        rgb.save(png, format="PNG", optimize=True, **info)


def slim_icon_fonts(static: Path, used: set[str], icons) -> None:
    """Trim the theme stylesheet's icon rules and the solid icon font to what can still show."""
    theme_css = static / "styles" / "pydata-sphinx-theme.css"
    if not theme_css.is_file():
        return
    css_files = [p for p in static.rglob("*.css") if p.is_file()]
    scripts = "\n".join(p.read_text(encoding="utf-8", errors="replace")
                        for p in static.rglob("*.js") if p.is_file())
    # Icons that scripts may still create at run time (e.g. "fa-solid fa-xmark").
    used = used | set(re.findall(r"\bfa-([a-z0-9-]+)", scripts))
    css = trim_fontawesome_rules(theme_css.read_text(encoding="utf-8"), used)
    codepoints = set()
    for p in css_files:
        codepoints |= css_codepoints(css if p == theme_css else p.read_text(encoding="utf-8"))
    fonts = static / "vendor" / "fontawesome" / "webfonts"
    for prefix, name in (("fas", "fa-solid-900"), ("far", "fa-regular-400"), ("fab", "fa-brands-400")):
        source = fonts / f"{name}.ttf"  # (reading the .woff2 would need a brotli module)
        if not source.is_file():
            continue
        subset_font(source, fonts / f"{name}.subset.woff",
                    codepoints | {int(icons[prefix, n][2], 16) for n in used if (prefix, n) in icons})
        css = re.sub(rf'src:url\(([^)]*?){name}\.woff2\) format\("woff2"\),'
                     rf'url\([^)]*?{name}\.ttf\) format\("truetype"\)',
                     rf'src:url(\g<1>{name}.subset.woff) format("woff")', css)
    theme_css.write_text(css, encoding="utf-8")


def drop_mathjax_script(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any],
                        doctree: Any) -> None:
    """The math is typeset at build time: no MathJax script, no MathJax configuration script."""
    files = context.get("script_files")
    if not files:
        return
    mathjax = app.config.mathjax_path
    keep = [js for js in files
            if not (js.filename and mathjax and js.filename.split("?")[0].endswith(mathjax))
            and not (js.attributes.get("body") or "").lstrip().startswith("window.MathJax")]
    if len(keep) != len(files):
        files[:] = keep


#: ``GDLINALG_LIGHT_PAGES=off`` builds the site as the theme makes it, for the browser test that
#: compares the look of the two (tests/site/test_browser.py): the lightening may cut bytes, never change
#: what a reader sees.
SWITCH = "GDLINALG_LIGHT_PAGES"


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("offline_assets")
    if os.environ.get(SWITCH, "").strip().lower() in ("off", "0", "no", "false"):
        logger.info(f"[light_pages] {SWITCH}=off: the site keeps the theme's assets")
        return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
    # After sphinx.ext.mathjax has added its scripts (default priority) and offline_assets has
    # merged duplicates (1000).
    app.connect("html-page-context", drop_mathjax_script, priority=1010)
    # After every other writer of the site (offline_assets: 500 and 900).
    app.connect("build-finished", lighten_site, priority=950)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
