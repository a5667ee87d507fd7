"""Contract: the outputs carry the analytic derivative of the operation, as torch.linalg's do.

Gradients are compared with torch.linalg's on well-conditioned input (relative 1e-10 in float64
and complex128, a few thousand u in the single precisions), batched and broadcast as torch
broadcasts; ``gradcheck`` and ``gradgradcheck`` check the formulas themselves on small float64
cases; and no method returns a detached answer for an input that requires grad.
(Issue 22, first part: the inverse and the solve.)
"""

from __future__ import annotations

import warnings

import pytest
import torch

import gdlinalg

DTYPES = [torch.float32, torch.float64, torch.complex64, torch.complex128]
#: Relative agreement with torch.linalg's gradient: both are rounding away from the exact one.
TOL = {torch.float64: 1e-10, torch.complex128: 1e-10, torch.float32: 2e-4, torch.complex64: 2e-4}


def well_conditioned(*shape: int, dtype: torch.dtype, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    n = shape[-1]
    A = torch.randn(*shape, dtype=dtype, generator=g) / n ** 0.5
    return A + 2 * torch.eye(n, dtype=dtype)


def cotangent(like: torch.Tensor, seed: int) -> torch.Tensor:
    return torch.randn(like.shape, dtype=like.dtype, generator=torch.Generator().manual_seed(seed))


def vjp(f, inputs, seed=7):
    """The gradient of Re <W, f(inputs)> for a fixed random W: one vector-Jacobian product."""
    out = f(*inputs)
    W = cotangent(out, seed)
    return torch.autograd.grad((out * W.conj()).real.sum(), inputs)


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 5), (3, 4, 4)])
def test_inverse_gradient_equals_torch(dtype, shape):
    A = well_conditioned(*shape, dtype=dtype, seed=1).requires_grad_()
    (ours,) = vjp(gdlinalg.inv, (A,))
    (theirs,) = vjp(torch.linalg.inv, (A,))
    assert rel(ours, theirs) < TOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("shapes", [((4, 4), (4, 3)), ((2, 4, 4), (4, 3)), ((4, 4), (2, 4, 3))])
def test_solve_gradients_in_A_and_B_equal_torch(dtype, left, shapes):
    sa, sb = shapes
    A = well_conditioned(*sa, dtype=dtype, seed=2).requires_grad_()
    shape_b = sb if left else (*sb[:-2], sb[-1], sb[-2])
    B = cotangent(torch.empty(shape_b, dtype=dtype), 3).requires_grad_()
    ours = vjp(lambda a, b: gdlinalg.solve(a, b, left=left), (A, B))
    theirs = vjp(lambda a, b: torch.linalg.solve(a, b, left=left), (A, B))
    for o, t in zip(ours, theirs):
        assert o.shape == t.shape and rel(o, t) < TOL[dtype]


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_solve_gradient_for_a_vector_right_hand_side(dtype):
    A = well_conditioned(3, 4, 4, dtype=dtype, seed=4).requires_grad_()
    b = cotangent(torch.empty(4, dtype=dtype), 5).requires_grad_()   # broadcast over the batch
    ours = vjp(gdlinalg.solve, (A, b))
    theirs = vjp(torch.linalg.solve, (A, b))
    for o, t in zip(ours, theirs):
        assert o.shape == t.shape and rel(o, t) < TOL[dtype]


def test_gradcheck_and_gradgradcheck_inverse_and_solve():
    A = well_conditioned(3, 3, dtype=torch.float64, seed=6).requires_grad_()
    B = cotangent(torch.empty(3, 2, dtype=torch.float64), 8).requires_grad_()
    assert torch.autograd.gradcheck(gdlinalg.inv, (A,))
    assert torch.autograd.gradgradcheck(gdlinalg.inv, (A,))
    assert torch.autograd.gradcheck(gdlinalg.solve, (A, B))
    assert torch.autograd.gradgradcheck(gdlinalg.solve, (A, B))
    assert torch.autograd.gradcheck(lambda a, b: gdlinalg.solve(a, b, left=False), (A, B.mT.detach().requires_grad_()))


