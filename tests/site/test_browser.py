"""Site: the built book in a real browser (issue 7): offline, accessible, readable on a phone and in
the dark, every link resolving.

Debian's chromium (``/usr/bin/chromium``, or ``$GDLINALG_CHROMIUM``) is driven by the Python API of
playwright — never a browser that playwright downloads — against the session's strict build
(``book`` fixture, ``tests/book_build.py``) served by ``http.server`` on 127.0.0.1. Chromium's
resolver maps every host but 127.0.0.1 to "not found", so the network is off for the page: MathJax
has to come from the site itself.

Every HTML page of the site is visited three times — desktop light, desktop dark, phone (375 px)
light — and checked for: console errors, failed or off-host requests, images that did not load,
untypeset math, invisible code-cell outputs, horizontal overflow on the phone, and axe-core
(``node_modules/axe-core``, WCAG 2.1 A/AA) violations of impact serious or critical in both colour
modes. Dark-mode figures are screenshotted and their contrast measured. The search page must find a
chapter. Internal links and anchors are resolved from the HTML files; external links are listed,
never fetched.

Artifacts (in ``$GDLINALG_ARTIFACTS`` or ``test-artifacts/`` at the repository root, git-ignored):
``browser/report.json`` (pages, requests, axe results, page weight), ``browser/external-links.txt``
and ``browser/screenshots/<chapter>-{desktop,phone}-{light,dark}[-full].png`` (the first screen and
the whole page) and ``<chapter>-figure-dark.png``.

Without chromium or playwright these tests are skipped locally and FAIL under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import io
import json
import os
import posixpath
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
import yaml

from book_build import REPO, build, copy_book

pytestmark = pytest.mark.book

bs4 = pytest.importorskip("bs4")

CHROMIUM = os.environ.get("GDLINALG_CHROMIUM", "/usr/bin/chromium")
AXE_JS = REPO / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(os.environ.get("GDLINALG_ARTIFACTS") or REPO / "test-artifacts") / "browser"
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")

#: The chapter screenshotted and weighed.
CHAPTER = "book/derivatives"
#: A word from a chapter, and the page the search must list for it.
SEARCH = ("autograd", "book/derivatives.html")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 812}
#: WCAG 2.1 A and AA rules.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = ("serious", "critical")
#: Pages open at once (each in its own renderer process).
WORKERS = max(2, min(4, os.cpu_count() or 2))
#: Chromium as root in a container, with nothing in the background that talks to Google, and a
#: resolver that knows no host but this one: the network is off for the page.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} — CI must install it (see .ci/run)", pytrace=False)
    pytest.skip(reason)


# ------------------------------------------------------------------------------------------------
# the site
# ------------------------------------------------------------------------------------------------


def site_pages(html: Path) -> list[str]:
    """Every HTML page of the built site, as paths relative to its root."""
    skip = ("_static/", "_sources/", "_images/", "jupyter_execute/")
    return sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html")
                  if not p.relative_to(html).as_posix().startswith(skip))


REFRESH = re.compile(r"""<meta\s+http-equiv=["']?refresh["']?\s+content=["']?\s*0\s*;\s*url=([^"'>\s]+)""", re.I)


def redirect_target(path: Path) -> str | None:
    """Where a redirect stub (``index.html``, a moved chapter) sends the browser, if it is one."""
    m = REFRESH.search(path.read_text(encoding="utf-8")[:4000])
    return m.group(1) if m else None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # noqa: D102 - keep pytest's output clean
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A redirect stub's request that the browser abandons mid-response is not an error.
        import sys
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)




@pytest.fixture(scope="module")
def site(book):
    handler = functools.partial(_QuietHandler, directory=str(book.html))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------------------------------
# one visit
# ------------------------------------------------------------------------------------------------

#: Font Awesome icons, as the theme's script draws them (svg) or before it does (i, span).
ICON_SELECTOR = 'svg.svg-inline--fa, i[class*="fa-"], span[class*="fa-"]'
#: The largest an icon of the theme's chrome is drawn (the largest, fa-lg in the header, is ~20 px).
MAX_ICON_PX = 32

