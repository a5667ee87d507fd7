"""Sphinx extension: author-year citations that tell apart works by the same authors in the same year.

The book cites five posts and repositories of one author from 2020, and two Wikipedia articles of
the same year. With sphinxcontrib-bibtex's ``author_year`` style every one of them reads
"[Wittmann, 2020]" in the text, so a reader cannot tell which work is meant. Author-year styles
resolve this with a letter after the year (2020a, 2020b, ...), assigned in the order of the titles.

``references.bib`` keeps plain numeric years, as a bibliography must (other tools read it). After
sphinxcontrib-bibtex has loaded the file (``builder-inited``), this extension gives every entry of
such a group the letter suffix in the loaded data only, so the in-text citations and the list of
references agree. Running it twice gives the same result: the letter is recomputed from the digits.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from sphinx.application import Sphinx

_DIGITS = re.compile(r"\d+")


def _authors(entry: Any) -> tuple[str, ...]:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    return tuple(" ".join(p.last_names) for p in people)


def disambiguate(entries: dict) -> dict[str, str]:
    """New ``year`` for each entry key that shares its authors and year with another entry."""
    groups: dict[tuple, list] = defaultdict(list)
    for key, entry in entries.items():
        match = _DIGITS.match(entry.fields.get("year", ""))
        if match:
            groups[(_authors(entry), match.group(0))].append(key)
    years = {}
    for (_, year), keys in groups.items():
        if len(keys) > 1:
            keys.sort(key=lambda k: entries[k].fields.get("title", "").lower())
            for i, key in enumerate(keys):
                years[key] = f"{year}{chr(ord('a') + i)}"
    return years


def apply(app: Sphinx) -> None:
    domain = app.env.get_domain("cite")
    entries = domain.bibdata.data.entries
    for key, entry in entries.items():     # back to the digits, in case the data were cached
        match = _DIGITS.match(entry.fields.get("year", ""))
        if match:
            entry.fields["year"] = match.group(0)
    for key, year in disambiguate(entries).items():
        entries[key].fields["year"] = year


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinxcontrib.bibtex")
    # After sphinxcontrib-bibtex has (re)loaded the bibliography (default priority 500).
    app.connect("builder-inited", apply, priority=600)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
