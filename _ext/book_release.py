"""Which release of the book this build is: a Sphinx extension shared by the others.

A reader who opens a chapter in Colab, reports a problem or cites version X must land on the text
and the package that the page was built from. So the build records, at ``config-inited``:

- ``book_version``: the version in ``CITATION.cff`` (the one place it is written);
- ``book_source_ref``: the git ref that names the sources exactly — the release tag when the
  checked-out commit is tagged ``v<version>`` (or ``<version>``), otherwise the full commit hash.
  ``BOOK_SOURCE_REF`` in the environment overrides it. Without git (a release archive, a copy of
  the sources) it is the release tag ``v<version>``, which is what such a copy was made from.

Both are plain config values (``rebuild="env"``), so every other extension reads them from
``app.config``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util import logging

logger = logging.getLogger(__name__)


def cff_version(root: Path, cff: str = "CITATION.cff") -> str:
    data = yaml.safe_load((root / cff).read_text(encoding="utf-8"))
    return str(data["version"])


def _git(root: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


def source_ref(root: Path, version: str, environ: dict[str, str] | None = None) -> str:
    """The tag or commit that identifies the sources at ``root`` (see the module docstring)."""
    environ = os.environ if environ is None else environ
    if environ.get("BOOK_SOURCE_REF"):
        return environ["BOOK_SOURCE_REF"]
    # Only when root is the top of its own repository: a copy inside another checkout (a test's
    # temporary directory) must not borrow that checkout's commit.
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != root.resolve():
        return f"v{version}"
    tags = set((_git(root, "tag", "--points-at", "HEAD") or "").split())
    for tag in (f"v{version}", version):
        if tag in tags:
            return tag
    return _git(root, "rev-parse", "HEAD") or f"v{version}"


def record_release(app: Sphinx, config: Config) -> None:
    root = Path(app.confdir)
    config.book_version = cff_version(root)
    config.book_source_ref = source_ref(root, config.book_version)
    logger.info(f"[book_release] version {config.book_version}, sources {config.book_source_ref}")


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("book_version", "", "env")
    app.add_config_value("book_source_ref", "", "env")
    # Before the extensions that use them (default priority 500).
    app.connect("config-inited", record_release, priority=450)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