PAGE_FACTS = """() => {
  const visible = (el) => el.checkVisibility() && el.getBoundingClientRect().height > 0;
  const folded = (el) => el.closest('details:not([open]), .toggle-hidden, .dropdown:not(.toggle-shown)');
  const imgs = [...document.images];
  const maths = [...document.querySelectorAll('span.math, div.math')];
  const outputs = [...document.querySelectorAll('div.cell_output')];
  const root = document.documentElement;
  const width = root.clientWidth;
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\\s+/).join('.') : '') +
    ' right=' + Math.round(el.getBoundingClientRect().right) + ' "' + (el.textContent || '').trim().slice(0, 40) + '"';
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== 'visible') return true;
    }
    return false;
  };
  // What sticks out on the right (outside any scrolling box), for the failure message.
  const wide = root.scrollWidth <= width ? [] : [...document.body.querySelectorAll('*')].filter((el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.right > width + 1 && getComputedStyle(el).position !== 'fixed' && !clipped(el);
  }).slice(-5).map(describe);
  return {
    title: document.title,
    images: imgs.length,
    brokenImages: imgs.filter((i) => !(i.complete && i.naturalWidth > 0)).map((i) => i.currentSrc || i.src),
    math: maths.length,
    untypeset: maths.filter((m) => !m.querySelector('mjx-container')).map((m) => m.textContent.slice(0, 80)),
    mathErrors: [...document.querySelectorAll('mjx-merror')].map((e) => e.getAttribute('data-mjx-error') || e.textContent),
    outputs: outputs.length,
    foldedOutputs: outputs.filter(folded).length,
    invisibleOutputs: outputs.filter((o) => !folded(o) && !visible(o)).map((o) => o.textContent.trim().slice(0, 80)),
    emptyOutputs: outputs.filter((o) => !o.textContent.trim() && !o.querySelector('img, svg, table')).length,
    scrollWidth: root.scrollWidth,
    clientWidth: width,
    wide,
    bigIcons: [...document.querySelectorAll(ICONS)].filter(visible).filter((el) => {
      const r = el.getBoundingClientRect();
      return r.width > MAX_ICON || r.height > MAX_ICON;
    }).map((el) => describe(el) + ' ' + Math.round(el.getBoundingClientRect().width) + 'x' +
                   Math.round(el.getBoundingClientRect().height)),
  };
}""".replace("ICONS", repr(ICON_SELECTOR)).replace("MAX_ICON", str(MAX_ICON_PX))

AXE_RUN = """async (tags) => {
  const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(' '), html: n.html.slice(0, 200),
                                summary: n.failureSummary}))}));
}"""

SETTLE = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await document.fonts.ready;
}"""

WEIGHT = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  const byType = {};
  for (const e of res) {
    const ext = (new URL(e.name).pathname.match(/\\.([a-z0-9]+)$/) || [, 'other'])[1];
    byType[ext] = (byType[ext] || 0) + e.decodedBodySize;
  }
  return {html: nav.decodedBodySize, files: res.length + 1, byType,
          total: nav.decodedBodySize + res.reduce((s, e) => s + e.decodedBodySize, 0)};
}"""


@dataclass
class Visit:
    page: str
    mode: str  # "light" | "dark"
    device: str  # "desktop" | "phone"
    redirect: str | None = None
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)
    axe: list[dict] | None = None
    seconds: float = 0.0


async def new_context(browser, mode: str, device: str):
    ctx = await browser.new_context(
        viewport=PHONE if device == "phone" else DESKTOP,
        is_mobile=device == "phone", has_touch=device == "phone",
        color_scheme=mode, reduced_motion="reduce", service_workers="block",
    )
    # pydata-sphinx-theme reads the mode from localStorage before the page is painted.
    await ctx.add_init_script(f"localStorage.setItem('mode', '{mode}'); localStorage.setItem('theme', '{mode}');")
    return ctx


async def visit(ctx, base: str, v: Visit, *, axe: bool, hook=None) -> Visit:
    t0 = time.perf_counter()
    page = await ctx.new_page()
    target = urljoin(base + v.page, v.redirect) if v.redirect is not None else None

    def on_failed(r):
        # A redirect stub's own loads (the stub, its favicon) are cancelled by the navigation it
        # starts. Its target is crawled as a page of its own, so nothing escapes the checks.
        if not (target is not None and r.failure == "net::ERR_ABORTED"):
            v.failed.append(f"{r.url}: {r.failure}")

    page.on("request", lambda r: v.requests.append(r.url))
    page.on("requestfailed", on_failed)
    page.on("response", lambda r: r.status >= 400 and v.failed.append(f"{r.url}: HTTP {r.status}"))
    page.on("console", lambda m: m.type == "error" and v.console.append(f"{m.text} ({m.location.get('url')})"))
    page.on("pageerror", lambda e: v.console.append(f"uncaught: {e}"))
    try:
        if target is not None:
            async with page.expect_navigation(url=lambda u: u.split("#")[0] == target):
                await page.goto(base + v.page, wait_until="commit")
            await page.wait_for_load_state("load")
            await page.evaluate(SETTLE)
        else:
            await page.goto(base + v.page, wait_until="load")
            await page.evaluate(SETTLE)  # math typeset, web fonts loaded
            v.facts = await page.evaluate(PAGE_FACTS)
            if axe:
                await page.add_script_tag(content=AXE_JS.read_text(encoding="utf-8"))
                v.axe = await page.evaluate(AXE_RUN, AXE_TAGS)
            if hook is not None:
                await hook(page, v)
    finally:
        await page.close()
    v.seconds = time.perf_counter() - t0
    return v


