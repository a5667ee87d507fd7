"""Book: the built pages of the chapters on gradient descent, the inverse, the SVD, low-rank
approximation, eigenvalues and Newton–Schulz show their figures, tables and computed numbers.

Marked ``book``: read from the session's one strict build (``book_build.session_build``). The facts
these pages state are recomputed through the package in ``tests/methods/``; what every chapter
must have (numbered exercises with hidden solutions, glued numbers, alt text) is checked once for
all chapters in ``tests/book/test_book.py``.
"""

from __future__ import annotations

import math
import re

import pytest
import torch

import gdlinalg
from gdlinalg import matrices

from book_build import plain_text

pytestmark = pytest.mark.book

BLOG_PRINTED_M1 = (2.3398, 0.6873, 0.2592, 0.1177)  # part 3 of the blog series
ADDENDUM_PRINTED_M1 = (2.3382, 0.6890, 0.2601, 0.1181)  # the addendum's Adam notebook (02b)
MUON = (3.4445, -4.7750, 2.0315)




# ------------------------------------------------------------------------------------------------
# gradient descent and the inverse (recipe and methods)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("docname, figures", [
    ("book/gradient-descent", ["fig-gd-rate-vs-lr", "fig-gd-rate-vs-kappa", "fig-gd-optimizers"]),
    ("book/inverse-recipe", ["fig-blog-losses", "fig-inv-rates", "fig-inv-optimizers"]),
    ("book/solves", ["fig-solve-zigzag", "fig-inv-cgls", "fig-inv-hilbert"]),
    ("book/inverses", ["fig-inv-newton-schulz", "fig-inv-pinv-growth", "fig-inv-pinv-staircase"]),
])
def test_chapter_figures_and_tables(book, docname, figures):
    # (Glued numbers and exercises: test_book.py::test_glued_numbers_are_in_the_prose and
    # ::test_exercises_derive_predict_and_hide_solutions, for every chapter.)
    a = book.article(docname)
    for name in figures:
        fig = a.find(id=name)
        assert fig is not None and fig.find("figcaption"), name
        img = fig.find("img")
        assert img is not None and len(img.get("alt", "").strip()) > 40, name
    assert a.select("table.table"), "tables computed by the chapter's code"


def test_inverse_chapter_prose_carries_the_measured_iteration_counts(book):
    text = plain_text(book.article("book/inverse-recipe"))
    mats = matrices.blog_inverse_matrices(dtype=torch.float64)
    for M in mats.values():
        its = gdlinalg.inv_result(M, method="blog", tol=1e-10).iterations
        assert "the runs take" in text and str(its) in text
    assert "Traceback" not in text


def test_inverse_recipe_page_measures_how_the_recipe_scales(book):
    text = plain_text(book.article("book/inverse-recipe"))
    assert re.search(r"One step takes \d+ ms here", text)
    assert re.search(r"would need about \S+ iterations", text)
    assert "none of them converges in reasonable time" not in text
    assert "as good as (a) on symmetric *positive definite*" not in text  # rendered, not raw
    assert "symmetric positive definite matrices, can be worse on non-symmetric ones, and can be wrong" in text


# ------------------------------------------------------------------------------------------------
# the SVD (recipe and methods) and low-rank approximation
# ------------------------------------------------------------------------------------------------


def test_svd_recipe_page_shows_the_blog_and_addendum_singular_values(book):
    text = plain_text(book.article("book/svd-recipe"))
    assert ", ".join(f"{v:.4f}" for v in BLOG_PRINTED_M1) in text
    assert ", ".join(f"{v:.4f}" for v in ADDENDUM_PRINTED_M1) in text
    assert "escaped both failures" in text


def test_svd_recipe_page_runs_all_five_matrices_for_20000_iterations(book):
    a = book.article("book/svd-recipe")
    text = plain_text(a)
    assert "200,000 iterations of the recipe" in text
    assert "def blog_svd" in text    # the plain loop, before the batched aside
    result_table = next(t for t in a.find_all("table") if "recipe" in plain_text(t.find("tr")))
    rows = [[plain_text(td) for td in tr.find_all("td")] for tr in result_table.find_all("tr")[1:]]
    verdict = {(r[0], r[1]): r[-1] for r in rows}
    assert len(verdict) == 10
    assert [verdict[m, "momentum"] for m in ("M1", "M2", "M3", "M4", "M5")] == ["yes", "yes", "no", "yes", "no"]
    # "an SVD" means reconstruction and orthogonality, not the reconstruction error alone.
    header = [plain_text(th) for th in result_table.find_all("th")]
    assert any("UᵀU" in h for h in header) and header[-1].startswith("all three")


