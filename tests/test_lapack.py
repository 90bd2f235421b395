"""The CPU factorizations of the closed forms (ntkbook._lapack).

Oracles: the tridiagonal route of gradient_flow_prediction and gradient_descent_prediction vs
the same formulas evaluated through torch.linalg.eigh in float64; float32 results vs that
float64 truth; the Cholesky factor vs L Lᵀ = K + λI; derivatives taken through the eigh route
(which autograd follows) vs their closed forms; the BLAS thread count seen inside a call vs
torch's.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from ntkbook import _lapack, gradient_descent_prediction, gradient_flow_prediction, kernel_ridge
from ntkbook.dynamics import _cholesky

SCIPY_PREFERRED = _lapack.scipy_preferred  # the real rule, before the fixture below replaces it


@pytest.fixture(autouse=True)
def scipy_route(monkeypatch):
    """These tests are of SciPy's route, which an Intel CPU with MKL would not take by itself."""
    monkeypatch.setattr(_lapack, "scipy_preferred", lambda: True)


def problem(n: int, d: int, seed: int, n_test: int = 7):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64) / d**0.5
    Z = torch.randn(n_test, d, generator=g, dtype=torch.float64) / d**0.5
    # a ReLU-like kernel plus a rank-d linear part: PSD, with a spread of eigenvalues
    K = X @ X.T + torch.exp(-torch.cdist(X, X) ** 2)
    Kt = Z @ X.T + torch.exp(-torch.cdist(Z, X) ** 2)
    return K, Kt, torch.randn(n, generator=g, dtype=torch.float64)


def eigh_flow(K, Kt, y, times, f0=None, f0_test=None):
    """(len(times), n_test) predictions of gradient flow, through torch.linalg.eigh."""
    lam, V = torch.linalg.eigh(K)
    lam = lam.clamp_min(0)
    lt = times[:, None] * lam[None, :]
    g = torch.where(lam > 0, -torch.expm1(-lt) / torch.where(lam > 0, lam, 1.0),
                    times[:, None].expand_as(lt))
    r = y if f0 is None else y - f0
    out = Kt @ (V @ (g * (V.T @ r)[None, :]).T)
    return (out if f0_test is None else f0_test[:, None] + out).T


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max() / b.double().abs().max())