# ------------------------------------------------------------------------------------------------
# the crawl: every page, three ways, once per module
# ------------------------------------------------------------------------------------------------


@dataclass
class Crawl:
    base: str
    pages: list[str]
    visits: list[Visit]
    figures: list[dict]
    weight: dict
    screenshots: list[Path]
    search: dict
    seconds: float
    first_visits: dict = field(default_factory=dict)
    print_facts: dict = field(default_factory=dict)


VISIBLE_SEARCH_FIELDS = """() => [...document.querySelectorAll('.search-button-field')]
  .filter((el) => el.checkVisibility() && el.getBoundingClientRect().width > 0).length"""
#: A first-time reader on a 1280x900 screen sees a way to search without scrolling anything.
FIRST_SCREEN = {"width": 1280, "height": 900}
SEARCH_IN_VIEW = """() => [...document.querySelectorAll('.search-button-field, .search-button')]
  .filter((el) => {
    const r = el.getBoundingClientRect();
    return el.checkVisibility() && r.width > 0 && r.top >= 0 && r.bottom <= innerHeight
      && r.left >= 0 && r.right <= innerWidth;
  }).length"""

#: What must not show when a chapter is printed: the site's chrome around the chapter.
PRINT_HIDDEN = """() => {
  const chrome = ['.bd-header', '.bd-sidebar-primary', '.bd-sidebar-secondary', '.bd-header-article',
                  '.prev-next-footer', '.bd-footer', '.bd-footer-content', '#pst-back-to-top',
                  '.search-button-field', 'button.copybtn', '.headerlink'];
  const visible = (el) => el.checkVisibility() && el.getBoundingClientRect().height > 0;
  return {
    article: visible(document.querySelector('article.bd-article')),
    title: [...document.querySelectorAll('article.bd-article h1, #jb-print-docs-body h1')].some(visible),
    visible: chrome.flatMap((sel) => [...document.querySelectorAll(sel)].filter(visible).map(() => sel)),
  };
}"""


