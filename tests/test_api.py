"""The public surface (DESIGN §2): names, signatures, and a light, fast import."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest
import torch

import ntkbook

# DESIGN §2 fixes these names and signatures exactly (kinds, order, defaults). A function may
# add parameters only after them, keyword-only and with defaults.
CONTRACT = {
    "TwoLayerReLU": "d, m, *, kappa=1.0, seed=0",
    "MLP": "d, width, depth, *, activation='relu', seed=0",
    "empirical_ntk": "model, X, Z=None, *, method='auto'",
    "analytic_ntk": "X, Z=None, *, depth=1, activation='relu', c_sigma=None",
    "analytic_nngp": "X, Z=None, *, depth=1, activation='relu', c_sigma=None",
    "relu_two_layer_ntk": "X, Z=None",
    "kernel_ridge": "K_train, K_test_train, y_train, ridge",
    "ntk_loo_influence": "K_train, K_test_train, y_train, y_test, ridge",
}

# The rest of the API the chapters are written against (the brief shared by the book's authors).
DOCUMENTED = {
    "LazyModel": "model, alpha",
    "influence.ntk_ihvp_influence": "K_train, K_test_train, y_train, y_test, ridge",
    "influence.ihvp_decomposition": "K_train, K_test_train, y_train, y_test, ridge",
    "influence.group_complexity": "K_train, y_train, group",
    "influence.inverse_hvp": "model, X, y, V, *, loss='squared', ridge=0.0, solver='cg'",
    "influence.koh_liang_influence": "model, X_train, y_train, X_test, y_test, *, loss='squared',"
                                     " ridge=0.0, solver='direct'",
    "influence.fit_to_optimum": "model, X, y, *, loss='squared', ridge=0.0, anchor=None",
    "influence.leave_one_out_retraining": "model, X_train, y_train, X_test, y_test, *,"
                                          " indices=None, loss='squared', ridge=0.0",
    "influence.ntk_loo_influence_along_time": "K_train, K_test_train, y_train, y_test, t",
    "TwoLayerNet": "d, m, *, tau=1.0, scaling='mean_field', symmetric=True, seed=0",
    "theory.ihvp_error_rate_lower_bound": "K_train, ridge",
    "theory.lazy_criterion": "model, X, y, *, iterations=10, restarts=3, seed=0",
    "theory.second_derivative_norm": "model, X, *, iterations=10, restarts=3, rtol=1e-7, seed=0",
    "linearize": "model",
    "layer_grams": "model, X, Z=None",
    "empirical.jacobian": "model, X",
    "hessian_spectral_norm": "model, x, *, iterations=100, seed=0",
    "layer_kernels": "X, Z=None, *, depth=1, activation='relu', c_sigma=None",
    "kernels.c_sigma_for": "activation",
    "gradient_descent": "model, X, y, *, lr, steps, ridge=0.0, record_every=1, record_gram=False,"
                        " record_predictions=False, X_test=None",
    "gradient_flow_prediction": "K_train, K_test_train, y_train, t, *, f0_train=None,"
                                " f0_test=None",
    "gradient_descent_prediction": "K_train, K_test_train, y_train, *, lr, steps, f0_train=None,"
                                   " f0_test=None",
    "data.sphere": "n, d, *, seed=0",
    "data.circle": "n, *, seed=None",
    "data.toy_2d": "n, *, kind='moons', noise=0.1, seed=0",
    "data.mixture": "n, d, proportions, *, radius=0.2, seed=0",
    "data.digits": "classes=None, *, labels='onehot', n_train=None, n_test=0, seed=0",
    "data.flip_labels": "y, fraction, *, seed=0",
    "plotting.set_style": "",
    "plotting.power_law_fit": "x, y",
    "plotting.plot_power_law": "ax, x, y, *, label='measured', color=None",
    "plotting.plot_theory_vs_measured": "ax, x, measured, theory, *, xlabel, ylabel",
    "exercises.check_number": "answer, expected, *, rtol=1e-6, name='answer'",
    "exercises.check_array": "answer, expected, *, rtol=1e-6, name='answer'",
    "exercises.check_function": "answer, reference, inputs, *, rtol=1e-6",
    "scaled": "size",
    "set_experiment_scale": "factor",
    "experiment_scale": "",
    "device": "",
}


def resolve(dotted: str):
    obj = ntkbook
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def check_signature(dotted: str, spec: str) -> None:
    """Positional parameters in order; keyword-only ones by name; same defaults."""
    expected = inspect.signature(eval(f"lambda {spec}: None")).parameters  # specs are literals
    actual = inspect.signature(resolve(dotted)).parameters
    positional = [p for p in actual.values() if p.kind != p.KEYWORD_ONLY]
    want_positional = [p for p in expected.values() if p.kind != p.KEYWORD_ONLY]
    assert [(p.name, p.kind) for p in positional] == [(p.name, p.kind) for p in want_positional], (
        f"{dotted}: positional parameters {positional} vs {want_positional}")
    for name, want in expected.items():
        assert name in actual, f"{dotted}: missing {name}"
        got = actual[name]
        assert got.kind == want.kind, f"{dotted}: {got} vs {want}"
        assert got.default == want.default, f"{dotted}: {name}={got.default!r}"
    for name, extra in actual.items():
        if name not in expected:  # additions: keyword-only, with a default
            assert extra.kind == extra.KEYWORD_ONLY, f"{dotted}: {extra}"
            assert extra.default is not extra.empty, f"{dotted}: {name} needs a default"


@pytest.mark.parametrize(("name", "spec"), CONTRACT.items(), ids=list(CONTRACT))
def test_design_contract_signatures(name: str, spec: str) -> None:
    assert name in ntkbook.__all__
    check_signature(name, spec)


@pytest.mark.parametrize(("name", "spec"), DOCUMENTED.items(), ids=list(DOCUMENTED))
def test_documented_signatures(name: str, spec: str) -> None:
    check_signature(name, spec)


def test_models_take_dtype_and_device_keywords() -> None:
    for cls in (ntkbook.TwoLayerReLU, ntkbook.MLP):
        params = inspect.signature(cls).parameters
        assert params["dtype"].default == torch.float64 and params["device"].default is None
        assert params["dtype"].kind == params["dtype"].KEYWORD_ONLY


def test_everything_exported_exists_and_is_documented() -> None:
    assert ntkbook.__version__
    assert len(set(ntkbook.__all__)) == len(ntkbook.__all__)
    for name in ntkbook.__all__:
        obj = getattr(ntkbook, name)
        assert inspect.getdoc(obj), f"ntkbook.{name} has no docstring"
    for name in ("TrainingHistory", "LinearizedModel", "LazyModel"):
        assert isinstance(getattr(ntkbook, name), type)
    assert isinstance(ntkbook.device(), torch.device)


IMPORT_PROBE = """
import json, sys, time
import torch
start = time.perf_counter()
import ntkbook
elapsed = time.perf_counter() - start
heavy = sorted({m.split('.')[0] for m in sys.modules} & {HEAVY})
print(json.dumps({"elapsed": elapsed, "heavy": heavy}))
"""

HEAVY = {"matplotlib", "seaborn", "sklearn", "pandas", "IPython"}


def test_import_is_light_and_fast() -> None:
    """No plotting or scikit-learn at import (they load when a helper needs them).

    Measured ~0.08 s on top of torch on the shared 2-core machine; 1.5 s is a generous ceiling
    that still catches an eager import of matplotlib/seaborn/scikit-learn (~1-2 s together).
    """
    probe = IMPORT_PROBE.replace("{HEAVY}", repr(HEAVY))
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=120)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["heavy"] == [], f"import ntkbook loaded {report['heavy']}"
    assert report["elapsed"] < 1.5, f"import ntkbook took {report['elapsed']:.2f} s after torch"


# The module map follows the book (DESIGN §2): each module holds one chapter's (one paper's)
# code, and every name stays importable from its subpackage as before the split.
MODULE_MAP = {
    "theory.lazy": ["LazyCriterion", "lazy_criterion", "second_derivative_norm"],
    "theory.convergence": [
        "ConvergenceRequirements", "SpectralProjections", "UpdateDecomposition",
        "arora_complexity", "arora_loss_curve", "du_deep_gram_limit", "du_linear_rate_bound",
        "du_two_layer_requirements", "du_update_decomposition", "du_weight_radius",
        "flip_probability", "label_projections", "max_stable_lr"],
    "theory.low_rank": [
        "InformationSplit", "LowRankBound", "information_split", "jacobian_distance",
        "linearized_residual", "linearized_residual_bound", "meta_theorem_bound",
        "meta_theorem_delta"],
    "influence.koh_liang": [
        "IHVPSolution", "KohLiangInfluence", "fit_to_optimum", "inverse_hvp",
        "koh_liang_influence", "leave_one_out_retraining"],
    "influence.ntk": [
        "IHVPDecomposition", "group_complexity", "ihvp_decomposition",
        "ihvp_error_rate_lower_bound", "ntk_ihvp_influence", "ntk_loo_influence",
        "ntk_loo_influence_along_time"],
    "exercises.common": ["ExerciseResult", "check_array", "check_function", "check_number"],
    "exercises.ch01": ["ch1_hessian_norm", "ch1_linear_model_ntk", "ch1_relu_ntk_value"],
    "exercises.ch02": ["ch2_arccos_kernel", "ch2_ntk_orthogonal"],
    "exercises.ch03": ["ch3_homogeneous_kappa"],
    "exercises.ch04": ["ch4_two_point_lambda0"],
    "exercises.ch05": ["ch5_linearized_residual"],
    "exercises.ch06": ["ch6_gd_limit", "ch6_max_margin"],
    "exercises.ch07": ["ch7_exact_loo", "ch7_newton_loo"],
}


@pytest.mark.parametrize("module", list(MODULE_MAP))
def test_module_map(module: str) -> None:
    """Each name is defined in its chapter's module and re-exported by the subpackage."""
    package = module.split(".")[0]
    for name in MODULE_MAP[module]:
        obj = resolve(f"{module}.{name}")
        assert obj.__module__ == f"ntkbook.{module}", f"{name} is defined in {obj.__module__}"
        assert resolve(f"{package}.{name}") is obj, f"ntkbook.{package}.{name} is not {module}"
        assert name in resolve(package).__all__


def test_ihvp_error_rate_lower_bound_is_reexported_by_theory() -> None:
    bound = ntkbook.influence.ihvp_error_rate_lower_bound
    assert ntkbook.theory.ihvp_error_rate_lower_bound is bound