def test_svd_jacobi_table_covers_the_methods_on_the_matrices(book):
    a = book.article("book/svd-jacobi")
    method_table = next(t for t in a.find_all("table") if "torch.linalg.svd" in plain_text(t))
    rows = [[plain_text(td) for td in tr.find_all("td")] for tr in method_table.find_all("tr")[1:]]
    methods = {"stiefel (Brockett)", "jacobi", "torch.linalg.svd"}
    expected = {(m, x) for m in ["M1", "M2", "M3", "M4", "M5"] for x in methods}
    expected |= {("M3", "gradient (L-BFGS)"), ("M5", "gradient (L-BFGS)")}  # where the recipe failed
    assert {(r[0], r[1]) for r in rows} == expected and len(rows) == len(expected)
    for r in rows:
        err = float(r[4])
        assert math.isfinite(err)
        if r[1] == "jacobi":
            assert err < 1e-13


def test_svd_jacobi_page_measures_jacobi_by_off_diagonal_mass(book):
    caption = plain_text(book.article("book/svd-jacobi").find(id="fig-svd-jacobi-sweeps"))
    assert "off-diagonal mass" in caption


def test_svd_methods_page_writes_out_brockett_and_names_krylov_methods(book):
    a = book.article("book/svd-methods")
    assert a.find(id="fig-svd-stiefel-histories") and a.find(id="svd-subspace-iteration")
    text = plain_text(a)
    assert "def brockett_svd" in text
    assert "Lanczos" in text and "Golub–Kahan" in text
    assert "method of choice for a few leading triplets" not in text


@pytest.mark.parametrize("page", ["svd-recipe", "svd-methods", "svd-jacobi", "low-rank"])
def test_figures_have_alt_text_and_captions(book, page):
    a = book.article(f"book/{page}")
    imgs = a.find_all("img")
    assert len(imgs) >= 2
    for img in imgs:
        assert len((img.get("alt") or "").strip()) > 40, img.get("src")
    assert len(a.find_all("figcaption")) >= 2


def test_low_rank_page_checks_eckart_young_and_pca(book):
    text = plain_text(book.article("book/low-rank"))
    assert "Eckart–Young" in text
    m = re.search(r"differ by at most (\S+) \(Frobenius\)", text)
    assert m and float(m.group(1)) < 1e-12
    assert "grace_hopper.jpg" in text and "Stocks.csv" in text
    # ALS, gradient descent on the factors and Oja's rule, written out and run (issue 21)
    m = re.search(r"ALS reaches the Eckart–Young error to .+? in (\d+) iterations", text)
    assert m and int(m.group(1)) > 10
    assert "Oja’s rule" in text and "escapes the square only if it works on the data" in text  # smart quotes
    assert "previous chapter" in text and "the last chapter" in text   # the book's one arc


# ------------------------------------------------------------------------------------------------
# eigenvalues
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("docname, figures", [
    ("book/eigenvalues", ["fig-eig-game"]),
    ("book/partial", ["fig-eig-lobpcg", "fig-eig-gap"]),
])
def test_eigenvalue_pages_have_their_figures_with_alt_text_and_captions(book, docname, figures):
    a = book.article(docname)
    for name in figures:
        fig = a.find(id=name)
        assert fig is not None and fig.find("figcaption") is not None, name
        img = fig.find("img")
        assert img is not None and len((img.get("alt") or "").strip()) > 40, name


def test_eigenvalue_page_measures_shift_invert_and_jacobi(book):
    text = plain_text(book.article("book/eigenvalues"))
    m = re.search(r"error factor (\S+) per step, predicted (\S+);", text)
    assert m, text[:3000]
    measured, predicted = (float(g) for g in m.groups())
    assert abs(measured / predicted - 1) < 0.05
    m = re.search(r"Two-sided Jacobi needs (\d+) sweeps.{1,900}?needs (\d+) sweeps, as the equivalence", text, re.S)
    assert m and abs(int(m.group(1)) - int(m.group(2))) <= 1
    for author in ("Oja", "Gemp"):
        assert author in text


def test_partial_page_compares_lobpcg_with_torch_and_the_package(book):
    a = book.article("book/partial")
    table = next(t for t in a.find_all("table") if "torch.lobpcg" in plain_text(t))
    header = [plain_text(th) for th in table.find_all("th")]
    rows = {(cells := [plain_text(td) for td in tr.find_all("td")])[0]: dict(zip(header, cells))
            for tr in table.find_all("tr")[1:]}
    assert set(rows) == {"ours (LOBPCG)", "ours (Chebyshev filter)", "torch.lobpcg", "gdlinalg.truncated_eigh"}
    for row in rows.values():
        assert float(row["largest residual"]) <= 1e-12
        assert int(row["products with A"]) > 0 and int(row["steps"]) > 0
    assert float(rows["gdlinalg.truncated_eigh"]["largest residual"]) < 1e-14


def test_partial_page_states_the_measured_gap_slopes(book):
    text = plain_text(book.article("book/partial"))
    slopes = re.search(r"are (\S+) for power iteration, (\S+) for gradient ascent and (\S+) for "
                       r"steepest ascent, against the predicted .{1,60}?, and (\S+) for LOBPCG", text)
    assert slopes, text[-3000:]
    power, gradient, steepest, lobpcg = (float(s.replace("−", "-")) for s in slopes.groups())
    assert all(abs(s + 1) < 0.1 for s in (power, gradient, steepest))
    assert abs(lobpcg + 0.5) < 0.1
    cheb = re.search(r"fitted slope is (\S+?)\.(?:\s|$)", text)
    assert cheb and abs(float(cheb.group(1).replace("−", "-")) + 0.5) < 0.1
    assert "Knyazev" in text