async def first_visit(browser, base: str, path: str) -> dict:
    """One page in a profile of its own: empty cache, nothing in localStorage."""
    ctx = await browser.new_context(viewport=FIRST_SCREEN, service_workers="block")
    page = await ctx.new_page()
    console, requests = [], []
    page.on("console", lambda m: m.type == "error" and console.append(m.text))
    page.on("pageerror", lambda e: console.append(f"uncaught: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    try:
        await page.goto(base + path, wait_until="load")
        await page.evaluate(SETTLE)
        await page.wait_for_timeout(300)  # late icon/font loads are part of the weight
        weight = await page.evaluate(WEIGHT)
        fields = await page.evaluate(VISIBLE_SEARCH_FIELDS)
        in_view = await page.evaluate(SEARCH_IN_VIEW)
    finally:
        await ctx.close()
    return {"weight": weight, "console": console, "searchFields": fields, "searchInView": in_view,
            "requests": requests}


async def print_chapter(browser, base: str, path: str) -> dict:
    ctx = await browser.new_context(viewport=DESKTOP)
    page = await ctx.new_page()
    try:
        await page.goto(base + path, wait_until="load")
        await page.emulate_media(media="print")
        return await page.evaluate(PRINT_HIDDEN)
    finally:
        await ctx.close()


def luminance(rgb) -> float:
    """WCAG relative luminance of an sRGB colour (0-255 channels)."""
    def lin(c):
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (lin(float(c)) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(l1: float, l2: float) -> float:
    hi, lo = max(l1, l2), min(l1, l2)
    return (hi + 0.05) / (lo + 0.05)


def figure_contrast(png: bytes) -> dict:
    """A screenshot of a figure as shown: its background (the most common colour) against its
    darkest 1 % of pixels (axis labels, lines)."""
    import numpy as np
    from PIL import Image

    px = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    colours, counts = np.unique(px, axis=0, return_counts=True)
    bg = luminance(colours[counts.argmax()])
    lum = np.array([luminance(c) for c in colours])
    order = np.argsort(lum)
    cumulative = np.cumsum(counts[order])
    ink = float(lum[order][np.searchsorted(cumulative, 0.01 * cumulative[-1])])
    return {"background_luminance": round(bg, 3), "ink_luminance": round(ink, 3),
            "contrast": round(contrast(bg, ink), 2)}


async def run_crawl(html: Path, base: str) -> Crawl:
    from playwright.async_api import async_playwright

    t0 = time.perf_counter()
    pages = site_pages(html)
    shots = ARTIFACTS / "screenshots"
    if shots.exists():
        shutil.rmtree(shots)
    shots.mkdir(parents=True)
    figures: list[dict] = []
    weight: dict = {}
    screenshots: list[Path] = []
    search: dict = {}
    chapter = f"{CHAPTER}.html"
    slug = CHAPTER.replace("/", "-")

    async def dark_figures(page, v):
        for img in await page.locator("article.bd-article img").all():
            src = await img.get_attribute("src") or ""
            if "_images/" not in src or not await img.is_visible():
                continue  # (a figure in a folded solution: its file is checked by test_book.py)
            png = await img.screenshot(timeout=10_000)
            if v.page == chapter and not any(f["page"] == chapter for f in figures):
                (shots / f"{slug}-figure-dark.png").write_bytes(png)
            figures.append({"page": v.page, "src": src, **figure_contrast(png)})

    def chapter_hook(device, mode):
        async def hook(page, v):
            if device == "desktop" and mode == "light":
                weight.update(await page.evaluate(WEIGHT))
            if device == "desktop" and mode == "dark":
                await dark_figures(page, v)
            # What a reader sees first, and the whole page (sticky sidebars show only in the first).
            for suffix, full in (("", False), ("-full", True)):
                target = shots / f"{slug}-{device}-{mode}{suffix}.png"
                await page.screenshot(path=str(target), full_page=full)
                screenshots.append(target)
        return hook

    async def search_page(ctx):
        term, expected = SEARCH
        page = await ctx.new_page()
        errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        try:
            await page.goto(f"{base}search.html?q={term}")
            await page.wait_for_selector("#search-results ul.search li a", timeout=20_000)
            hrefs = await page.eval_on_selector_all(
                "#search-results ul.search li a", "els => els.map(e => e.getAttribute('href'))")
        finally:
            await page.close()
        search.update(term=term, expected=expected, hrefs=hrefs, console=errors)

    visits: list[Visit] = []
    jobs = []
    for mode, device in (("light", "desktop"), ("dark", "desktop"), ("light", "phone"), ("dark", "phone")):
        for path in pages:
            if device == "phone" and mode == "dark" and path != chapter:
                continue  # the dark phone pass only makes the screenshot
            hook = chapter_hook(device, mode) if path == chapter else (
                dark_figures if (mode, device) == ("dark", "desktop") else None)
            v = Visit(path, mode, device, redirect_target(html / path))
            visits.append(v)
            jobs.append((v, hook))

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            contexts = {(m, d): await new_context(browser, m, d)
                        for m, d in {(v.mode, v.device) for v, _ in jobs}}
            # A few pages at a time: each runs in its own renderer process.
            gate = asyncio.Semaphore(WORKERS)

            async def run(v, hook):
                async with gate:
                    await visit(contexts[v.mode, v.device], base, v,
                                axe=v.device == "desktop", hook=hook)

            # The search page in a profile of its own: it stores the searched words in
            # localStorage, and every later page of the same profile would highlight them
            # (sphinx_highlight.js), so the other visits would not be first visits.
            search_ctx = await new_context(browser, "light", "desktop")
            await asyncio.gather(search_page(search_ctx), *(run(v, hook) for v, hook in jobs))
            first = {}
            for path in pages:
                if redirect_target(html / path) is None:
                    async with gate:
                        first[path] = await first_visit(browser, base, path)
            printed = await print_chapter(browser, base, chapter)
        finally:
            await browser.close()
    return Crawl(base, pages, visits, figures, weight, screenshots, search, time.perf_counter() - t0,
                 first, printed)


@pytest.fixture(scope="module")
def crawl(book, site) -> Crawl:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        unavailable("playwright (pip) is not installed")
    if not Path(CHROMIUM).is_file():
        unavailable(f"{CHROMIUM} is missing: apt-get install -y chromium")
    if not AXE_JS.is_file():
        unavailable("axe-core is not installed: run `npm ci` in the repository root")
    result = asyncio.run(run_crawl(book.html, site))
    write_report(result)
    print(f"\nbrowser crawl: {len(result.visits)} visits of {len(result.pages)} pages "
          f"in {result.seconds:.1f} s; report in {ARTIFACTS / 'report.json'}")
    return result


def write_report(c: Crawl) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def rel(url):
        return url[len(c.base):] if url.startswith(c.base) else url

    report = {
        "base": c.base,
        "seconds": round(c.seconds, 1),
        "pages": c.pages,
        "chapter_page_weight": {"page": f"{CHAPTER}.html", **c.weight},
        "first_visit_page_weights": {p: f["weight"] for p, f in c.first_visits.items()},
        "first_visit_console": {p: f["console"] for p, f in c.first_visits.items()},
        "print": c.print_facts,
        "figures_dark": c.figures,
        "search": c.search,
        "screenshots": [str(p) for p in c.screenshots],
        "visits": [{
            "page": v.page, "mode": v.mode, "device": v.device, "redirect": v.redirect,
            "seconds": round(v.seconds, 2), "requests": [rel(u) for u in v.requests],
            "failed": v.failed, "console": v.console, "facts": v.facts, "axe": v.axe,
        } for v in c.visits],
    }
    (ARTIFACTS / "report.json").write_text(json.dumps(report, indent=1), encoding="utf-8")


def problems(crawl: Crawl, check) -> list[str]:
    out = []
    for v in crawl.visits:
        for p in check(v) or []:
            out.append(f"{v.page} [{v.device}, {v.mode}]: {p}")
    return out


def content_visits(crawl: Crawl) -> list[Visit]:
    return [v for v in crawl.visits if v.redirect is None]


# ------------------------------------------------------------------------------------------------
# the checks
# ------------------------------------------------------------------------------------------------


def test_every_page_is_crawled(book, crawl):
    assert crawl.pages == site_pages(book.html)
    for name in ("index.html", "search.html", "genindex.html", f"{CHAPTER}.html", "book/intro.html"):
        assert name in crawl.pages
    assert len(crawl.visits) == 3 * len(crawl.pages) + 1
    # Redirect stubs (index.html, moved chapters) land on a page of the site.
    for v in crawl.visits:
        if v.redirect is not None:
            target = posixpath.normpath(posixpath.join(posixpath.dirname(v.page), v.redirect.split("#")[0]))
            assert target in crawl.pages, (v.page, v.redirect)


def test_no_request_leaves_the_host(crawl):
    host = urlsplit(crawl.base).netloc

    def off_host(v):
        return [u for u in v.requests
                if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).netloc != host]
    assert not problems(crawl, off_host)
    assert sum(len(v.requests) for v in crawl.visits) > 10 * len(crawl.visits)


def test_no_request_fails(crawl):
    assert not problems(crawl, lambda v: v.failed)


def test_no_console_errors(crawl):
    assert not problems(crawl, lambda v: v.console)


def test_every_image_loads(crawl):
    assert not problems(crawl, lambda v: v.facts.get("brokenImages"))
    assert sum(v.facts.get("images", 0) for v in crawl.visits) > 0


def test_math_is_typeset_with_the_network_off(crawl):
    chapter = next(v for v in crawl.visits if v.page == f"{CHAPTER}.html")
    assert chapter.facts["math"] > 10
    # Typeset at build time (_ext/light_pages.py): MathJax's CSS and fonts, no MathJax script.
    assert any(u.split("?")[0].endswith("_static/mathjax-chtml.css") for u in chapter.requests)
    assert not any("mathjax" in u and u.split("?")[0].endswith(".js") for u in chapter.requests)
    assert any(u.endswith(".woff") and "/mathjax/" in u for u in chapter.requests)
    assert not problems(crawl, lambda v: v.facts.get("untypeset"))
    assert not problems(crawl, lambda v: v.facts.get("mathErrors"))


def test_code_cell_outputs_are_visible(crawl):
    assert not problems(crawl, lambda v: v.facts.get("invisibleOutputs"))
    assert not problems(crawl, lambda v: ["empty output"] * v.facts.get("emptyOutputs", 0))
    chapter = next(v for v in crawl.visits if v.page == f"{CHAPTER}.html")
    assert chapter.facts["outputs"] - chapter.facts["foldedOutputs"] >= 3


def test_no_horizontal_overflow_on_a_phone(crawl):
    def overflow(v):
        f = v.facts
        if v.device == "phone" and f and f["scrollWidth"] > f["clientWidth"]:
            return [f"page is {f['scrollWidth']} px wide in a {f['clientWidth']} px viewport: {f['wide']}"]
        return []
    assert not problems(crawl, overflow)
    # Every page was measured on a phone, except the redirect stubs (index.html, moved or split
    # chapters), which have no content of their own.
    phone = [v for v in content_visits(crawl) if v.device == "phone"]
    assert {v.page for v in phone} == {v.page for v in content_visits(crawl)}
    assert all(v.facts for v in phone)


@pytest.mark.parametrize("mode", ["light", "dark"])
def test_axe_finds_no_serious_or_critical_violation(crawl, mode):
    def blocking(v):
        if v.mode != mode or v.axe is None:
            return []
        return [f"{x['impact']} {x['id']} ({x['help']}): "
                + "; ".join(n["target"] for n in x["nodes"][:5])
                for x in v.axe if x["impact"] in BLOCKING_IMPACTS]
    checked = [v for v in content_visits(crawl) if v.mode == mode and v.device == "desktop"]
    assert checked and all(v.axe is not None for v in checked)
    assert not problems(crawl, blocking)


def test_no_icon_of_the_chrome_is_drawn_larger_than_32_px(crawl):
    """The theme's icons (header buttons, search, contents, previous/next) at their size, on every
    page, at desktop and phone width, in light and dark mode."""
    assert {(v.device, v.mode) for v in content_visits(crawl)} == {
        (d, m) for d in ("desktop", "phone") for m in ("light", "dark")}
    assert not problems(crawl, lambda v: v.facts.get("bigIcons"))


def test_figures_stay_readable_in_dark_mode(crawl):
    assert len(crawl.figures) >= 3, "no figure was checked in dark mode"
    bad = [f for f in crawl.figures
           # A light background of its own (not the dark page showing through) and text-grade
           # contrast (WCAG 1.4.3, 4.5:1) between it and the figure's darkest marks.
           if f["background_luminance"] < 0.3 or f["contrast"] < 4.5]
    assert not bad, bad


def test_search_finds_a_term_from_a_chapter(crawl):
    s = crawl.search
    assert any(h.split("#")[0].split("?")[0] == s["expected"] for h in s["hrefs"]), s
    assert not s["console"]


def test_chapter_screenshots_are_saved(crawl):
    names = sorted(p.name for p in crawl.screenshots)
    slug = CHAPTER.replace("/", "-")
    assert names == sorted(f"{slug}-{d}-{m}{full}.png" for d in ("desktop", "phone")
                           for m in ("light", "dark") for full in ("", "-full"))
    for p in crawl.screenshots:
        assert p.stat().st_size > 10_000, p


#: Bytes over the wire for one page, first visit (issue 12: 4.0 MB before, 1.5 MB allowed).
PAGE_BUDGET = 1_500_000


def test_first_visit_has_no_console_error_and_every_page_is_within_budget(crawl):
    """Every page in a fresh browser profile (no localStorage, empty cache), as a first-time
    reader: no console error, one visible search field, and at most PAGE_BUDGET bytes."""
    first = crawl.first_visits
    assert sorted(first) == sorted(v.page for v in content_visits(crawl) if v.device == "desktop"
                                   and v.mode == "light")
    lines = []
    for page, f in sorted(first.items()):
        lines.append(f"{page:32s} {f['weight']['total'] / 1e6:5.2f} MB in {f['weight']['files']} files")
    print("\nfirst-visit page weights:\n" + "\n".join(lines))
    assert not {p: f["console"] for p, f in first.items() if f["console"]}
    assert not {p: f["searchFields"] for p, f in first.items() if f["searchFields"] != 1}
    assert not [p for p, f in first.items() if not f["searchInView"]], "no search in view at 1280x900"
    over = {p: f["weight"]["total"] for p, f in first.items() if f["weight"]["total"] > PAGE_BUDGET}
    assert not over, over
    assert not any("fontawesome.js" in u for f in first.values() for u in f["requests"])


def test_printing_a_chapter_prints_just_the_chapter(crawl):
    p = crawl.print_facts
    assert p["article"] and p["title"]
    assert p["visible"] == [], p["visible"]


def test_chapter_page_weight_is_reported(crawl):
    w = crawl.weight
    assert w and w["total"] > 0
    print(f"\n{CHAPTER}.html weighs {w['total'] / 1024:.0f} KiB in {w['files']} files: "
          + ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in sorted(w["byType"].items())))
    assert w["total"] < 6 * 1024 * 1024


# ------------------------------------------------------------------------------------------------
# the look: the lightened site against the theme as it is
# ------------------------------------------------------------------------------------------------

#: The chrome around a chapter, part by part (selectors of pydata-sphinx-theme / sphinx-book-theme).
CHROME = {
    "header": ".bd-header-article",
    "header buttons": ".bd-header-article .article-header-buttons > *",
    "primary sidebar": ".bd-sidebar-primary",
    "sidebar search field": ".bd-sidebar-primary .search-button-field",
    "secondary sidebar": ".bd-sidebar-secondary",
    "contents title": ".bd-sidebar-secondary .onthispage",
    "icons": ICON_SELECTOR,
    "previous/next": ".prev-next-area a",
}
CHROME_BOXES = """(parts) => {
  const out = {};
  for (const [name, sel] of Object.entries(parts)) {
    out[name] = [...document.querySelectorAll(sel)].filter((el) => el.checkVisibility()).map((el) => {
      const r = el.getBoundingClientRect();
      const cls = typeof el.className === 'string' ? el.className : el.getAttribute('class') || '';
      return {what: el.tagName.toLowerCase() + '.' + cls.trim().split(/\\s+/).filter((c) => c.startsWith('fa-') || !c.includes('-')).join('.'),
              x: r.x, y: r.y + scrollY, w: r.width, h: r.height};
    });
  }
  return out;
}"""
#: Within this many pixels the two sites draw a part in the same place and at the same size.
CHROME_TOLERANCE = 2.0


@pytest.fixture(scope="module")
def plain_site(book, tmp_path_factory):
    """The same book built with the theme's own assets (GDLINALG_LIGHT_PAGES=off, same execution
    cache), served like the site."""
    root = copy_book(tmp_path_factory.mktemp("plain"), cache_from=book.root / "_build" / ".jupyter_cache")
    plain = build(root, env={"GDLINALG_LIGHT_PAGES": "off"}, flags=("-W", "-n", "--keep-going"))
    assert plain.returncode == 0, plain.log[-4000:]
    handler = functools.partial(_QuietHandler, directory=str(plain.html))
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


async def chrome_boxes(bases: dict[str, str], path: str) -> dict:
    from playwright.async_api import async_playwright

    out = {}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for device in ("desktop", "phone"):
                for mode in ("light", "dark"):
                    ctx = await new_context(browser, mode, device)
                    for name, base in bases.items():
                        page = await ctx.new_page()
                        await page.goto(base + path, wait_until="load")
                        await page.evaluate(SETTLE)
                        # fontawesome.js (the theme's own site) draws its icons after load.
                        await page.wait_for_function(
                            "() => !document.querySelector('i[class*=\"fa-\"]:not([aria-hidden])')",
                            timeout=20_000)
                        out[device, mode, name] = await page.evaluate(CHROME_BOXES, CHROME)
                        await page.close()
                    await ctx.close()
        finally:
            await browser.close()
    return out


def test_the_lightened_site_looks_like_the_theme(site, plain_site):
    """The page lightening (_ext/light_pages.py) cuts bytes and must not change the look: every
    part of the chrome around a chapter — header and its buttons, sidebars, the search field,
    the contents title, every icon, previous/next — is drawn at the same place and size as by the
    theme's own assets, at desktop and phone width, in light and dark mode."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        unavailable("playwright (pip) is not installed")
    boxes = asyncio.run(chrome_boxes({"light": site, "theme": plain_site}, f"{CHAPTER}.html"))
    differences = []
    for device in ("desktop", "phone"):
        for mode in ("light", "dark"):
            ours, theirs = boxes[device, mode, "light"], boxes[device, mode, "theme"]
            for part in CHROME:
                a, b = ours[part], theirs[part]
                if [x["what"] for x in a] != [x["what"] for x in b]:
                    differences.append(f"{device} {mode} {part}: {[x['what'] for x in a]} != {[x['what'] for x in b]}")
                    continue
                # Positions below the first screen depend on the length of the page: sizes only.
                keys = ("w", "h") if part == "previous/next" else ("x", "y", "w", "h")
                for x, y in zip(a, b):
                    off = {k: round(x[k] - y[k], 1) for k in keys if abs(x[k] - y[k]) > CHROME_TOLERANCE}
                    if off and not (part == "icons" and y["y"] > 1000 and set(off) <= {"x", "y"}):
                        differences.append(f"{device} {mode} {part} {x['what']}: {off}")
    assert sum(len(v) for v in boxes["desktop", "light", "theme"].values()) > 20
    assert not differences, "\n".join(differences)


# ------------------------------------------------------------------------------------------------
# links: resolved from the files, external ones listed and never fetched
# ------------------------------------------------------------------------------------------------

EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def test_internal_links_and_anchors_resolve(book):
    html = book.html
    ids: dict[Path, set[str]] = {}

    def anchors(path: Path) -> set[str]:
        if path not in ids:
            s = bs4.BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
            ids[path] = {t["id"] for t in s.find_all(id=True)} | {t["name"] for t in s.find_all("a", attrs={"name": True})}
        return ids[path]

    broken, external, checked = [], set(), 0
    for name in site_pages(html):
        page = html / name
        s = bs4.BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        for tag, attr in (("a", "href"), ("link", "href"), ("img", "src"), ("script", "src"),
                          ("source", "src"), ("iframe", "src")):
            for el in s.find_all(tag, attrs={attr: True}):
                url = el[attr].strip()
                if not url or url.startswith(("javascript:", "data:")):
                    continue
                if EXTERNAL.match(url) or url.startswith("//"):
                    external.add(url)
                    continue
                parts = urlsplit(url)
                target = page if not parts.path else (page.parent / unquote(parts.path))
                target = Path(posixpath.normpath(target.as_posix()))
                if target.is_dir():
                    target = target / "index.html"
                checked += 1
                if not target.is_file():
                    broken.append(f"{name}: {url} (no file)")
                elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in anchors(target):
                    broken.append(f"{name}: {url} (no anchor)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "external-links.txt").write_text("".join(f"{u}\n" for u in sorted(external)))
    print(f"\n{checked} internal links resolved; {len(external)} external links listed (not fetched) "
          f"in {ARTIFACTS / 'external-links.txt'}")
    assert checked > 100
    assert not broken, "\n".join(broken)


# ------------------------------------------------------------------------------------------------
# the extension that makes the site self-contained (fast, no build)
# ------------------------------------------------------------------------------------------------


def load_offline_assets():
    import importlib.util

    spec = importlib.util.spec_from_file_location("offline_assets", REPO / "_ext" / "offline_assets.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_missing_mathjax_fails_the_build_instead_of_using_a_cdn(tmp_path):
    from types import SimpleNamespace

    from sphinx.errors import ConfigError

    ext = load_offline_assets()
    config = SimpleNamespace(offline_mathjax_dir="", mathjax_path="https://cdn.example/mathjax.js",
                             html_static_path=[], templates_path=[], html_favicon=None)
    app = SimpleNamespace(confdir=str(tmp_path), config=config)
    with pytest.raises(ConfigError, match="npm ci"):
        ext.use_local_mathjax(app, config)
    (tmp_path / "node_modules" / "mathjax" / "es5").mkdir(parents=True)
    (tmp_path / "node_modules" / "mathjax" / "es5" / ext.MATHJAX_COMPONENT).write_text("//")
    ext.use_local_mathjax(app, config)
    assert config.mathjax_path == "mathjax/tex-chtml.js" and "://" not in config.mathjax_path
    assert config.templates_path[0].endswith("templates")
    assert yaml.safe_load((REPO / "_config.yml").read_text())["html"]["favicon"] == "_ext/static/favicon.svg"


def test_inline_scripts_added_twice_by_sphinx_are_merged():
    from sphinx.builders.html._assets import _JavaScript

    ext = load_offline_assets()
    body = 'const THEBE_JS_URL = "x"'
    files = [_JavaScript("_static/a.js"), _JavaScript(None, body=body), _JavaScript("", body=body),
             _JavaScript("", body="let y = 1"), _JavaScript("_static/a.js")]
    context = {"script_files": files}
    ext.dedupe_scripts(None, "page", "page.html", context, None)
    assert [(js.filename, js.attributes.get("body")) for js in context["script_files"]] == [
        ("_static/a.js", None), (None, body), ("", "let y = 1")]
