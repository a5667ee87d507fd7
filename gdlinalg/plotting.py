"""Matplotlib helpers for the book: convergence histories and singular value spectra.

matplotlib is an optional dependency (``pip install gdlinalg[plot]``), imported only when a function
here is called. Every figure is drawn on an explicit white background with dark text, so it stays
readable when the book is shown in dark mode (a transparent figure would put black text on a dark
page).

Examples
--------
>>> import torch, gdlinalg
>>> from gdlinalg import plotting
>>> res = gdlinalg.inv_result(torch.eye(3, dtype=torch.float64) * 2)
>>> ax = plotting.plot_history(res)
>>> ax.get_xlabel()
'iteration'
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Iterator, Sequence

import torch

from ._impl.result import Result

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["style", "use_style", "plot_history", "plot_curves", "plot_singular_values"]

_STYLE = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    "text.color": "black",
    "axes.labelcolor": "black",
    "axes.edgecolor": "black",
    "xtick.color": "black",
    "ytick.color": "black",
    "legend.facecolor": "white",
    "legend.edgecolor": "0.8",
    "grid.color": "0.85",
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Context manager applying the package's light-on-white style to the figures made inside it.

    Yields
    ------
    None

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from gdlinalg.plotting import style
    >>> with style():
    ...     fig, ax = plt.subplots()
    >>> fig.get_facecolor()
    (1.0, 1.0, 1.0, 1.0)
    """
    import matplotlib.pyplot as plt

    with plt.rc_context(_STYLE):
        yield


#: What :func:`use_style` adds for a whole notebook: a sharper default resolution and grid lines.
_NOTEBOOK = {"figure.dpi": 100, "axes.grid": True}


def use_style() -> None:
    """Apply the package's light-on-white style, with grid lines, to every later figure.

    For a notebook or a book chapter: one call at the top instead of a block of ``rcParams``.
    :func:`style` does the same for the figures made inside a ``with`` block only.

    Returns
    -------
    None

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from gdlinalg import plotting
    >>> with plt.rc_context():            # (restores the previous style afterwards)
    ...     plotting.use_style()
    ...     fig, ax = plt.subplots()
    ...     plt.rcParams["axes.grid"], fig.get_facecolor()
    (True, (1.0, 1.0, 1.0, 1.0))
    """
    import matplotlib.pyplot as plt

    plt.rcParams.update({**_STYLE, **_NOTEBOOK})


def _axes(ax: "Axes | None") -> "Axes":
    import matplotlib.pyplot as plt

    if ax is None:
        with style():
            _, ax = plt.subplots(figsize=(6, 4))
    # Set explicitly as well, so that axes passed in by the caller also stay readable on dark pages.
    ax.figure.set_facecolor("white")
    ax.set_facecolor("white")
    return ax


def _finish(ax: "Axes", *, legend: bool) -> None:
    ax.grid(True, which="major", color="0.85")
    for label in (ax.xaxis.label, ax.yaxis.label, ax.title):
        label.set_color("black")
    ax.tick_params(colors="black", which="both")
    if legend:
        leg = ax.legend(facecolor="white", edgecolor="0.8")
        for text in leg.get_texts():
            text.set_color("black")


def _labels(n: int, labels: Sequence[str] | None, default: Sequence[str]) -> list[str]:
    if labels is None:
        return list(default)
    labels = list(labels)
    if len(labels) != n:
        raise ValueError(f"expected {n} labels, got {len(labels)}")
    return labels


def plot_history(
    results: Result | Sequence[Result],
    *,
    labels: Sequence[str] | None = None,
    ax: "Axes | None" = None,
    which: str = "residual",
    title: str | None = None,
) -> "Axes":
    """Semilog plot of the residual (or loss) history of one or several solves.

    Parameters
    ----------
    results : Result or sequence of Result
        What the ``*_result`` functions return.
    labels : sequence of str, optional, keyword-only
        One legend entry per result; by default each result's method name.
    ax : matplotlib.axes.Axes, optional, keyword-only
        Axes to draw on; a new white figure by default.
    which : {"residual", "loss"}, keyword-only
        Plot ``residual_history`` (the true relative residual, default) or ``loss_history``
        (the objective; non-positive values, e.g. of a maximised cost, are not shown on the log
        scale).
    title : str, optional, keyword-only
        Axes title.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        For an unknown ``which`` or a wrong number of labels.

    Examples
    --------
    >>> import torch, gdlinalg
    >>> from gdlinalg.plotting import plot_history
    >>> A = torch.tensor([[4.0, 1.0], [2.0, 3.0]], dtype=torch.float64)
    >>> runs = [gdlinalg.inv_result(A), gdlinalg.inv_result(A, method="gradient")]
    >>> ax = plot_history(runs, title="inverse of a 2 x 2 matrix")
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['newton_schulz', 'gradient']
    """
    if which not in ("residual", "loss"):
        raise ValueError(f"expected which to be 'residual' or 'loss', got {which!r}")
    if isinstance(results, Result):
        results = [results]
    results = list(results)
    if not all(isinstance(r, Result) for r in results):
        raise TypeError("expected a Result or a sequence of Result objects")
    names = _labels(len(results), labels, [r.method for r in results])
    ax = _axes(ax)
    for res, name in zip(results, names):
        hist = res.residual_history if which == "residual" else res.loss_history
        y = hist.detach().to(torch.float64).cpu()
        x = torch.arange(1, y.numel() + 1)
        # Zeros and negatives have no place on a log axis; masking them keeps the rest of the curve.
        y = torch.where(y > 0, y, torch.full_like(y, float("nan")))
        ax.semilogy(x.numpy(), y.numpy(), label=name)
    ax.set_xlabel("iteration")
    ax.set_ylabel("relative residual" if which == "residual" else "loss")
    if title is not None:
        ax.set_title(title)
    _finish(ax, legend=True)
    return ax