@pytest.mark.parametrize("method", gdlinalg.methods()["inv"])
def test_every_inverse_method_keeps_the_history(method):
    A = well_conditioned(4, 4, dtype=torch.float64, seed=9).requires_grad_()
    res = gdlinalg.inv_result(A, method=method, **({"max_iter": 20_000} if method != "newton_schulz" else {}))
    assert res.solution.requires_grad and res.solution.grad_fn is not None
    (g,) = torch.autograd.grad(res.solution.sum(), A)
    X = res.solution.detach()
    assert torch.allclose(g, -(X.mT @ torch.ones_like(X) @ X.mT))   # the exact operation's derivative


@pytest.mark.parametrize("method", gdlinalg.methods()["solve"])
def test_every_solve_method_keeps_the_history(method):
    A = well_conditioned(4, 4, dtype=torch.float64, seed=10).requires_grad_()
    B = cotangent(torch.empty(4, 2, dtype=torch.float64), 11).requires_grad_()
    X = gdlinalg.solve_result(A, B, method=method).solution
    assert X.requires_grad and X.grad_fn is not None
    gA, gB = torch.autograd.grad(X.sum(), (A, B))
    assert gA.shape == A.shape and gB.shape == B.shape


def test_no_history_without_grad_and_inputs_untouched():
    A = well_conditioned(4, 4, dtype=torch.float64, seed=12)
    assert not gdlinalg.inv(A).requires_grad
    Ag = A.clone().requires_grad_()
    with torch.no_grad():
        assert not gdlinalg.inv(Ag).requires_grad
    before = Ag.detach().clone()
    gdlinalg.solve(Ag, torch.ones(4, dtype=torch.float64)).sum().backward()
    assert torch.equal(Ag.detach(), before) and Ag.grad is not None


def hermitian(*shape: int, dtype: torch.dtype, seed: int) -> torch.Tensor:
    M = torch.randn(*shape, dtype=dtype, generator=torch.Generator().manual_seed(seed))
    return M + M.mH


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("UPLO", ["L", "U"])
def test_eigh_gradient_of_a_gauge_invariant_loss_equals_torch(dtype, UPLO):
    """Eigenvalues and |V|^2 (which no phase of an eigenvector changes), batched; the spectrum of a
    random Hermitian matrix is well separated."""
    A = hermitian(3, 5, 5, dtype=dtype, seed=13).requires_grad_()
    real = torch.empty(0, dtype=dtype).real.dtype
    g = torch.Generator().manual_seed(14)
    C, W = torch.randn(3, 5, dtype=real, generator=g), torch.randn(3, 5, 5, dtype=real, generator=g)

    def loss(eigh):
        w, V = eigh(A, UPLO=UPLO)
        return (w * C).sum() + (V.abs() ** 2 * W).sum()

    (ours,) = torch.autograd.grad(loss(gdlinalg.eigh), A)
    (theirs,) = torch.autograd.grad(loss(torch.linalg.eigh), A)
    assert rel(ours, theirs) < TOL[dtype]


def test_eigh_gradcheck():
    A = hermitian(4, 4, dtype=torch.float64, seed=15).requires_grad_()
    assert torch.autograd.gradcheck(lambda a: gdlinalg.eigh(a + a.mT).eigenvalues, (A,))
    assert torch.autograd.gradcheck(lambda a: gdlinalg.eigh(a + a.mT).eigenvectors ** 2, (A,))


@pytest.mark.parametrize("op", ["eigh", "svd"])
def test_a_loss_that_depends_on_the_phase_is_refused_as_torch_does(op):
    """Re(sum of the vectors) changes with their phases: refused, with torch's exact message."""
    if op == "eigh":
        A = hermitian(3, 3, dtype=torch.complex128, seed=16).requires_grad_()
    else:
        A = torch.randn(3, 3, dtype=torch.complex128, generator=torch.Generator().manual_seed(22)).requires_grad_()
    messages = []
    for lib in (gdlinalg, torch.linalg):
        with pytest.raises(RuntimeError, match="ill-defined") as caught:
            getattr(lib, op)(A)[-1 if op == "eigh" else 0].real.sum().backward()
        messages.append(str(caught.value))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("method", gdlinalg.methods()["eigh"])
def test_every_eigh_method_keeps_the_history(method):
    A = hermitian(5, 5, dtype=torch.float64, seed=17).requires_grad_()
    w, V = gdlinalg.eigh_result(A, method=method).solution
    assert w.grad_fn is not None and V.grad_fn is not None
    (g,) = torch.autograd.grad(w.sum(), A)               # d(trace A) = I
    assert torch.allclose(g, torch.eye(5, dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4)])