def relative_per_row(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Largest error of each row (time) over the largest entry of that row of b (a row of zeros,
    as at time 0 from f₀ = 0, must then be matched exactly)."""
    scale = b.double().abs().amax(dim=1).clamp_min(torch.finfo(torch.float64).tiny)
    return (a.double() - b.double()).abs().amax(dim=1) / scale


def test_the_cpu_route_is_the_tridiagonal_one(monkeypatch):
    made = []
    real = _lapack.SymmetricEigen

    def spy(A):
        made.append(A.shape)
        return real(A)

    monkeypatch.setattr(_lapack, "SymmetricEigen", spy)
    K, Kt, y = problem(30, 4, 0)
    gradient_flow_prediction(K, Kt, y, 1.0)
    gradient_descent_prediction(K.float(), Kt.float(), y.float(), lr=0.1, steps=5)
    assert made == [(30, 30), (30, 30)]
    # autograd needs the eigh route, in either mode; without grad mode the CPU route serves
    gradient_flow_prediction(K.clone().requires_grad_(), Kt, y, 1.0)
    torch.func.jvp(lambda s: gradient_flow_prediction(K, Kt, y, s),
                   (torch.tensor(1.0, dtype=torch.float64),),
                   (torch.tensor(1.0, dtype=torch.float64),))
    assert len(made) == 2
    with torch.no_grad():
        gradient_flow_prediction(K.clone().requires_grad_(), Kt, y, 1.0)
    assert len(made) == 3


@pytest.mark.parametrize("n", [1, 2, 3, 17, 200])
@pytest.mark.parametrize("d", [2, 50])
def test_float64_matches_eigh(n, d):
    """Both routes are backward stable: each is exact for a K perturbed by O(n·ε·λ_max), which
    moves g(λ) = (1 − e^{−tλ})/λ (|g'| ≤ t²/2, g ≈ t near 0) by t·λ_max·n·ε relative to its scale.
    So they agree to 10·n·ε·(1 + t·λ_max) of the output's scale."""
    K, Kt, y = problem(n, d, seed=n + d)
    f0 = torch.randn(n, dtype=torch.float64)
    f0_test = torch.randn(Kt.shape[0], dtype=torch.float64)
    times = torch.tensor([0.0, 1e-3, 0.5, 3.0, 1e4], dtype=torch.float64)
    got = gradient_flow_prediction(K, Kt, y, times, f0_train=f0, f0_test=f0_test)
    want = eigh_flow(K, Kt, y, times, f0, f0_test)
    growth = 1 + times * float(torch.linalg.eigvalsh(K)[-1])
    assert (relative_per_row(got, want) <= 10 * n * torch.finfo(torch.float64).eps * growth).all()


def test_float64_at_the_benchmark_size():
    """n = 2000, the side-by-side benchmark's size: float64 results unchanged to 1e-12, the
    design's requirement for the faster route (10·n·ε·(1 + tλ_max) is about 10⁻¹¹ here)."""
    K, Kt, y = problem(2000, 100, seed=3, n_test=50)
    t = torch.tensor([1.0], dtype=torch.float64)
    assert relative(gradient_flow_prediction(K, Kt, y, t), eigh_flow(K, Kt, y, t)) <= 1e-12


@pytest.mark.parametrize("seed", range(3))
def test_float32_is_as_accurate_as_its_precision(seed):
    """float32 against the float64 truth, to 10·n·ε₃₂·(1 + tλ_max) of the output's scale (the
    bound of test_float64_matches_eigh, for float32 rounding of K and of the arithmetic)."""
    n = 600
    K, Kt, y = problem(n, 100, seed)
    times = torch.tensor([0.3, 2.0], dtype=torch.float64)
    want = eigh_flow(K, Kt, y, times)
    got = gradient_flow_prediction(K.float(), Kt.float(), y.float(), times.float())
    assert got.dtype == torch.float32
    growth = 1 + times * float(torch.linalg.eigvalsh(K)[-1])
    assert (relative_per_row(got, want) <= 10 * n * torch.finfo(torch.float32).eps * growth).all()


def test_float32_eigenvectors_of_the_tridiagonal_problem_are_orthogonal():
    """The tridiagonal problem of a float32 K is solved in float64.

    MRRR guarantees orthogonality O(n·ε) in the precision it runs in; 100·n·ε₆₄ (1.3·10⁻¹¹ here)
    leaves room for the constant. Single-precision MRRR gave 2.3·10⁻⁴ on this kernel.
    """
    n = 600
    K, _, _ = problem(n, 100, 0)
    eigen = _lapack.SymmetricEigen(K.float().contiguous().clone())
    S = eigen.vectors
    assert S.dtype == np.float64
    assert np.abs(S.T @ S - np.eye(n)).max() <= 100 * n * np.finfo(np.float64).eps
    lam = torch.linalg.eigvalsh(K)
    assert np.allclose(eigen.eigenvalues, lam.numpy(), rtol=0,
                       atol=10 * n * float(torch.finfo(torch.float32).eps) * float(lam[-1]))


def test_gradient_descent_steps_match_eigh():
    n = 150
    K, Kt, y = problem(n, 20, 5)
    lr = 1.0 / float(torch.linalg.eigvalsh(K)[-1])
    steps = torch.tensor([0, 1, 10, 1000])
    got = gradient_descent_prediction(K, Kt, y, lr=lr, steps=steps)
    lam, V = torch.linalg.eigh(K)
    lam = lam.clamp_min(0)
    g = (1 - (1 - lr * lam)[None, :] ** steps[:, None].double()) / lam
    want = (Kt @ (V @ (g * (V.T @ y)[None, :]).T)).T
    # as for the flow, with ηk in the role of t
    growth = 1 + lr * steps.double() * float(lam[-1])
    assert (relative_per_row(got, want) <= 10 * n * torch.finfo(torch.float64).eps * growth).all()


def test_derivatives_through_the_eigh_route():
    """d f_t / dt = k(x)ᵀ e^{−Kt} y, and f_t is linear in y with matrix k(x)ᵀ K⁻¹(I − e^{−Kt})."""
    n = 40
    K, Kt, y = problem(n, 6, 7)
    t = torch.tensor(0.8, dtype=torch.float64, requires_grad=True)
    f = gradient_flow_prediction(K, Kt, y, t)
    lam, V = torch.linalg.eigh(K)
    dfdt = Kt @ (V @ (torch.exp(-0.8 * lam) * (V.T @ y)))
    (grad_t,) = torch.autograd.grad(f.sum(), t)
    assert torch.allclose(grad_t, dfdt.sum(), rtol=1e-10, atol=0)
    _, tangent = torch.func.jvp(lambda s: gradient_flow_prediction(K, Kt, y, s),
                                (t.detach(),), (torch.ones_like(t),))
    assert torch.allclose(tangent, dfdt, rtol=1e-10, atol=0)
    yy = y.clone().requires_grad_()
    jac = torch.autograd.functional.jacobian(
        lambda v: gradient_flow_prediction(K, Kt, v, 0.8), yy)
    lam = lam.clamp_min(0)
    want = Kt @ V @ torch.diag(-torch.expm1(-0.8 * lam) / lam) @ V.T
    assert torch.allclose(jac, want, rtol=0, atol=1e-10 * float(want.abs().max()))
    A = K.clone().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda M: gradient_flow_prediction((M + M.T) / 2, Kt, y, 0.8), (A,))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cholesky_factor(dtype):
    n, ridge = 300, 1e-2
    K, Kt, y = problem(n, 30, 11)
    K = K.to(dtype)
    # LAPACK reads one triangle of the copy and zeroes the other: fill that one with NaN first
    A = K.clone()
    A[tuple(torch.tril_indices(n, n, -1))] = float("nan")
    assert _lapack.cholesky_in_place(A) == 0
    assert torch.equal(A.T.triu(1), torch.zeros_like(A))
    L = _cholesky(K, ridge)
    assert torch.equal(L.triu(1), torch.zeros_like(L))
    target = K.double() + ridge * torch.eye(n, dtype=torch.float64)
    err = (L.double() @ L.double().T - target).abs().max() / target.abs().max()
    assert float(err) <= 10 * n * torch.finfo(dtype).eps
    want = Kt @ torch.linalg.solve(target, y)
    got = kernel_ridge(K, Kt.to(dtype), y.to(dtype), ridge)
    cond = float(torch.linalg.cond(target))
    assert relative(got, want) <= 10 * n * torch.finfo(dtype).eps * cond


def test_cholesky_reports_the_failing_minor():
    A = torch.tensor([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)
    assert _lapack.cholesky_in_place(A.clone()) == 2
    with pytest.raises(ValueError, match="not positive definite"):
        kernel_ridge(A, A, torch.ones(3, dtype=torch.float64), 0.0)


def blas_threads() -> dict[str, int]:
    return {lib["filepath"]: lib["num_threads"] for lib in threadpool_info()
            if lib["user_api"] == "blas"}


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_blas_threads_follow_torch(threads):
    before_torch, before = torch.get_num_threads(), blas_threads()
    try:
        torch.set_num_threads(threads)
        with _lapack._threads():
            inside = blas_threads()
        assert inside and set(inside.values()) == {threads}
        assert blas_threads() == before  # restored
    finally:
        torch.set_num_threads(before_torch)


def test_a_non_contiguous_kernel():
    K, Kt, y = problem(40, 5, 19)
    wide = torch.zeros(40, 80, dtype=torch.float64)
    wide[:, ::2] = K
    view = wide[:, ::2]
    assert not view.is_contiguous()
    t = torch.tensor([0.5, 2.0], dtype=torch.float64)
    assert relative(gradient_flow_prediction(view, Kt, y, t), eigh_flow(K, Kt, y, t)) <= 1e-13
    want = Kt @ torch.linalg.solve(K + 0.1 * torch.eye(40, dtype=torch.float64), y)
    assert relative(kernel_ridge(view, Kt, y, 0.1), want) <= 1e-12


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n", [1, 2, 150])
def test_inverse_from_the_factor(dtype, n, monkeypatch):
    K, _, _ = problem(n, 30, 13)
    ridge = 0.1
    chol = _cholesky(K.to(dtype), ridge)
    G = _lapack.inverse_from_cholesky_in_place(chol)
    assert G.dtype == dtype and torch.equal(G, G.T)
    assert G.data_ptr() == chol.data_ptr()  # in the factor's storage, mirrored in place
    monkeypatch.setattr(_lapack, "_MIRROR_PANEL", 7)  # panels that do not divide n
    assert torch.equal(_lapack.inverse_from_cholesky_in_place(_cholesky(K.to(dtype), ridge)), G)
    target = K + ridge * torch.eye(n, dtype=torch.float64)
    cond = float(torch.linalg.cond(target))
    want = torch.linalg.inv(target)
    assert relative(G, want) <= 10 * n * torch.finfo(dtype).eps * cond


@pytest.mark.parametrize("kernel_dtype", [torch.float32, torch.float64])
def test_targets_take_the_kernel_dtype_on_both_routes(kernel_dtype, monkeypatch):
    K, Kt, y = problem(25, 3, 17)
    K, Kt = K.to(kernel_dtype), Kt.to(kernel_dtype)
    other = torch.float64 if kernel_dtype == torch.float32 else torch.float32
    scipy_route = gradient_flow_prediction(K, Kt, y.to(other), 1.0)
    want = gradient_flow_prediction(K, Kt, y.to(other).to(kernel_dtype), 1.0)
    assert scipy_route.dtype == kernel_dtype and torch.equal(scipy_route, want)
    monkeypatch.setattr(_lapack, "applies", lambda K: False)
    torch_route = gradient_flow_prediction(K, Kt, y.to(other), 1.0)
    assert torch_route.dtype == kernel_dtype
    assert relative(torch_route, scipy_route) <= 10 * 25 * torch.finfo(kernel_dtype).eps


@pytest.mark.parametrize("cpuinfo, processor, vendor", [
    ("processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\n", "", "GenuineIntel"),
    ("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n", "", "AuthenticAMD"),
    ("", "Intel64 Family 6 Model 143 Stepping 8, GenuineIntel", "GenuineIntel"),
    ("processor\t: 0\nBogoMIPS\t: 50.00\n", "", None),  # an ARM machine's /proc/cpuinfo
    ("vendor_id\t:\n", "i386", None),
])
def test_cpu_vendor(cpuinfo, processor, vendor, monkeypatch):
    monkeypatch.setattr(_lapack.platform, "processor", lambda: processor)
    assert _lapack.cpu_vendor(cpuinfo) == vendor


@pytest.mark.parametrize("mkl, vendor, preferred", [
    (True, "GenuineIntel", False), (True, "AuthenticAMD", True), (True, None, True),
    (False, "GenuineIntel", True),
])
def test_scipy_is_preferred_except_for_mkl_on_intel(mkl, vendor, preferred, monkeypatch):
    monkeypatch.setattr(torch.backends.mkl, "is_available", lambda: mkl)
    monkeypatch.setattr(_lapack, "cpu_vendor", lambda cpuinfo=None: vendor)
    assert SCIPY_PREFERRED.__wrapped__() is preferred


def test_where_scipy_is_not_preferred_the_torch_route_gives_the_same_results(monkeypatch):
    made = []
    real = _lapack.SymmetricEigen
    monkeypatch.setattr(_lapack, "SymmetricEigen", lambda A: made.append(A.shape) or real(A))
    K, Kt, y = problem(60, 5, 4)
    times = torch.tensor([0.5, 5.0], dtype=torch.float64)
    scipy_flow = gradient_flow_prediction(K, Kt, y, times)
    scipy_ridge = kernel_ridge(K, Kt, y, 1e-3)
    assert made == [(60, 60)]
    monkeypatch.setattr(_lapack, "scipy_preferred", lambda: False)
    assert not _lapack.applies(K)
    torch_flow = gradient_flow_prediction(K, Kt, y, times)
    torch_ridge = kernel_ridge(K, Kt, y, 1e-3)
    assert made == [(60, 60)]
    # both routes are backward stable: 10·n·ε·(1 + tλ_max) bounds each time's difference
    growth = 1 + times * float(torch.linalg.eigvalsh(K)[-1])
    bound = 2 * 10 * 60 * torch.finfo(torch.float64).eps * growth
    assert (relative_per_row(torch_flow, scipy_flow) <= bound).all()
    # and a solve with K + λI loses at most its condition number times that backward error
    lam = torch.linalg.eigvalsh(K) + 1e-3
    condition = float(lam[-1] / lam[0])
    eps = torch.finfo(torch.float64).eps
    assert relative(torch_ridge, scipy_ridge) <= 2 * 10 * 60 * eps * condition


def test_kernel_ridge_solves_with_the_factor_in_place(monkeypatch):
    """potrs against torch.cholesky_solve on the same factor, one and several targets; targets
    that autograd follows take torch's solve, whose Jacobian is K_te (K + λI)⁻¹."""
    solved = []
    real = _lapack.cholesky_solve
    monkeypatch.setattr(_lapack, "cholesky_solve",
                        lambda c, B: solved.append(B.shape) or real(c, B))
    K, Kt, y = problem(80, 6, 7)
    Y = torch.stack([y, y.flip(0), 2 * y], dim=1)
    chol = _cholesky(K, 1e-3)
    eps = torch.finfo(torch.float64).eps
    for targets in (y, Y):
        got = kernel_ridge(K, Kt, targets, 1e-3)
        want = Kt @ torch.cholesky_solve(targets.reshape(80, -1), chol)
        assert relative(got, want.reshape(got.shape)) <= 10 * 80 * eps
    assert solved == [(80, 1), (80, 3)]
    y_grad = y.clone().requires_grad_()
    kernel_ridge(K, Kt, y_grad, 1e-3).sum().backward()
    assert len(solved) == 2
    want = torch.linalg.solve(K + 1e-3 * torch.eye(80, dtype=torch.float64), Kt.sum(0))
    lam = torch.linalg.eigvalsh(K) + 1e-3
    assert relative(y_grad.grad, want) <= 2 * 10 * 80 * eps * float(lam[-1] / lam[0])
