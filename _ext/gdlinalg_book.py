"""Local Sphinx extension for the gdlinalg book (listed in ``_config.yml`` under
``sphinx.local_extensions``), so that the README's plain ``jupyter-book build`` does all of this.

1. **No stale outputs.** myst-nb's jupyter-cache keys a notebook on its code cells only, so a change
   to ``gdlinalg`` would otherwise leave every chapter showing outputs computed by the old package.
   At ``config-inited`` we hash the sources of the packages the chapters import
   (``book_cache_packages``, default ``["gdlinalg"]``: every ``*.py`` under the package directory
   that ``import`` would use, plus the versions of the numerical stack) and point
   ``nb_execution_cache_path`` at ``<base>/<hash>``, where ``<base>`` is the configured
   ``execute.cache`` or ``_build/.jupyter_cache``. A new hash means an empty cache, so every chapter
   is executed again; caches of older hashes are deleted. The hash is also stored in the config
   value ``book_cache_key`` (rebuild="env"), so that even an incremental build (without ``--all``)
   re-reads every page when the package changes.
2. **Links into PyTorch's and Python's documentation** without network access (no intersphinx
   inventory download): an unresolved Python cross-reference to ``torch.*`` (from the docstrings,
   e.g. ``:func:`torch.linalg.solve```) becomes a link to pytorch.org (likewise ``matplotlib.*`` and
   ``numpy.*`` to their documentation), and one to a standard-library
   object (e.g. ``collections.abc.Sequence``) a link to docs.python.org, instead of a nitpick
   warning. Any other unresolved reference still fails the strict build.
3. ``{{ repository_url }}`` as a MyST substitution, so that the repository URL lives in one place
   (``repository.url`` in ``_config.yml``).
4. **Encrypted kernels, no transport warning.** ipykernel 7 warns ``Kernel is running over TCP
   without encryption`` (a ``WARNING`` line per executed page in a "zero warnings" build) unless
   the kernel manager provisions CurveZMQ keys. jupyter-client offers that as
   ``KernelManager.transport_encryption = "auto"`` (used when the kernelspec declares
   ``supported_encryption: curve``, as ipykernel's does), but myst-nb and jupyter-cache create
   their kernel managers without a config object to set it in. So, when libzmq has CURVE, the
   extension makes ``"auto"`` the default of that trait before any kernel starts: the chapters'
   kernels talk to the build over encrypted sockets, and the warning has no cause left.
5. **Glued numbers written as prose.** Python's ``e`` format pads the exponent (``f"{3e-5:.0e}"``
   is ``3e-05``, ``f"{1e6:.0e}"`` is ``1e+06``); in a sentence that reads like program output. Every
   number a ``{glue:text}`` role pastes has its exponent written plainly (``3e-5``, ``1e6``), in one
   place for the website, the PDF and the reader notebooks, which are all made from the same
   document tree. (``tests/book/test_statements.py`` checks the result on every page.)
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Distributions whose versions are part of the cache key: a new torch can change every number.
KEY_DISTRIBUTIONS = ("torch", "numpy", "matplotlib", "myst-nb")
#: Length of the hex digest used as the cache directory name.
KEY_LENGTH = 16


# ------------------------------------------------------------------------------------------------
# 1. cache key
# ------------------------------------------------------------------------------------------------


def package_dirs(name: str, fallback_root: Path | None = None) -> list[Path]:
    """The directories ``import name`` would load ``name`` from, without importing it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return sorted(Path(p).resolve() for p in spec.submodule_search_locations)
    if spec is not None and spec.origin:  # a single-module "package"
        return [Path(spec.origin).resolve()]
    if fallback_root is not None and (fallback_root / name).is_dir():
        return [(fallback_root / name).resolve()]
    return []


def source_hash(packages: list[str], fallback_root: Path | None = None,
                distributions: tuple[str, ...] = KEY_DISTRIBUTIONS) -> str:
    """Hash of every ``*.py`` file of ``packages`` (path and bytes) and of the stack's versions."""
    h = hashlib.sha256()
    for name in packages:
        h.update(f"package:{name}\n".encode())
        for root in package_dirs(name, fallback_root):
            files = [root] if root.is_file() else sorted(
                p for p in root.rglob("*.py") if "__pycache__" not in p.parts
            )
            for path in files:
                rel = path.name if root.is_file() else path.relative_to(root).as_posix()
                h.update(f"file:{rel}\n".encode())
                h.update(path.read_bytes())
                h.update(b"\n")
    for dist in distributions:
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = "absent"
        h.update(f"dist:{dist}=={version}\n".encode())
    return h.hexdigest()[:KEY_LENGTH]


def _cache_base(app: Sphinx, config: Config) -> Path:
    configured = config.nb_execution_cache_path
    if configured:
        base = Path(configured)
        if not base.is_absolute():
            base = Path(app.confdir) / base
        return base
    return Path(app.outdir).parent / ".jupyter_cache"


def key_execution_cache(app: Sphinx, config: Config) -> None:
    key = source_hash(list(config.book_cache_packages), Path(app.confdir))
    base = _cache_base(app, config)
    path = (base / key).resolve()
    if base.is_dir():
        for old in base.iterdir():
            # Only our own key directories (16 hex digits): never touch anything else.
            if old.is_dir() and old.name != key and len(old.name) == KEY_LENGTH and all(
                c in "0123456789abcdef" for c in old.name
            ):
                logger.info(f"[gdlinalg_book] removing stale execution cache {old}")
                shutil.rmtree(old, ignore_errors=True)
    config.nb_execution_cache_path = str(path)
    config.book_cache_key = key
    logger.info(f"[gdlinalg_book] execution cache key {key} -> {path}")