@pytest.mark.parametrize("full_matrices", [False, True])
def test_svd_gradient_of_a_gauge_invariant_loss_equals_torch(dtype, shape, full_matrices):
    """S and |U|^2, |Vh|^2 on the first min(m, n) singular vectors: no phase changes them, and the
    completed columns of full_matrices=True are arbitrary (torch ignores their gradient too)."""
    A = torch.randn(*shape, dtype=dtype, generator=torch.Generator().manual_seed(18)).requires_grad_()
    real = torch.empty(0, dtype=dtype).real.dtype
    k, g = min(shape[-2:]), torch.Generator().manual_seed(19)
    C = torch.randn(*shape[:-2], k, dtype=real, generator=g)
    WU = torch.randn(*shape[:-1], k, dtype=real, generator=g)
    WV = torch.randn(*shape[:-2], k, shape[-1], dtype=real, generator=g)

    def loss(svd):
        U, S, Vh = svd(A, full_matrices=full_matrices)
        return (S * C).sum() + (U[..., :k].abs() ** 2 * WU).sum() + (Vh[..., :k, :].abs() ** 2 * WV).sum()

    (ours,) = torch.autograd.grad(loss(gdlinalg.svd), A)
    (theirs,) = torch.autograd.grad(loss(torch.linalg.svd), A)
    assert rel(ours, theirs) < TOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
def test_svdvals_gradient_equals_torch(dtype):
    A = torch.randn(2, 5, 3, dtype=dtype, generator=torch.Generator().manual_seed(20)).requires_grad_()
    (ours,) = vjp(gdlinalg.svdvals, (A,))
    (theirs,) = vjp(torch.linalg.svdvals, (A,))
    assert rel(ours, theirs) < TOL[dtype]


def test_svd_gradcheck():
    A = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(21)).requires_grad_()
    assert torch.autograd.gradcheck(gdlinalg.svdvals, (A,))
    assert torch.autograd.gradcheck(lambda a: tuple(t ** 2 for t in gdlinalg.svd(a, full_matrices=False)[::2]), (A,))


@pytest.mark.parametrize("method", gdlinalg.methods()["svd"])
def test_every_svd_method_keeps_the_history(method):
    sv = torch.tensor([1.0, 0.8, 0.6, 0.4], dtype=torch.float64)     # where the blog's recipe converges
    A = gdlinalg.matrices.with_singular_values(5, 4, sv, seed=23).requires_grad_()
    with warnings.catch_warnings():       # the optimizer-driven methods may stop short of u
        warnings.simplefilter("ignore", gdlinalg.ConvergenceWarning)
        U, S, Vh = gdlinalg.svd_result(A, full_matrices=False, method=method).solution
    assert all(t.grad_fn is not None for t in (U, S, Vh))
    (g,) = torch.autograd.grad(S.sum(), A)               # d(sum of sigma) = U V^H
    assert torch.allclose(g, (U @ Vh).detach(), atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4)])
def test_pinv_gradient_of_a_full_rank_matrix_equals_torch(dtype, shape):
    A = torch.randn(*shape, dtype=dtype, generator=torch.Generator().manual_seed(24)).requires_grad_()
    (ours,) = vjp(gdlinalg.pinv, (A,))
    (theirs,) = vjp(torch.linalg.pinv, (A,))
    assert rel(ours, theirs) < TOL[dtype]


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_pinv_hermitian_gradient_equals_torch(dtype):
    A = hermitian(2, 4, 4, dtype=dtype, seed=25).requires_grad_()
    (ours,) = vjp(lambda a: gdlinalg.pinv(a, hermitian=True), (A,))
    (theirs,) = vjp(lambda a: torch.linalg.pinv(a, hermitian=True), (A,))
    assert rel(ours, theirs) < TOL[dtype]


def test_pinv_with_the_cut_off_differentiates_along_a_constant_rank():
    """A rank-2 A = B C: the derivative along B -> B + t dB (rank kept) equals central differences."""
    g = torch.Generator().manual_seed(26)
    B, C, dB = (torch.randn(*s, dtype=torch.float64, generator=g) for s in ((5, 2), (2, 4), (5, 2)))
    W = torch.randn(4, 5, dtype=torch.float64, generator=g)
    A = (B @ C).requires_grad_()
    (grad,) = torch.autograd.grad((gdlinalg.pinv(A, rtol=1e-10) * W).sum(), A)
    h = 1e-6
    fd = ((torch.linalg.pinv((B + h * dB) @ C) - torch.linalg.pinv((B - h * dB) @ C)) / (2 * h) * W).sum()
    directional = (grad * (dB @ C)).sum()
    assert abs(directional - fd) < 1e-7 * abs(fd)


