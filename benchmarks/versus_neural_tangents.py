"""ntkbook against neural-tangents 0.6.5 (JAX, jit-compiled) on the workloads both libraries do.

Run from the repository root, in the benchmark's own environment (neural-tangents needs JAX
0.4.23 and numpy < 2; see ``benchmarks/requirements-nt.txt``)::

    python -m venv benchmarks/.venv-nt && . benchmarks/.venv-nt/bin/activate
    pip install -r benchmarks/requirements-nt.txt
    python benchmarks/versus_neural_tangents.py                # 7 rounds, pinned to one core
    python benchmarks/versus_neural_tangents.py --rounds 3 --quick

Both libraries get the same inputs in one process and the same number of cores: the process is
pinned to ``--threads`` CPUs before either library starts (``os.sched_setaffinity``), and torch
is told the same number (``torch.set_num_threads``). The pinning is what holds XLA to one core:
jaxlib 0.4.23's CPU client sizes its thread pool by the CPUs the process may use, and its matrix
products ran on two cores of a 2-core machine with ``--xla_cpu_multi_thread_eigen=false``. The
table's last column gives each library's CPU time over its wall time, the number of cores it
actually kept busy. Every workload is warmed up (JAX compiles
on its first call), then timed in interleaved rounds — ntkbook and neural-tangents alternate,
the order flipping every round — so that both see the same load; the ratio is formed per round
(ntkbook time / neural-tangents time), and the table gives its median and its range over the
rounds. Agreement is max|A − B| / max|B| with neural-tangents' result as B.

The normalization that maps neural-tangents' ``stax`` kernel onto ``ntkbook.analytic_ntk``:
``serial([Dense(·, W_std=√c_σ, b_std=None, parameterization='ntk'), σ] × L + [Dense(1,
W_std=√c_σ)])`` on inputs X·√(d/c_σ) (its input kernel is XZᵀ/d, scaled by W_std²). Its
``predict.gradient_descent_mse`` uses the mean loss, so its time is n·t for the book's t, and its
ridge is given with ``diag_reg_absolute_scale=True``. The empirical rows build the ``stax``
network with the weights of ``ntkbook.MLP`` (first layer W_std = √d, then √c_σ), and compare
neural-tangents' structured derivatives with ntkbook's structured kernel.

Besides the table it prints: the analytic recursion's memory traffic per second against the
machine's measured copy bandwidth, the cost of input validation relative to the computation it
guards, and the float32-vs-float64 gap of the MLP's structured kernel with the number of ReLU
activation patterns that differ between the two precisions.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="threads for both libraries")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds")
    parser.add_argument("--quick", action="store_true",
                        help="skip the n = 4000 and width 2048 rows")
    return parser.parse_args()


ARGS = parse_args()
# Before torch and JAX size their thread pools: both may use the first ARGS.threads CPUs only.
if hasattr(os, "sched_setaffinity"):
    _allowed = sorted(os.sched_getaffinity(0))
    if not 1 <= ARGS.threads <= len(_allowed):
        raise SystemExit(f"--threads must be between 1 and {len(_allowed)}, the CPUs this "
                         f"process may use; got {ARGS.threads}")
    os.sched_setaffinity(0, _allowed[:ARGS.threads])
# Both must be set before torch and JAX start their thread pools (OpenBLAS, which SciPy's and so
# JAX's LAPACK calls use, reads OMP_NUM_THREADS).
os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)
os.environ["XLA_FLAGS"] = f"--xla_cpu_multi_thread_eigen={'true' if ARGS.threads > 1 else 'false'}"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import neural_tangents as nt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from jax.experimental import disable_x64  # noqa: E402
from neural_tangents import stax  # noqa: E402
from validation_cost import validation_cost  # noqa: E402  (benchmarks/validation_cost.py)

import ntkbook  # noqa: E402
from ntkbook import MLP, _lapack, empirical_ntk, gradient_flow_prediction, kernel_ridge  # noqa: E402
from ntkbook.kernels import analytic_kernels, c_sigma_for  # noqa: E402

jax.config.update("jax_enable_x64", True)
torch.set_num_threads(ARGS.threads)

D = 64
DEPTH = 3


@dataclass
class Workload:
    label: str
    ours: Callable[[], torch.Tensor]
    theirs: Callable[[], np.ndarray]
    float32: bool
    ours_times: list[float]
    theirs_times: list[float]
    ours_cpu: list[float] = field(default_factory=list)  # CPU seconds of the same calls
    theirs_cpu: list[float] = field(default_factory=list)
    agreement: float = float("nan")
    reference: Callable[[], object] | None = None  # the float64 result, for float32 rows
    vs_float64: str = "—"


def processor() -> str:
    """The CPU's model name (Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def block(x):
    if isinstance(x, torch.Tensor):
        return x
    return jax.block_until_ready(x)


