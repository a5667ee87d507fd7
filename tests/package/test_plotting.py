"""Package: the plot helpers (``gdlinalg.plotting``) return labelled axes on a white background."""

import pytest
import torch

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

import gdlinalg  # noqa: E402
from gdlinalg import matrices, plotting  # noqa: E402
from gdlinalg._impl.result import Recorder  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _result(method, n):
    rec = Recorder("inv", method)
    for i in range(n):
        rec.record(10.0 ** -i, 10.0 ** (-i / 2))
    return rec.finish(torch.eye(2), converged=True, residual=1e-3, tol=1e-2, iterations=n)


def _results():
    return [_result("gradient", 6), _result("stiefel", 9)]


def test_plot_history_single_and_many():
    runs = _results()
    ax = plotting.plot_history(runs[0])
    assert ax.get_xlabel() == "iteration" and ax.get_ylabel() == "relative residual"
    assert ax.get_yscale() == "log"
    ax = plotting.plot_history(runs, labels=["inverse", "svd"], which="residual", title="two runs")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["inverse", "svd"]
    assert ax.get_title() == "two runs" and len(ax.get_lines()) == 2
    y = ax.get_lines()[0].get_ydata()
    assert len(y) == runs[0].iterations


def test_plot_history_loss_and_white_background():
    ax = plotting.plot_history(_results()[0], which="loss")
    assert ax.get_ylabel() == "loss"
    assert ax.figure.get_facecolor() == (1.0, 1.0, 1.0, 1.0)
    assert ax.get_facecolor() == (1.0, 1.0, 1.0, 1.0)


def test_plot_on_given_axes():
    fig, ax = plt.subplots()
    out = plotting.plot_singular_values(torch.tensor([3.0, 1.0, 0.1]), ax=ax)
    assert out is ax and ax.get_ylabel() == "singular value"
    assert fig.get_facecolor() == (1.0, 1.0, 1.0, 1.0)


def test_plot_singular_values_many():
    S = [torch.linalg.svdvals(matrices.with_condition_number(6, 6, c)) for c in (10.0, 1e4)]
    ax = plotting.plot_singular_values(S, labels=["1e1", "1e4"])
    assert len(ax.get_lines()) == 2 and ax.get_legend() is not None


def test_style_context():
    with plotting.style():
        fig, _ = plt.subplots()
    assert fig.get_facecolor() == (1.0, 1.0, 1.0, 1.0)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="which"):
        plotting.plot_history(_results()[0], which="gradient")
    with pytest.raises(ValueError, match="labels"):
        plotting.plot_history(_results(), labels=["one"])
    with pytest.raises(ValueError, match="one-dimensional"):
        plotting.plot_singular_values([torch.ones(2, 2)])


def test_plot_real_solve():
    A = torch.tensor([[4.0, 1.0], [2.0, 3.0]], dtype=torch.float64)
    res = gdlinalg.inv_result(A, method="gradient")
    ax = plotting.plot_history(res)
    assert len(ax.get_lines()[0].get_ydata()) == res.iterations


def test_use_style_sets_white_figures_with_grid():
    with plt.rc_context():
        plotting.use_style()
        fig, ax = plt.subplots()
        assert plt.rcParams["axes.grid"] and plt.rcParams["figure.dpi"] == 100
        assert fig.get_facecolor() == (1.0, 1.0, 1.0, 1.0) and ax.get_facecolor() == (1.0, 1.0, 1.0, 1.0)
    assert not plt.rcParams["axes.grid"]  # rc_context restored the default


def test_plot_curves_labels_scales_and_pairs():
    k = torch.arange(1, 11, dtype=torch.float64)
    ax = plotting.plot_curves({"a": 0.5**k, "b": (k, torch.zeros(10)), "c": [1.0, 2.0]},
                              xlabel="iteration", ylabel="error", logx=True, legend_title="runs",
                              styles={"c": {"ls": "--"}})
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert ax.get_xlabel() == "iteration" and ax.get_ylabel() == "error"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "c"]
    assert ax.get_legend().get_title().get_text() == "runs"
    a, b, c = ax.get_lines()
    assert list(a.get_xdata()) == list(range(1, 11))
    assert all(v != v for v in b.get_ydata())        # zeros are hidden on a log axis (NaN)
    assert c.get_linestyle() == "--"
    lin = plotting.plot_curves({"y": [0.0, -1.0]}, xlabel="x", ylabel="y", logy=False)
    assert lin.get_yscale() == "linear" and list(lin.get_lines()[0].get_ydata()) == [0.0, -1.0]


def test_plot_curves_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one"):
        plotting.plot_curves({}, xlabel="x", ylabel="y")
    with pytest.raises(ValueError, match="shape"):
        plotting.plot_curves({"bad": ([1, 2, 3], [1, 2])}, xlabel="x", ylabel="y")