# ------------------------------------------------------------------------------------------------
# 2. torch cross-references
# ------------------------------------------------------------------------------------------------

TORCH_DOCS = "https://pytorch.org/docs/stable/"
_TORCH_MODULE_PAGES = {"torch": "torch.html", "torch.linalg": "linalg.html",
                       "torch.autograd": "autograd.html", "torch.optim": "optim.html",
                       "torch.autograd.functional": "autograd.html#functional-higher-level-api"}


PYTHON_DOCS = "https://docs.python.org/3/library/"
#: Other libraries the docstrings mention: (API root for modules, address pattern for objects).
OTHER_DOCS = {
    "matplotlib": ("https://matplotlib.org/stable/api/index.html",
                   "https://matplotlib.org/stable/api/_as_gen/{target}.html"),
    "numpy": ("https://numpy.org/doc/stable/reference/index.html",
              "https://numpy.org/doc/stable/reference/generated/{target}.html"),
}


def _stdlib_uri(target: str) -> str | None:
    """docs.python.org address of a standard-library object, e.g. ``collections.abc.Sequence``."""
    parts = target.split(".")
    if parts[0] not in getattr(sys, "stdlib_module_names", ()):
        return None
    for k in range(len(parts), 0, -1):
        name = ".".join(parts[:k])
        try:
            if importlib.util.find_spec(name) is not None:
                return f"{PYTHON_DOCS}{name}.html#{target}"
        except (ImportError, ValueError, AttributeError):
            continue
    return None


def python_object_exists(target: str) -> bool:
    """Whether ``target`` names a module or an object of one: the longest importable prefix,
    then attributes (``torch.linalg.solve``: module ``torch.linalg``, attribute ``solve``)."""
    parts = target.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        for attr in parts[k:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def _reference(uri: str, title: str, contnode: nodes.Node) -> nodes.Node:
    ref = nodes.reference("", "", internal=False, refuri=uri, reftitle=title)
    ref += contnode
    return ref


def external_reference(app: Sphinx, env: Any, node: Any, contnode: nodes.Node) -> nodes.Node | None:
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    top = target.split(".")[0]
    if top in ("torch", *OTHER_DOCS) and not python_object_exists(target):
        return None   # a mistyped name stays a nitpick warning, and the strict build fails
    if top in OTHER_DOCS and "." in target:
        root, pattern = OTHER_DOCS[top]
        uri = root if node.get("reftype") == "mod" else pattern.format(target=target)
        return _reference(uri, f"(in {top}) {target}", contnode)
    if top != "torch":
        uri = _stdlib_uri(target)
        return _reference(uri, f"(in Python) {target}", contnode) if uri else None
    if node.get("reftype") == "mod" or target in _TORCH_MODULE_PAGES:
        uri = TORCH_DOCS + _TORCH_MODULE_PAGES.get(target, "torch.html")
    elif target == "torch.Tensor":
        uri = TORCH_DOCS + "tensors.html"
    elif target in ("torch.dtype", "torch.device", "torch.layout"):
        uri = TORCH_DOCS + "tensor_attributes.html#" + target
    elif target.startswith("torch.return_types."):
        uri = TORCH_DOCS + "torch.html"
    else:
        uri = f"{TORCH_DOCS}generated/{target}.html"
    return _reference(uri, f"(in PyTorch) {target}", contnode)


# ------------------------------------------------------------------------------------------------
# 3. substitutions, 4. launch buttons
# ------------------------------------------------------------------------------------------------


def add_substitutions(app: Sphinx, config: Config) -> None:
    url = config.html_theme_options.get("repository_url", "")
    subs = dict(config.myst_substitutions or {})
    subs.setdefault("repository_url", url)
    subs.setdefault("cache_key", config.book_cache_key)
    config.myst_substitutions = subs


def encrypt_kernel_transport(app: Sphinx, config: Config) -> None:
    try:
        import zmq
        from jupyter_client.manager import KernelManager
    except ImportError:
        return
    trait = KernelManager.class_traits().get("transport_encryption")
    if trait is not None and zmq.has("curve"):
        trait.default_value = "auto"


_PADDED_EXPONENT = re.compile(r"(?<=\d)e(?:\+|(-))0*(\d)")


def prose_exponent(text: str) -> str:
    """``3e-05`` -> ``3e-5``, ``1.0e+06`` -> ``1.0e6``: a number's exponent as a sentence writes it."""
    return _PADDED_EXPONENT.sub(lambda m: f"e{m.group(1) or ''}{m.group(2)}", text)


class ProseNumbers(SphinxTransform):
    """Rewrite the exponents of every glued number (myst-nb's ``pasted-text`` inline nodes)."""

    default_priority = 700

    def apply(self, **kwargs: Any) -> None:
        for node in self.document.findall(nodes.inline):
            if "pasted-text" in node.get("classes", []):
                for text in list(node.findall(nodes.Text)):
                    new = prose_exponent(str(text))
                    if new != str(text):
                        text.parent.replace(text, nodes.Text(new))


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("book_cache_packages", ["gdlinalg"], "env")
    app.add_config_value("book_cache_key", "", "env")
    # Run after myst-nb and jupyter-book have set their config (default priority is 500).
    app.connect("config-inited", key_execution_cache, priority=800)
    app.connect("config-inited", add_substitutions, priority=810)
    app.connect("missing-reference", external_reference)
    app.connect("config-inited", encrypt_kernel_transport)
    app.add_transform(ProseNumbers)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