def timed(fn: Callable, float32: bool) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the whole process) of one call."""
    cpu, start = time.process_time(), time.perf_counter()
    if float32:
        with disable_x64():
            block(fn())
    else:
        block(fn())
    return time.perf_counter() - start, time.process_time() - cpu


def relative(ours: torch.Tensor, theirs) -> float:
    a = ours.detach().double().cpu().numpy()
    b = np.asarray(theirs, dtype=np.float64).reshape(a.shape)
    return float(np.abs(a - b).max() / np.abs(b).max())


def stax_kernel(activation: str, depth: int):
    c = c_sigma_for(activation)
    act = stax.Relu() if activation == "relu" else stax.Erf()
    layers = []
    for _ in range(depth):
        layers += [stax.Dense(1, W_std=math.sqrt(c), b_std=None, parameterization="ntk"), act]
    layers.append(stax.Dense(1, W_std=math.sqrt(c), b_std=None, parameterization="ntk"))
    return jax.jit(stax.serial(*layers)[2], static_argnames="get")


def analytic_workload(activation: str, n: int, dtype: torch.dtype) -> Workload:
    X = ntkbook.data.sphere(n, D, seed=0, dtype=dtype)
    c = c_sigma_for(activation)
    kernel_fn = stax_kernel(activation, DEPTH)
    float32 = dtype == torch.float32
    scaled = X.double().numpy() * math.sqrt(D / c)

    def theirs():
        x = jnp.asarray(scaled, dtype=jnp.float32 if float32 else jnp.float64)
        return kernel_fn(x, None, ("nngp", "ntk"))

    def ours():
        return analytic_kernels(X, depth=DEPTH, activation=activation)

    name = "ReLU" if activation == "relu" else "erf"
    bits = "float32" if float32 else "float64"
    X64 = X.double()
    return Workload(f"analytic NNGP + NTK, {name}, n = {n}, {bits}", ours, theirs, float32, [], [],
                    reference=lambda: analytic_kernels(X64, depth=DEPTH, activation=activation))


def kernel_workloads() -> tuple[Workload, Workload]:
    n, n_test = 2000, 500
    data = ntkbook.data.sphere(n + n_test, D, seed=1)
    X, X_test = data[:n], data[n:]
    K = ntkbook.analytic_ntk(X, depth=DEPTH)
    K_test = ntkbook.analytic_ntk(X_test, X, depth=DEPTH)
    y = torch.sin(3 * X[:, 0]) + X[:, 1]
    ridge, t = 1e-3, 1.0
    Kj, Ktj = jnp.asarray(K.numpy()), jnp.asarray(K_test.numpy())
    yj = jnp.asarray(y.numpy()[:, None])

    @jax.jit
    def nt_ridge(Kj, Ktj, yj):
        predict = nt.predict.gradient_descent_mse(Kj, yj, diag_reg=ridge,
                                                  diag_reg_absolute_scale=True)
        return predict(t=None, fx_train_0=None, fx_test_0=0.0, k_test_train=Ktj)

    @jax.jit
    def nt_flow(Kj, Ktj, yj):
        predict = nt.predict.gradient_descent_mse(Kj, yj)
        return predict(t=n * t, fx_train_0=None, fx_test_0=0.0, k_test_train=Ktj)

    ridge_row = Workload(f"kernel_ridge, t = ∞ (ridge {ridge:g}), n = {n}, n_test = {n_test}",
                         lambda: kernel_ridge(K, K_test, y, ridge), lambda: nt_ridge(Kj, Ktj, yj),
                         False, [], [])
    flow_row = Workload(f"gradient_flow_prediction, t = {t:g}, n = {n}, n_test = {n_test}",
                        lambda: gradient_flow_prediction(K, K_test, y, t),
                        lambda: nt_flow(Kj, Ktj, yj), False, [], [])
    return ridge_row, flow_row


def stax_mlp(model: MLP):
    """The stax network and parameters that compute ``model`` exactly."""
    c = model.c_sigma
    act = stax.Relu()
    layers = [stax.Dense(model.width, W_std=math.sqrt(model.d), b_std=None,
                         parameterization="ntk"), act]
    for _ in range(model.depth - 1):
        layers += [stax.Dense(model.width, W_std=math.sqrt(c), b_std=None,
                              parameterization="ntk"), act]
    layers.append(stax.Dense(1, W_std=math.sqrt(c), b_std=None, parameterization="ntk"))
    _, apply_fn, _ = stax.serial(*layers)
    params = []
    for W in model.weights:
        params += [(W.detach().numpy().T.copy(), None), ()]
    params.append((model.a.detach().numpy()[:, None].copy(), None))
    return apply_fn, params


def empirical_workload(width: int, n: int) -> Workload:
    model = MLP(D, width, DEPTH, seed=0, dtype=torch.float32)
    X = ntkbook.data.sphere(n, D, seed=2, dtype=torch.float32)
    apply_fn, params = stax_mlp(model)
    ntk_fn = jax.jit(nt.empirical_ntk_fn(
        apply_fn, trace_axes=(-1,), vmap_axes=0,
        implementation=nt.NtkImplementation.STRUCTURED_DERIVATIVES))
    Xn = X.numpy()

    def theirs():
        return ntk_fn(jnp.asarray(Xn), None, jax.tree_util.tree_map(jnp.asarray, params))

    return Workload(f"empirical NTK, MLP depth {DEPTH} width {width}, n = {n}, float32 "
                    "(structured)", lambda: empirical_ntk(model, X), theirs, True, [], [])


def float32_gap(width: int, n: int, seed: int) -> str:
    """Structured kernel of one MLP in float32 and float64 (same weights), and where they differ.

    A ReLU derivative σ'(z) = 1[z > 0] is decided by the sign of a pre-activation, and a float32
    pre-activation within rounding of 0 can have the other sign than in float64: that one unit
    then drops out of (or enters) every back-propagated vector of that input, which changes its
    row of the kernel by O(1/width) — the gap — while inputs without such a flip agree to float32
    rounding.
    """
    model32 = MLP(D, width, DEPTH, seed=seed, dtype=torch.float32)
    model64 = MLP(D, width, DEPTH, seed=seed, dtype=torch.float64)
    with torch.no_grad():  # the same (float32-representable) weights in both
        for p64, p32 in zip(model64.parameters(), model32.parameters()):
            p64.copy_(p32.double())
    X32 = ntkbook.data.sphere(n, D, seed=seed + 2, dtype=torch.float32)
    X64 = X32.double()
    K32, K64 = empirical_ntk(model32, X32), empirical_ntk(model64, X64)
    with torch.no_grad():
        pre32, _ = model32.forward_trace(X32)
        pre64, _ = model64.forward_trace(X64)
    flipped = [(a > 0) != (b > 0) for a, b in zip(pre32, pre64)]
    flips = sum(int(f.sum()) for f in flipped)
    rows = torch.zeros(n, dtype=torch.bool)
    for f in flipped:
        rows |= f.any(1)
    err = (K32.double() - K64).abs()
    scale = K64.abs().max()
    rel = float(err.max() / scale)
    clean = ~rows
    rel_clean = float(err[clean][:, clean].max() / scale)
    apply_fn, params = stax_mlp(model32)
    ntk_fn = nt.empirical_ntk_fn(apply_fn, trace_axes=(-1,), vmap_axes=0,
                                 implementation=nt.NtkImplementation.STRUCTURED_DERIVATIVES)
    with disable_x64():
        theirs32 = np.asarray(jax.jit(ntk_fn)(jnp.asarray(X32.numpy()), None,
                                              jax.tree_util.tree_map(jnp.asarray, params)))
    assert theirs32.dtype == np.float32
    rel_nt = float(np.abs(theirs32 - K64.numpy()).max() / scale)
    return (f"width {width}, n = {n}, seed {seed}: ntkbook float32 vs float64 {rel:.2g}, "
            f"neural-tangents float32 vs ntkbook float64 {rel_nt:.2g}; {flips} pre-activation "
            f"signs differ between the precisions, in {int(rows.sum())} of {n} inputs; among the "
            f"other inputs the gap is {rel_clean:.2g}")


def copy_bandwidth(dtype: torch.dtype, elements: int) -> float:
    """Bytes per second of ``y.copy_(x)`` (read + write) on arrays far larger than the caches."""
    x = torch.rand(elements, dtype=dtype)
    y = torch.empty_like(x)
    y.copy_(x)
    start = time.perf_counter()
    y.copy_(x)
    return 2 * x.numel() * x.element_size() / (time.perf_counter() - start)


def main() -> None:
    load_before = os.getloadavg()
    workloads = [
        analytic_workload("relu", 2000, torch.float32),
        analytic_workload("relu", 2000, torch.float64),
        analytic_workload("erf", 2000, torch.float32),
        analytic_workload("erf", 2000, torch.float64),
    ]
    if not ARGS.quick:
        workloads.append(analytic_workload("relu", 4000, torch.float32))
    workloads += list(kernel_workloads())
    workloads.append(empirical_workload(1024, 256))
    if not ARGS.quick:
        workloads.append(empirical_workload(2048, 512))

    for w in workloads:  # warm-up (JAX compiles) and agreement
        timed(w.ours, w.float32)
        timed(w.theirs, w.float32)
        ours = w.ours()
        if w.float32:
            with disable_x64():
                theirs = w.theirs()
        else:
            theirs = w.theirs()
        if isinstance(ours, ntkbook.kernels.AnalyticKernels):
            nngp, ntk = theirs
            w.agreement = max(relative(ours.nngp, nngp), relative(ours.ntk, ntk))
            expected = np.float32 if w.float32 else np.float64
            assert np.asarray(ntk).dtype == expected, (w.label, np.asarray(ntk).dtype)
            if w.float32:
                ref = w.reference()
                mine = max(relative(ours.nngp, ref.nngp.numpy()),
                           relative(ours.ntk, ref.ntk.numpy()))
                other = max(relative(ref.nngp, nngp), relative(ref.ntk, ntk))
                w.vs_float64 = f"{mine:.1e} / {other:.1e}"
        else:
            w.agreement = relative(ours, theirs)

    # The analytic ReLU recursion against the copy bandwidth, interleaved.
    copy_rates, relu_times = [], []
    X = ntkbook.data.sphere(2000, D, seed=0, dtype=torch.float64)
    for r in range(ARGS.rounds):
        for w in workloads:
            first, second = (w.ours, w.theirs) if r % 2 == 0 else (w.theirs, w.ours)
            (t1, c1), (t2, c2) = timed(first, w.float32), timed(second, w.float32)
            w.ours_times.append(t1 if r % 2 == 0 else t2)
            w.theirs_times.append(t2 if r % 2 == 0 else t1)
            w.ours_cpu.append(c1 if r % 2 == 0 else c2)
            w.theirs_cpu.append(c2 if r % 2 == 0 else c1)
        copy_rates.append(copy_bandwidth(torch.float64, 1 << 25))
        start = time.perf_counter()
        analytic_kernels(X, depth=DEPTH)
        relu_times.append(time.perf_counter() - start)
    load_after = os.getloadavg()

    print(f"# ntkbook {ntkbook.__version__} (torch {torch.__version__}) vs neural-tangents "
          f"(JAX {jax.__version__}), {datetime.date.today().isoformat()}")
    print(f"# {processor()}, {os.cpu_count()} CPUs, "
          f"pinned to {ARGS.threads} of them, {ARGS.rounds} interleaved rounds; "
          f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print(f"# inputs on the unit sphere in d = {D}, depth {DEPTH}; the closed forms take the "
          f"{'SciPy' if _lapack.scipy_preferred() else 'torch.linalg'} LAPACK route here")
    print()
    print("| workload | ntkbook (s) | neural-tangents (s) | ratio, median [range] "
          "| agreement | float32 vs float64: ntkbook / neural-tangents "
          "| cores busy: ntkbook / neural-tangents |")
    print("|---|---|---|---|---|---|---|")
    for w in workloads:
        ratios = [a / b for a, b in zip(w.ours_times, w.theirs_times)]
        busy = (sum(w.ours_cpu) / sum(w.ours_times), sum(w.theirs_cpu) / sum(w.theirs_times))
        print(f"| {w.label} | {statistics.median(w.ours_times):.4f} | "
              f"{statistics.median(w.theirs_times):.4f} | {statistics.median(ratios):.2f} "
              f"[{min(ratios):.2f}–{max(ratios):.2f}] | {w.agreement:.1e} | {w.vs_float64} "
              f"| {busy[0]:.2f} / {busy[1]:.2f} |")
    print()

    copy_rate = statistics.median(copy_rates)
    t_relu = statistics.median(relu_times)
    n = X.shape[0]
    # What must cross the memory bus: the two n × n outputs written, X read; everything else
    # stays in cache by construction.
    compulsory = 2 * n * n * 8 + X.numel() * 8
    # What an unblocked recursion of the same arithmetic would move: each of its ~13
    # elementwise passes per layer reads one or two n × n arrays and writes one.
    unblocked = (13 * DEPTH + 6) * 2.5 * n * n * 8
    print(f"copy bandwidth (torch copy_, float64, 256 MiB): {copy_rate / 1e9:.2f} GB/s")
    print(f"analytic ReLU NNGP + NTK, n = {n}, float64: {t_relu * 1e3:.1f} ms; compulsory "
          f"traffic {compulsory / 1e6:.0f} MB -> {compulsory / t_relu / 1e9:.2f} GB/s = "
          f"{compulsory / t_relu / copy_rate:.1%} of copy bandwidth; an unblocked recursion "
          f"would have to move ~{unblocked / 1e9:.1f} GB, {unblocked / copy_rate * 1e3:.0f} ms "
          "at copy bandwidth")
    print(f"  per entry and layer: {t_relu / (n * (n + 1) / 2) / DEPTH * 1e9:.1f} ns "
          "(upper triangle only)")
    print()
    for label, check, q1, q3, call in validation_cost(2000, 4 * ARGS.rounds + 1):
        print(f"validation of {label}, n = 2000: {check * 1e3:.2f} ms [quartiles {q1 * 1e3:.2f}–"
              f"{q3 * 1e3:.2f}] of {call * 1e3:.1f} ms ({check / call:.1%})")
    print()
    print("float32 vs float64 gap of the structured MLP kernel:")
    print("  " + float32_gap(1024, 256, 0))
    if not ARGS.quick:
        for seed in range(6):
            print("  " + float32_gap(2048, 512, seed))


if __name__ == "__main__":
    main()
