"""The probe check of symmetry and finiteness (ntkbook._checks.symmetric_finite, and the checked
copy of one triangle) and the solvers that rely on it instead of a full comparison of K with Kᵀ:
kernel_ridge and gradient_flow_prediction still reject asymmetric and non-finite kernels, and
still solve."""

from __future__ import annotations

import pytest
import torch

import ntkbook
from ntkbook import dynamics, gradient_flow_prediction, kernel_ridge
from ntkbook._checks import kernel_pair_shapes, symmetric_finite, symmetric_finite_upper_copy


def kernel(n: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return ntkbook.analytic_ntk(ntkbook.data.sphere(n, 5, seed=seed, dtype=dtype), depth=2)


def positions(n: int, count: int, seed: int) -> list[tuple[int, int]]:
    g = torch.Generator().manual_seed(seed)
    pairs = torch.randint(0, n, (count, 2), generator=g).tolist()
    return [(i, j) for i, j in pairs if i != j]


CHECKS = [symmetric_finite, symmetric_finite_upper_copy]


@pytest.fixture(params=["default blocks", "blocks of 7 rows"], autouse=True)
def copy_blocks(request, monkeypatch) -> None:
    """The checked copy splits K into blocks of rows; run every test also with many small blocks
    (the last one shorter), so that pairs within a block, across blocks and at block boundaries
    all occur."""
    if request.param == "blocks of 7 rows":
        monkeypatch.setattr(ntkbook._checks, "_COPY_BLOCK_BYTES", 7 * 8 * 400)


@pytest.mark.parametrize("check", CHECKS)
def test_symmetric_kernels_pass(check) -> None:
    for dtype in (torch.float64, torch.float32):
        check(kernel(300, dtype=dtype), "K")
    K = kernel(300)
    check(K + 1e-14 * K.abs().max() * torch.randn(300, 300).double().triu(1), "K")


def test_the_checked_copy_holds_the_upper_triangle() -> None:
    K = kernel(1000)
    A = symmetric_finite_upper_copy(K, "K")
    assert torch.equal(A.triu(), K.triu()) and A.data_ptr() != K.data_ptr()


def test_the_factorization_never_reads_the_uncopied_triangle(monkeypatch) -> None:
    """kernel_ridge leaves the strict lower triangle of its copy uninitialized: with NaN there the
    predictions are bitwise those of a full copy."""
    X = ntkbook.data.sphere(330, 5, seed=4)
    K, K_test = ntkbook.analytic_ntk(X[:300], depth=2), ntkbook.analytic_ntk(X[300:], X[:300])
    y = torch.cos(2 * X[:300, 1])

    def copy(fill):
        def make(K, name):
            A = symmetric_finite_upper_copy(K, name)
            lower = torch.ones_like(A, dtype=torch.bool).tril(-1)
            return torch.where(lower, fill(A), A)
        return make

    results = []
    for fill in (lambda A: torch.full_like(A, float("nan")), lambda A: A.T):
        monkeypatch.setattr(dynamics, "symmetric_finite_upper_copy", copy(fill))
        results.append(kernel_ridge(K, K_test, y, 1e-3))
    assert torch.isfinite(results[0]).all()
    assert torch.equal(results[0], results[1])


def tolerance(K: torch.Tensor) -> float:
    """The probe check's τ (ntkbook._checks._probe_verdict)."""
    eps = torch.finfo(K.dtype).eps
    return max(1e-8, 32 * K.shape[0] ** 0.5 * eps) * float(K.diagonal().abs().max())


def test_the_probes_are_bounded_away_from_zero() -> None:
    for n, dtype in ((1, torch.float64), (400, torch.float64), (3000, torch.float32)):
        G = ntkbook._checks._probes(torch.zeros(n, n, dtype=dtype))
        assert G.shape == (n, 2) and G.dtype == dtype
        assert float(G.abs().min()) >= 0.5 and float(G.abs().max()) < 1
        if n > 1:  # both signs occur, and magnitudes spread over [½, 1)
            assert bool((G > 0).any()) and bool((G < 0).any()) and float(G.abs().std()) > 0.1


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_a_single_asymmetry_of_two_and_a_half_tolerances_is_always_found(dtype, check) -> None:
    """Every probe weight has magnitude ≥ ½, so an isolated asymmetry δ = 2.5τ shows as at least
    1.25τ in its row: found at every position, here all pairs (i, 399), which the checked copy
    compares with the weights g_i of every row i."""
    K = kernel(400, dtype=dtype)
    delta = 2.5 * tolerance(K)
    for i, j in [*((i, 399) for i in range(399)), *((399, i) for i in range(0, 399, 7))]:
        bad = K.clone()
        bad[i, j] += delta
        with pytest.raises(ValueError, match="K must be symmetric"):
            check(bad, "K")
    check(K, "K")


@pytest.mark.parametrize("check", CHECKS)
def test_rows_with_several_asymmetries_are_found(check) -> None:
    """Three asymmetries of random signs and sizes up to δ = 1e-6·max|diag| in one row are missed
    with probability at most (2τ/δ)² = 4e-4 each (the docstring's bound): 30 rows, all found."""
    K = kernel(400)
    delta = 1e-6 * float(K.diagonal().max())
    g = torch.Generator().manual_seed(6)
    for _ in range(30):
        i = int(torch.randint(0, 400, (1,), generator=g))
        columns = torch.randperm(400, generator=g)[:3]
        columns = columns[columns != i]
        sizes = delta * (2 * torch.rand(len(columns), generator=g, dtype=K.dtype) - 1)
        sizes[0] = delta
        bad = K.clone()
        bad[i, columns] += sizes
        with pytest.raises(ValueError, match="K must be symmetric"):
            check(bad, "K")


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_one_asymmetric_entry_is_found_wherever_it_is(dtype: torch.dtype, check) -> None:
    """δ = 1e-6·max|diag| in float64 (1e-2 in float32) is far above 2.5τ, so every one of 40
    random positions and the corners must be reported (see the docstring)."""
    K = kernel(400, dtype=dtype)
    delta = (1e-6 if dtype == torch.float64 else 1e-2) * float(K.diagonal().max())
    edges = [(0, 1), (1, 0), (6, 7), (7, 6), (399, 0), (0, 399), (398, 399), (399, 398)]
    for i, j in [*positions(400, 40, seed=1), *edges]:
        bad = K.clone()
        bad[i, j] += delta
        with pytest.raises(ValueError, match="K must be symmetric"):
            check(bad, "K")


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_entry_is_found_wherever_it_is(value: float, check) -> None:
    K = kernel(400)
    for i, j in [*positions(400, 10, seed=2), (5, 5), (0, 399), (399, 0), (6, 7), (7, 6)]:
        bad = K.clone()
        bad[i, j] = value
        with pytest.raises(ValueError, match="K contains NaN or infinite"):
            check(bad, "K")


def test_kernel_pair_shapes_names_the_argument() -> None:
    K = kernel(4)
    with pytest.raises(ValueError, match="K_train must be square"):
        kernel_pair_shapes(K[:3], K)
    with pytest.raises(ValueError, match="K_test_train must have n = 4 columns"):
        kernel_pair_shapes(K, K[:, :3])
    with pytest.raises(TypeError, match="K_train must be a torch.Tensor"):
        kernel_pair_shapes(K.numpy(), K)
    with pytest.raises(TypeError, match="K_test_train must have a floating dtype"):
        kernel_pair_shapes(K, K.long())
    with pytest.raises(TypeError, match="K_test_train has dtype torch.float32 but K_train"):
        kernel_pair_shapes(K, K.float())


def test_kernel_ridge_matches_a_direct_solve() -> None:
    X = ntkbook.data.sphere(260, 5, seed=3)
    K, K_test = ntkbook.analytic_ntk(X[:200], depth=2), ntkbook.analytic_ntk(X[200:], X[:200])
    y = torch.sin(3 * X[:200, 0])
    for ridge in (1e-3, 0.1):
        direct = K_test @ torch.linalg.solve(K + ridge * torch.eye(200, dtype=K.dtype), y)
        torch.testing.assert_close(kernel_ridge(K, K_test, y, ridge), direct, rtol=1e-9,
                                   atol=1e-12)
    Y = torch.stack([y, y**2], dim=1)
    direct = K_test @ torch.linalg.solve(K + 1e-3 * torch.eye(200, dtype=K.dtype), Y)
    torch.testing.assert_close(kernel_ridge(K, K_test, Y, 1e-3), direct, rtol=1e-9, atol=1e-12)


def test_solvers_reject_asymmetric_and_non_finite_inputs() -> None:
    K = kernel(50)
    K_test = K[:7].clone()
    y = torch.linspace(-1, 1, 50, dtype=torch.float64)
    upper = K.clone()
    upper[3, 40] = float("nan")  # the factorization never reads this triangle
    skew = K.clone()
    skew[3, 40] += 1e-3
    for solve in (lambda A, B, t: kernel_ridge(A, B, t, 1e-3),
                  lambda A, B, t: gradient_flow_prediction(A, B, t, 2.0)):
        with pytest.raises(ValueError, match="K_train contains NaN"):
            solve(upper, K_test, y)
        with pytest.raises(ValueError, match="K_train must be symmetric"):
            solve(skew, K_test, y)
        bad_test = K_test.clone()
        bad_test[2, 9] = float("inf")
        with pytest.raises(ValueError, match="K_test_train"):
            solve(K, bad_test, y)
    bad_y = y.clone()
    bad_y[4] = float("nan")
    with pytest.raises(ValueError, match="y_train"):
        kernel_ridge(K, K_test, bad_y, 1e-3)


@pytest.mark.parametrize("check", CHECKS)
def test_entries_too_large_to_probe_are_not_called_non_finite(check) -> None:
    """Finite entries near the float64 maximum overflow the probes; the message says so, instead
    of reporting NaN or infinite entries that K does not have."""
    K = kernel(60)
    K = K / K.abs().max() * 1.7e308  # rows of 60 such entries, weighted by ½ or more, overflow
    assert torch.isfinite(K).all()
    with pytest.raises(ValueError, match="K has entries too large to check"):
        check(K, "K")


def test_probes_are_drawn_once_and_do_not_depend_on_grad_mode() -> None:
    K = kernel(70)
    with torch.inference_mode():
        symmetric_finite(K, "K")  # the probes for n = 70 are drawn here, under inference mode
    needs_grad = K.clone().requires_grad_()
    symmetric_finite(needs_grad, "K")  # and used by a K that requires grad
    G = ntkbook._checks._probes(K)
    assert G is ntkbook._checks._probes(K.clone()) and not G.is_inference()
    g = torch.Generator().manual_seed(0)
    magnitude = (1 + torch.rand(70, 2, generator=g, dtype=K.dtype)) / 2
    sign = torch.randint(0, 2, (70, 2), generator=g).to(K.dtype) * 2 - 1
    assert torch.equal(G, magnitude * sign)


def test_the_checked_copy_refuses_a_kernel_that_requires_grad() -> None:
    K = kernel(40).requires_grad_()
    with pytest.raises(ValueError, match=r"K_train requires grad.*K_train\.detach\(\)"):
        kernel_ridge(K, K[:3].detach(), torch.zeros(40, dtype=K.dtype), 1e-3)
    with torch.no_grad():
        kernel_ridge(K, K[:3], torch.zeros(40, dtype=K.dtype), 1e-3)
