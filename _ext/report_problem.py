"""Report a problem: the theme's issues button, prefilled with the page and the book's version.

sphinx-book-theme's "Open issue" button (``html.use_issues_button``) opens a new GitHub issue
titled ``Issue on page /book/x.html`` with the body ``Your issue content here.``. A maintainer
then has to ask which version the reader saw. Here the button is called "Report a problem" and
the new issue names the chapter, its canonical address, the book's version and the exact sources
(``book_source_ref``), with prompts for what is wrong and what was expected.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sphinx.application import Sphinx

ISSUE_BODY = """\
**Page:** [{title}]({url})
**Book version:** {version} (sources `{ref}`)

**What is wrong** (the section, sentence, number, figure or code cell):


**What you expected, or a suggested fix:**

"""


def issue_url(repository_url: str, *, title: str, url: str, version: str, ref: str) -> str:
    query = urlencode({"title": f"Problem in “{title}” (version {version})",
                       "body": ISSUE_BODY.format(title=title, url=url, version=version, ref=ref)})
    return f"{repository_url.rstrip('/')}/issues/new?{query}"


def prefill_issue_button(app: Sphinx, pagename: str, templatename: str,
                         context: dict[str, Any], doctree: Any) -> None:
    repo = app.config.html_theme_options.get("repository_url", "")
    if "github.com/" not in repo:
        return
    title = (app.env.titles[pagename].astext() if pagename in app.env.titles
             else context.get("title", pagename))
    page = (app.config.html_baseurl or "") + pagename + ".html"
    url = issue_url(repo, title=title, url=page, version=app.config.book_version,
                    ref=app.config.book_source_ref)
    groups = [b for g in context.get("header_buttons", []) for b in g.get("buttons", [g])]
    for button in groups:
        if button.get("label") == "source-issues-button":
            button.update(url=url, text="Report a problem",
                          tooltip="Report a problem with this page (opens a GitHub issue)")


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("book_release")
    # After sphinx-book-theme has added its source buttons (priority 501).
    app.connect("html-page-context", prefill_issue_button, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