def plot_curves(
    curves: dict,
    *,
    xlabel: str,
    ylabel: str,
    ax: "Axes | None" = None,
    logx: bool = False,
    logy: bool = True,
    title: str | None = None,
    legend_title: str | None = None,
    styles: dict | None = None,
) -> "Axes":
    """Plot several labelled curves on one set of axes, log-scaled in y by default.

    The figures of the book compare methods, matrices or parameters curve by curve; this is the
    boilerplate they share (axes, labels, log scales, legend, white background).

    Parameters
    ----------
    curves : dict
        Legend label (str) to the values ``y`` (plotted against ``1, 2, ...``) or to a pair
        ``(x, y)``.
        Tensors, arrays and lists are accepted. Non-positive values are not shown on a log axis.
    xlabel, ylabel : str, keyword-only
        Axis labels.
    ax : matplotlib.axes.Axes, optional, keyword-only
        Axes to draw on; a new white figure by default.
    logx, logy : bool, keyword-only
        Logarithmic axes (default: linear x, logarithmic y).
    title, legend_title : str, optional, keyword-only
        Axes title and legend title.
    styles : dict, optional, keyword-only
        Extra keyword arguments for ``Axes.plot`` per label, e.g. ``{"theory": {"ls": "--"}}``.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If ``curves`` is empty or a pair ``(x, y)`` has different lengths.

    Examples
    --------
    >>> import torch
    >>> from gdlinalg.plotting import plot_curves
    >>> k = torch.arange(1, 21)
    >>> ax = plot_curves({"0.5^k": 0.5**k, "0.9^k": (k, 0.9**k)}, xlabel="k", ylabel="error",
    ...                  styles={"0.9^k": {"ls": "--"}})
    >>> ax.get_yscale(), [t.get_text() for t in ax.get_legend().get_texts()]
    ('log', ['0.5^k', '0.9^k'])
    """
    import numpy as np

    if not curves:
        raise ValueError("expected at least one curve")
    ax = _axes(ax)
    styles = styles or {}
    for label, data in curves.items():
        if isinstance(data, tuple) and len(data) == 2:
            x, y = (np.asarray(torch.as_tensor(v, dtype=torch.float64)) for v in data)
            if x.shape != y.shape:
                raise ValueError(f"curve {label!r}: x has shape {x.shape}, y has shape {y.shape}")
        else:
            y = np.asarray(torch.as_tensor(data, dtype=torch.float64))
            x = np.arange(1, y.size + 1)
        if logy:
            y = np.where(y > 0, y, np.nan)
        ax.plot(x, y, label=label, **styles.get(label, {}))
    ax.set_xscale("log" if logx else "linear")
    ax.set_yscale("log" if logy else "linear")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    _finish(ax, legend=True)
    if legend_title is not None:
        ax.get_legend().set_title(legend_title)
    return ax


def plot_singular_values(
    S_list: torch.Tensor | Sequence[torch.Tensor],
    *,
    labels: Sequence[str] | None = None,
    ax: "Axes | None" = None,
) -> "Axes":
    """Semilog plot of one or several singular value spectra against their index.

    Parameters
    ----------
    S_list : torch.Tensor or sequence of torch.Tensor
        One-dimensional tensors of singular values (any order is plotted as given, usually
        descending).
    labels : sequence of str, optional, keyword-only
        Legend entries; by default no legend for a single spectrum, ``"0", "1", ...`` otherwise.
    ax : matplotlib.axes.Axes, optional, keyword-only
        Axes to draw on; a new white figure by default.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ValueError
        If a spectrum is not one-dimensional or the number of labels is wrong.

    Examples
    --------
    >>> import torch
    >>> from gdlinalg import matrices
    >>> from gdlinalg.plotting import plot_singular_values
    >>> A = matrices.with_condition_number(8, 8, 1e4)
    >>> ax = plot_singular_values([torch.linalg.svdvals(A)], labels=["cond 1e4"])
    >>> ax.get_ylabel()
    'singular value'
    """
    if isinstance(S_list, torch.Tensor):
        S_list = [S_list]
    S_list = list(S_list)
    for S in S_list:
        if not isinstance(S, torch.Tensor) or S.dim() != 1:
            shape = tuple(S.shape) if isinstance(S, torch.Tensor) else type(S).__name__
            raise ValueError(f"expected one-dimensional tensors of singular values, got {shape}")
    legend = labels is not None or len(S_list) > 1
    names = _labels(len(S_list), labels, [str(i) for i in range(len(S_list))])
    ax = _axes(ax)
    for S, name in zip(S_list, names):
        y = S.detach().to(torch.float64).cpu()
        y = torch.where(y > 0, y, torch.full_like(y, float("nan")))
        ax.semilogy(torch.arange(1, y.numel() + 1).numpy(), y.numpy(), marker="o", label=name)
    ax.set_xlabel("index i")
    ax.set_ylabel("singular value")
    _finish(ax, legend=legend)
    return ax