def test_pinv_gradcheck_full_rank():
    A = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(27)).requires_grad_()
    assert torch.autograd.gradcheck(gdlinalg.pinv, (A,))


def torch_polar(A):
    """The polar factors from torch's SVD, U_p = U Vh and H = Vh^H S Vh: a reference to differentiate."""
    U, S, Vh = torch.linalg.svd(A, full_matrices=False)
    return U @ Vh, Vh.mH @ (S.to(A.dtype).unsqueeze(-1) * Vh)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4)])
def test_polar_gradient_equals_torch_through_its_svd(dtype, shape):
    A = torch.randn(*shape, dtype=dtype, generator=torch.Generator().manual_seed(28)).requires_grad_()
    WU = cotangent(A, 30)
    WH = cotangent(A.new_empty(*shape[:-2], shape[-1], shape[-1]), 31)

    def loss(polar):
        U, H = polar(A)
        return (U * WU.conj()).real.sum() + (H * WH.conj()).real.sum()

    (ours,) = torch.autograd.grad(loss(gdlinalg.polar), A)
    (theirs,) = torch.autograd.grad(loss(torch_polar), A)
    assert rel(ours, theirs) < TOL[dtype]


@pytest.mark.parametrize("method", gdlinalg.methods()["polar"])
def test_polar_gradcheck_every_method(method):
    A = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(29)).requires_grad_()
    assert torch.autograd.gradcheck(lambda a: gdlinalg.polar(a, method=method), (A,))


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128, torch.float32])
@pytest.mark.parametrize("largest", [True, False])
def test_truncated_eigh_gradient_equals_torch_through_the_full_eigh(dtype, largest):
    """k of n eigenpairs: the sum over the other n - k eigenvectors is done by deflated solves."""
    A = hermitian(2, 8, 8, dtype=dtype, seed=32).requires_grad_()
    real = torch.empty(0, dtype=dtype).real.dtype
    g = torch.Generator().manual_seed(33)
    C, W = torch.randn(2, 3, dtype=real, generator=g), torch.randn(2, 8, 3, dtype=real, generator=g)

    def reference(a):
        w, V = torch.linalg.eigh(a)
        return (w.flip(-1)[..., :3], V.flip(-1)[..., :3]) if largest else (w[..., :3], V[..., :3])

    def loss(eigh):
        w, V = eigh(A)
        return (w * C).sum() + (V.abs() ** 2 * W).sum()

    (ours,) = torch.autograd.grad(loss(lambda a: gdlinalg.truncated_eigh(a, 3, largest=largest)), A)
    (theirs,) = torch.autograd.grad(loss(reference), A)
    assert rel(ours, theirs) < TOL[dtype]


def test_truncated_eigh_gradcheck():
    A = hermitian(6, 6, dtype=torch.float64, seed=34).requires_grad_()
    assert torch.autograd.gradcheck(lambda a: tuple(t ** 2 for t in gdlinalg.truncated_eigh(a + a.mT, 2)), (A,))


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128, torch.float32])
@pytest.mark.parametrize("shape", [(7, 5), (5, 7), (2, 6, 6)])
def test_truncated_svd_gradient_equals_torch_through_the_full_svd(dtype, shape):
    """The leading triplets as eigenpairs of [[0, A], [A^H, 0]]: checked against torch's full SVD
    restricted to them, with S and the gauge-invariant |U|^2, |Vh|^2."""
    A = torch.randn(*shape, dtype=dtype, generator=torch.Generator().manual_seed(35)).requires_grad_()
    real = torch.empty(0, dtype=dtype).real.dtype
    g = torch.Generator().manual_seed(36)
    C = torch.randn(*shape[:-2], 3, dtype=real, generator=g)
    WU = torch.randn(*shape[:-1], 3, dtype=real, generator=g)
    WV = torch.randn(*shape[:-2], 3, shape[-1], dtype=real, generator=g)

    def reference(a):
        U, S, Vh = torch.linalg.svd(a, full_matrices=False)
        return U[..., :3], S[..., :3], Vh[..., :3, :]

    def loss(svd):
        U, S, Vh = svd(A)
        return (S * C).sum() + (U.abs() ** 2 * WU).sum() + (Vh.abs() ** 2 * WV).sum()

    (ours,) = torch.autograd.grad(loss(lambda a: gdlinalg.truncated_svd(a, 3)), A)
    (theirs,) = torch.autograd.grad(loss(reference), A)
    assert rel(ours, theirs) < TOL[dtype]


