"""Bad and edge-case inputs to ntkbook.dynamics: clear errors naming the argument, float32 kernels
accepted with a tolerance that follows the dtype, and no silent wrong answer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import ntkbook
from ntkbook import (
    TwoLayerReLU,
    gradient_descent,
    gradient_descent_prediction,
    gradient_flow_prediction,
    kernel_ridge,
)
from ntkbook.influence import ntk_loo_influence_along_time


def problem(n: int = 10, n_test: int = 4, d: int = 3, seed: int = 0):
    X = ntkbook.data.sphere(n + n_test, d, seed=seed)
    K = ntkbook.relu_two_layer_ntk(X)
    y = torch.sin(3 * X[:, 0])
    return K[:n, :n], K[n:, :n], y[:n], X[:n], X[n:]


def singular(n: int = 40, d: int = 3, seed: int = 2):
    """XXᵀ of n points in R^d: rank d, so n − d eigenvalues are zero up to rounding."""
    X = ntkbook.data.sphere(n, d, seed=seed)
    return X @ X.T, torch.sin(3 * X[:, 0])


# --- gradient_descent ------------------------------------------------------------------------

def test_gradient_descent_refuses_a_model_with_an_n_by_1_output() -> None:
    """out − y used to broadcast (n, 1) − (n,) to (n, n) and fit every output to the mean of y."""
    _, _, y, X, _ = problem()
    model = nn.Sequential(nn.Linear(3, 64), nn.ReLU(), nn.Linear(64, 1)).double()
    with pytest.raises(ValueError, match=r"model must map \(n, d\) inputs to \(n,\) outputs.*"
                                         r"\(10, 1\)"):
        gradient_descent(model, X, y, lr=0.01, steps=5)


def test_gradient_descent_names_x_test_when_its_width_is_wrong() -> None:
    _, _, y, X, X_test = problem()
    with pytest.raises(ValueError, match=r"X_test must have 3 columns like X, got 2"):
        gradient_descent(TwoLayerReLU(3, 8), X, y, lr=0.1, steps=2, X_test=X_test[:, :2])


def test_gradient_descent_refuses_meta_tensors() -> None:
    _, _, y, X, _ = problem()
    with pytest.raises(ValueError, match=r"X is a meta tensor"):
        gradient_descent(TwoLayerReLU(3, 8), X.to("meta"), y, lr=0.1, steps=2)
    with pytest.raises(ValueError, match=r"y is a meta tensor"):
        gradient_descent(TwoLayerReLU(3, 8), X, y.to("meta"), lr=0.1, steps=2)


# --- kernel_ridge and the closed forms --------------------------------------------------------

CLOSED_FORMS = {
    "kernel_ridge": lambda K, Kt, y: kernel_ridge(K, Kt, y, 0.1),
    "gradient_flow_prediction": lambda K, Kt, y: gradient_flow_prediction(K, Kt, y, 2.0),
    "gradient_descent_prediction": lambda K, Kt, y: gradient_descent_prediction(
        K, Kt, y, lr=0.1, steps=3),
    "ntk_loo_influence": lambda K, Kt, y: ntkbook.ntk_loo_influence(
        K, Kt, y, torch.zeros(Kt.shape[0], dtype=Kt.dtype), 0.1),
}


@pytest.mark.parametrize("name", list(CLOSED_FORMS))
def test_kernels_of_two_dtypes_are_a_clear_type_error(name: str) -> None:
    K, Kt, y, _, _ = problem()
    with pytest.raises(TypeError, match=r"K_test_train has dtype torch.float32 but K_train has "
                                        r"torch.float64"):
        CLOSED_FORMS[name](K, Kt.float(), y)
    with pytest.raises(TypeError, match=r"K_test_train has dtype torch.float64 but K_train has "
                                        r"torch.float32"):
        CLOSED_FORMS[name](K.float(), Kt, y)


@pytest.mark.parametrize("name", list(CLOSED_FORMS))
def test_meta_tensors_are_a_clear_error(name: str) -> None:
    K, Kt, y, _, _ = problem()
    for args, argument in [((K.to("meta"), Kt, y), "K_train"), ((K, Kt.to("meta"), y),
                                                                "K_test_train"),
                           ((K, Kt, y.to("meta")), "y_train")]:
        with pytest.raises(ValueError, match=rf"{argument} is a meta tensor"):
            CLOSED_FORMS[name](*args)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_kernel_ridge_refuses_non_finite_targets(bad: float) -> None:
    """NaN targets used to give NaN predictions without a word."""
    K, Kt, y, _, _ = problem()
    with pytest.raises(ValueError, match=r"y_train contains NaN or infinite entries"):
        kernel_ridge(K, Kt, torch.where(torch.arange(10) == 3, bad, y), 0.1)
    Y = torch.stack([y, y], 1)
    Y[2, 1] = bad
    with pytest.raises(ValueError, match=r"y_train contains NaN or infinite entries"):
        kernel_ridge(K, Kt, Y, 0.1)


def test_kernel_ridge_still_takes_several_outputs_and_casts_targets() -> None:
    K, Kt, y, _, _ = problem()
    Y = torch.stack([y, -y], 1)
    out = kernel_ridge(K, Kt, Y, 0.1)
    assert torch.allclose(out[:, 0], kernel_ridge(K, Kt, y, 0.1), rtol=1e-12, atol=1e-14)
    assert torch.allclose(kernel_ridge(K, Kt, y.float(), 0.1), kernel_ridge(K, Kt, y, 0.1),
                          rtol=1e-6)


def test_gradient_descent_prediction_refuses_a_divergent_step() -> None:
    """(1 − ηλ)^k overflows for ηλ_max > 2 and the prediction came back as NaN."""
    K, Kt, y, _, _ = problem()
    lam_max = float(torch.linalg.eigvalsh(K)[-1])
    lr = 4.0 / lam_max
    with pytest.raises(ValueError, match=r"lr \* lambda_max = 4.* > 2"):
        gradient_descent_prediction(K, Kt, y, lr=lr, steps=5000)
    # a divergent step whose predictions are still finite is what k steps of gradient descent
    # give: the closed form keeps returning it, like gradient_descent keeps training
    out = gradient_descent_prediction(K, Kt, y, lr=lr, steps=3)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_singular_kernel_is_accepted_in_both_dtypes(dtype: torch.dtype) -> None:
    """The PSD tolerance follows the dtype: float32 rounding of a rank-3 kernel used to be
    rejected as indefinite."""
    K, y = singular()
    reference = gradient_flow_prediction(K, K[:5], y, 5.0)
    out = gradient_flow_prediction(K.to(dtype), K[:5].to(dtype), y.to(dtype), 5.0)
    eps = torch.finfo(dtype).eps
    assert float((out.double() - reference).abs().max()) < 1e3 * eps * float(reference.abs().max())
    steps = gradient_descent_prediction(K.to(dtype), K[:5].to(dtype), y.to(dtype), lr=0.01,
                                        steps=50)
    assert torch.isfinite(steps).all()
    along = ntk_loo_influence_along_time(K.to(dtype), K[:3].to(dtype), y.to(dtype),
                                         torch.zeros(3, dtype=dtype), 2.0)
    exact = ntk_loo_influence_along_time(K, K[:3], y, torch.zeros(3, dtype=torch.float64), 2.0)
    assert float((along.double() - exact).abs().max()) < 1e3 * eps * float(exact.abs().max())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_an_indefinite_kernel_is_still_refused(dtype: torch.dtype) -> None:
    K, y = singular()
    indefinite = K - 1e-2 * float(torch.linalg.eigvalsh(K)[-1]) * torch.eye(40, dtype=K.dtype)
    with pytest.raises(ValueError, match=r"K_train must be positive semi-definite"):
        gradient_flow_prediction(indefinite.to(dtype), K[:5].to(dtype), y.to(dtype), 5.0)