# ------------------------------------------------------------------------------------------------
# Newton–Schulz beyond the inverse
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def newton_schulz(book):
    return book.article("book/newton-schulz")


def test_newton_schulz_figures_have_alt_text_and_captions(newton_schulz):
    for name in ("fig-ns-scalar-map", "fig-ns-polar-history", "fig-ns-muon", "fig-ns-steps"):
        fig = newton_schulz.find(id=name)
        assert fig is not None and fig.find("figcaption"), name
        img = fig.find("img")
        assert img is not None and len(img.get("alt", "").strip()) > 40, name


def test_newton_schulz_speed_table_has_every_operation_and_size_as_a_ratio(newton_schulz):
    table = next(t for t in newton_schulz.find_all("table") if "torch.linalg.eigh" in plain_text(t))
    header = [plain_text(th) for th in table.find_all("th")]
    assert header[2:] == ["n = 100", "n = 200", "n = 300"]
    rows = [[plain_text(td) for td in tr.find_all("td")] for tr in table.find_all("tr")[1:]]
    assert [r[0] for r in rows] == ["svd", "eigh", "inv", "polar, Newton–Schulz", "polar, QDWH", "polar, QDWH"]
    for r in rows:
        assert all(re.fullmatch(r"\d+\.\d×", cell) for cell in r[2:]), r


def test_newton_schulz_prose_carries_the_computed_numbers(newton_schulz):
    # (That every glued value is shown: test_book.py::test_glued_numbers_are_in_the_prose.)
    text = plain_text(newton_schulz)
    a, b, c = MUON
    assert f"{a + b + c:.4f}" in text                           # q(1), glued from the code
    assert "previous chapter" in text and "next chapter" in text   # the book's one arc
    assert "Traceback" not in text


# ------------------------------------------------------------------------------------------------
# the preface's figure and the closing chapter
# ------------------------------------------------------------------------------------------------


def test_preface_shows_the_answer_in_one_figure_with_its_measured_slopes(book):
    a = book.article("book/intro")
    fig = a.find(id="fig-intro-answer")
    assert fig is not None and fig.find("figcaption"), "fig-intro-answer"
    img = fig.find("img")
    assert img is not None and len(img.get("alt", "").strip()) > 40
    text = plain_text(a)
    m = re.search(r"measured slope (\S+?);.{1,80}?heavy-ball momentum like .{1,30}?\(slope (\S+?)\)", text)
    assert m, text[:3000]
    gd, hb = (float(v) for v in m.groups())
    assert abs(gd - 2) < 0.3 and abs(hb - 1) < 0.2
    m = re.search(r"about (\S+) steps more per factor of ten", text)
    assert m and abs(float(m.group(1)) - 2 * math.log2(10)) < 1


def test_choosing_table_has_every_task_with_cost_ratio_and_error(book):
    a = book.article("book/choosing")
    table = next(t for t in a.find_all("table") if "time ÷ torch.linalg" in plain_text(t))
    header = [plain_text(th) for th in table.find_all("th")]
    rows = [dict(zip(header, (plain_text(td) for td in tr.find_all("td")))) for tr in table.find_all("tr")[1:]]
    tasks = {r["task"] for r in rows}
    assert tasks == {"inverse", "solve", "least squares", "pseudo-inverse", "full SVD", "full eigh",
                     "10 singular triplets", "10 eigenpairs"}
    for r in rows:
        assert re.fullmatch(r"\d+(\.\d)?×", r["time ÷ torch.linalg"]), r
        assert float(r["products"]) > 0 and int(r["iterations"]) > 0, r
        assert float(r["difference from torch.linalg"].replace("−", "-")) < 1e-5, r
    text = plain_text(a)
    assert "warm start" in text and "one at a time" in text


# ------------------------------------------------------------------------------------------------
# differentiating the operations
# ------------------------------------------------------------------------------------------------


def test_differentiating_page_shows_its_figures_ties_and_the_phase_refusal(book):
    a = book.article("book/differentiating")
    for name in ("fig-dif-gap", "fig-dif-unrolled", "fig-dif-layer"):
        fig = a.find(id=name)
        assert fig is not None and fig.find("figcaption"), name
        assert len(fig.find("img").get("alt", "").strip()) > 40, name
    outputs = [plain_text(o) for o in a.select("div.cell_output")]
    tie = next(o for o in outputs if o.startswith("torch.linalg"))
    torch_part, package_part = tie.split("gdlinalg", 1)
    assert "nan" in torch_part and "nan" not in package_part, tie
    assert any("ill-defined" in o or "e^{i phi}" in o for o in outputs), "the phase refusal is shown"
    assert any(o.startswith("_SolveBackward") for o in outputs), "gdlinalg.solve's node is shown"
    assert a.select("table.table"), "the penalty comparison table"