def test_truncated_svd_gradcheck():
    A = torch.randn(6, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(37)).requires_grad_()
    assert torch.autograd.gradcheck(lambda a: tuple(t ** 2 for t in gdlinalg.truncated_svd(a, 2)), (A,))


# Repeated and nearly repeated values --------------------------------------------------------------

def with_spectrum(values, seed: int) -> torch.Tensor:
    """Q diag(values) Q^T for a random orthogonal Q (float64)."""
    Q, _ = torch.linalg.qr(torch.randn(len(values), len(values), dtype=torch.float64,
                                       generator=torch.Generator().manual_seed(seed)))
    return Q @ torch.diag(torch.tensor(values, dtype=torch.float64)) @ Q.T


def projector_loss(vectors, M):
    """<M, P> for the projector P onto the columns: no rotation among them changes it."""
    return (vectors @ vectors.mT * M).sum()


@pytest.mark.parametrize("gap", [1e-2, 1e-4, 1e-6])
def test_a_closing_eigengap_grows_the_gradient_as_torchs(gap):
    """The top eigenvector of a spectrum whose top gap closes: the derivative grows like 1/gap, and
    ours stays torch's to the accuracy the gap allows the eigenvectors (u / gap)."""
    A = with_spectrum([0.1, 0.4, 1 - gap, 1.0], seed=40).requires_grad_()
    M = torch.randn(4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(41))
    ours, theirs = (torch.autograd.grad(projector_loss(eigh(A).eigenvectors[:, 3:], M), A)[0]
                    for eigh in (gdlinalg.eigh, torch.linalg.eigh))
    u = torch.finfo(torch.float64).eps
    assert rel(ours, theirs) < 1e3 * u / gap
    assert 0.01 / gap < theirs.norm() < 100 / gap


@pytest.mark.parametrize("gap", [1e-2, 1e-4, 1e-6])
def test_a_closing_singular_gap_grows_the_gradient_as_torchs(gap):
    A = gdlinalg.matrices.with_singular_values(5, 4, torch.tensor([1.0, 1 - gap, 0.4, 0.1], dtype=torch.float64),
                                               seed=42).requires_grad_()
    M = torch.randn(5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(43))
    ours, theirs = (torch.autograd.grad(projector_loss(svd(A, full_matrices=False).U[:, :1], M), A)[0]
                    for svd in (gdlinalg.svd, torch.linalg.svd))
    u = torch.finfo(torch.float64).eps
    assert rel(ours, theirs) < 1e3 * u / gap
    assert 0.01 / gap < theirs.norm() < 100 / gap


def central_difference(f, A, D, h=1e-6):
    return (f(A + h * D) - f(A - h * D)) / (2 * h)


@pytest.mark.parametrize("loss", ["next to the tie", "eigenvalues"])
def test_an_exact_eigenvalue_tie_gives_the_derivative_of_a_loss_that_ignores_the_tied_vectors(loss):
    """A = Q diag(1, 1, 2) Q^T and diag(1, 1, 2) itself, and a loss of the untied eigenvector or of
    the eigenvalues: where torch's formula gives 0/0 = nan (it does on the diagonal matrix), ours
    gives the derivative, equal to central differences along symmetric directions."""
    M = torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(44))
    f = {"next to the tie": lambda w, V: projector_loss(V[:, 2:], M),
         "eigenvalues": lambda w, V: (w * torch.tensor([1.0, 1.0, 3.0], dtype=torch.float64)).sum()
         + 0 * V.sum()}[loss]
    g = torch.Generator().manual_seed(45)
    for A0 in (with_spectrum([1.0, 1.0, 2.0], seed=46), torch.diag(torch.tensor([1.0, 1.0, 2.0], dtype=torch.float64))):
        A = A0.clone().requires_grad_()
        (grad,) = torch.autograd.grad(f(*gdlinalg.eigh(A)), A)
        assert torch.isfinite(grad).all()
        for _ in range(3):
            D = torch.randn(3, 3, dtype=torch.float64, generator=g)
            D = D + D.T
            fd = central_difference(lambda X: f(*torch.linalg.eigh(X)), A0, D)
            assert abs((grad * D).sum() - fd) < 1e-6 * (1 + abs(fd))


def test_a_loss_of_tied_vectors_is_not_given_a_guessed_limit():
    """exp(A) = V diag(e^w) V^T at A = diag(1, 1, 2): a derivative exists (no rotation of the tied
    pair changes exp(A)), but its tied terms need f' at the tie, which the adjoints of w and V do
    not carry. As torch's, the gradient is nan there, not a finite wrong value (zero, say)."""
    A = torch.diag(torch.tensor([1.0, 1.0, 2.0], dtype=torch.float64)).requires_grad_()
    M = torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(55))
    for eigh in (gdlinalg.eigh, torch.linalg.eigh):
        w, V = eigh(A)
        (grad,) = torch.autograd.grad(((V * w.exp()) @ V.mT * M).sum(), A)
        assert torch.isnan(grad).any()


def test_an_exact_singular_value_tie_gives_the_derivative_of_an_invariant_loss():
    M = torch.randn(4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(47))
    A0 = gdlinalg.matrices.with_singular_values(4, 3, torch.tensor([2.0, 1.0, 1.0], dtype=torch.float64), seed=48)
    A = A0.clone().requires_grad_()
    f = lambda svd, X: projector_loss(svd(X, full_matrices=False).U[:, :1], M)
    (grad,) = torch.autograd.grad(f(gdlinalg.svd, A), A)
    assert torch.isfinite(grad).all()
    g = torch.Generator().manual_seed(49)
    for _ in range(3):
        D = torch.randn(4, 3, dtype=torch.float64, generator=g)
        fd = central_difference(lambda X: f(torch.linalg.svd, X), A0, D)
        assert abs((grad * D).sum() - fd) < 1e-6 * (1 + abs(fd))


def test_a_loss_that_tells_tied_eigenvectors_apart_has_no_finite_derivative():
    """One eigenvector of a tied pair is any unit vector of the plane: no derivative exists, and the
    gradient is not a finite number of ordinary size (torch's neither)."""
    A = torch.diag(torch.tensor([1.0, 1.0, 2.0], dtype=torch.float64)).requires_grad_()
    M = torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(50))
    (grad,) = torch.autograd.grad(projector_loss(gdlinalg.eigh(A).eigenvectors[:, :1], M), A)
    assert not torch.isfinite(grad).all() or grad.norm() > 1e8


@pytest.mark.parametrize("start", ["identity", "orthogonal", "tall, repeated singular values", "wide, complex"])
def test_polar_is_differentiable_where_singular_values_tie(start):
    """The polar factors are smooth wherever A has full rank: at A = I, at an orthogonal A, at a
    tall A with repeated singular values (where an SVD-based route divides by S_j^2 - S_i^2 = 0
    and torch's gives nan), the gradient equals central differences."""
    g = torch.Generator().manual_seed(51)
    if start == "identity":
        A0 = torch.eye(4, dtype=torch.float64)
    elif start == "orthogonal":
        A0 = torch.linalg.qr(torch.randn(4, 4, dtype=torch.float64, generator=g))[0]
    elif start == "tall, repeated singular values":
        A0 = gdlinalg.matrices.with_singular_values(6, 4, torch.tensor([2.0, 1.0, 1.0, 1.0], dtype=torch.float64), seed=52)
    else:
        A0 = torch.linalg.qr(torch.randn(5, 3, dtype=torch.complex128, generator=g))[0].mH
    WU, WH = cotangent(A0, 53), cotangent(A0.new_empty(A0.shape[-1], A0.shape[-1]), 54)

    def f(X):
        U, H = gdlinalg.polar(X)
        return (U * WU.conj()).real.sum() + (H * WH.conj()).real.sum()

    A = A0.clone().requires_grad_()
    (grad,) = torch.autograd.grad(f(A), A)
    assert torch.isfinite(grad).all()
    for _ in range(3):
        D = cotangent(A0, int(torch.randint(1000, (1,), generator=g)))
        fd = central_difference(f, A0, D)
        assert abs((grad.conj() * D).real.sum() - fd) < 1e-7 * (1 + abs(fd))
