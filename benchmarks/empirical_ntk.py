"""Benchmark the fast paths of ``ntkbook`` against the generic methods (DESIGN §5).

Run from the repository root::

    python benchmarks/empirical_ntk.py            # the full benchmark, 2–7 minutes on 2 cores
    python benchmarks/empirical_ntk.py --quick    # fewer repeats, no float64 cross-check
    python benchmarks/empirical_ntk.py --threads 1    # one torch thread

It prints, from one run on this machine:

1. the machine's float32 matrix-multiply rate on the shape of the two-layer Gram's dominant
   product S Sᵀ, (n × m)·(m × n), and the rate the structured two-layer Gram achieves, timed in
   interleaved rounds so that both see the same load;
2. the two-layer ReLU Gram (n = 1000, d = 64, m = 4096) by the three methods of
   ``ntkbook.empirical_ntk``: time, speed-up of the structured path, relative agreement;
3. the same for a deep ``MLP`` (depth 3, width 1024, n = 256, d = 64);
4. ``ntk_loo_influence`` for n = 2000, n_test = 500, and its agreement with brute-force retraining;
5. PASS/FAIL per DESIGN §5 target (a miss is reported, the script still exits 0).

Times are in seconds, the median of several runs after a warm-up; the best run is shown too.
Relative agreement between two kernels A and B (B the reference) is max|A − B| / max|B|.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

import ntkbook
from ntkbook import MLP, TwoLayerReLU, empirical_ntk, ntk_loo_influence
from ntkbook.empirical import _symmetric_counts

METHOD_LABELS = {
    "structured": "structured",
    "jacobian_contraction": "Jacobian contraction",
    "ntk_vector_products": "NTK-vector products",
}


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated runs of one computation."""

    times: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def spread(self) -> float:
        """Slowest run / fastest run: how noisy the machine was."""
        return max(self.times) / min(self.times)


@dataclass(frozen=True)
class MethodResult:
    method: str
    n: int
    timing: Timing
    kernel: torch.Tensor
    note: str = ""


def cpu_description() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        model = names[0] if names else model
    except OSError:
        pass
    return f"{os.cpu_count()}-core CPU ({model})"


def seconds(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def repeat(fn: Callable[[], object], repeats: int, warmup: int = 1) -> tuple[Timing, object]:
    out = None
    for _ in range(warmup):
        out = fn()
    times = []
    for _ in range(repeats):
        t, out = seconds(fn)
        times.append(t)
    return Timing(tuple(times)), out


def interleaved(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, Timing]:
    """Time several computations in alternation, so that each round sees the same load."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            times[name].append(seconds(fn)[0])
    return {name: Timing(tuple(t)) for name, t in times.items()}


def rel_diff(A: torch.Tensor, B: torch.Tensor) -> float:
    """max|A − B| / max|B|, computed in float64."""
    A, B = A.double(), B.double()
    return float((A - B).abs().max() / B.abs().max())


def unit_rows(n: int, d: int, dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    return ntkbook.data.sphere(n, d, seed=seed, dtype=dtype)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def fmt_s(t: float) -> str:
    return f"{t:.3g}" if t < 100 else f"{t:.0f}"


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")


def measure_method(model: torch.nn.Module, X: torch.Tensor, method: str, *, repeats: int,
                   probe_n: int, reduced_n: int, limit: float, budget: float) -> MethodResult:
    """Time ``empirical_ntk(model, X, method=method)`` at full size when that is affordable.

    After a warm-up, a run at ``probe_n`` rows gives an n²-scaled estimate of the full-size
    time. Above ``limit`` seconds the method is measured at ``reduced_n`` rows instead and the
    result says so. Only one run is made when ``repeats`` runs would exceed ``budget`` seconds.
    """
    n = X.shape[0]
    empirical_ntk(model, X[:8], method=method)  # warm-up
    probe_n = min(probe_n, n)
    t_probe, _ = seconds(lambda: empirical_ntk(model, X[:probe_n], method=method))
    estimate = t_probe * (n / probe_n) ** 2
    note = ""
    if estimate > limit:
        note = (f"measured at n = {reduced_n}: a full-size run was estimated at "
                f"{estimate:.0f} s > {limit:.0f} s")
        n = reduced_n
    first, K = seconds(lambda: empirical_ntk(model, X[:n], method=method))
    times = [first]
    if first * repeats <= budget:
        for _ in range(repeats - 1):
            t, K = seconds(lambda: empirical_ntk(model, X[:n], method=method))
            times.append(t)
    return MethodResult(method, n, Timing(tuple(times)), K, note)


def compare_methods(title: str, model: torch.nn.Module, X: torch.Tensor, args: argparse.Namespace,
                    reduced_n: int) -> dict[str, object]:
    """Time the three methods on one model; return the numbers the targets need."""
    n = X.shape[0]
    print(f"\n## {title}\n")
    structured_timing, K_struct = repeat(
        lambda: empirical_ntk(model, X, method="structured"), args.repeats, warmup=2)
    results = [MethodResult("structured", n, structured_timing, K_struct)]
    for method in ("jacobian_contraction", "ntk_vector_products"):
        results.append(measure_method(model, X, method, repeats=args.slow_repeats,
                                      probe_n=args.probe_n, reduced_n=reduced_n,
                                      limit=args.limit, budget=args.budget))
    structured_at: dict[int, tuple[Timing, torch.Tensor]] = {n: (structured_timing, K_struct)}
    for r in results:
        if r.n not in structured_at:
            structured_at[r.n] = repeat(
                lambda r=r: empirical_ntk(model, X[: r.n], method="structured"), args.repeats,
                warmup=2)
    rows = []
    notes = []
    for r in results:
        base_timing, base_K = structured_at[r.n]
        speedup = r.timing.median / base_timing.median
        agreement = "—" if r.method == "structured" else f"{rel_diff(r.kernel, base_K):.1e}"
        rows.append([METHOD_LABELS[r.method] + (" *" if r.note else ""), str(r.n),
                     str(len(r.timing.times)), fmt_s(r.timing.median), fmt_s(r.timing.best),
                     f"{r.timing.spread:.2f}", f"{speedup:.1f}×", agreement])
        if r.note:
            extrapolated = r.timing.median * (n / r.n) ** 2
            notes.append(f"* {r.note}. Ratio and agreement are against the structured method at "
                         f"the same n (median {fmt_s(base_timing.median)} s). Extrapolated to "
                         f"n = {n} by n² scaling — an estimate, not a measurement: "
                         f"{extrapolated:.0f} s, {extrapolated / structured_timing.median:.0f}× "
                         f"the structured time.")
    print_table(["method", "n", "runs", "median s", "best s", "max/min", "time / structured",
                 "rel. diff vs structured"], rows)
    for note in notes:
        print(note)
    jac = results[1]
    full = jac.n == n
    return {
        "kernel": K_struct,
        "speedup": jac.timing.median / structured_timing.median if full else math.nan,
        "best_speedup": jac.timing.best / structured_timing.best if full else math.nan,
        "agreement": rel_diff(jac.kernel, K_struct) if full else math.nan,
    }


def float64_agreement(model32: torch.nn.Module, X32: torch.Tensor,
                      K_struct32: torch.Tensor) -> tuple[float, float]:
    """(structured vs Jacobian contraction in float64, float32 structured vs float64 structured).

    The float64 network is the float32 one converted, so both hold the same weights.
    """
    model = copy.deepcopy(model32).to(torch.float64)
    X = X32.double()
    K_struct = empirical_ntk(model, X, method="structured")
    K_jac = empirical_ntk(model, X, method="jacobian_contraction")
    return rel_diff(K_jac, K_struct), rel_diff(K_struct32, K_struct)


def gram_rate(args: argparse.Namespace) -> dict[str, float]:
    """The float32 matmul rate, and the structured two-layer Gram's rate as a fraction of it."""
    n, d, m = args.n, args.d, args.m
    dtype = torch.float32
    X = unit_rows(n, d, dtype)
    net = TwoLayerReLU(d, m, seed=0, dtype=dtype)
    W = net.W.detach()
    g = torch.Generator().manual_seed(1)
    A = torch.randn(n, m, generator=g, dtype=dtype)
    B = torch.randn(n, m, generator=g, dtype=dtype)
    S = (X @ W.T > 0).to(dtype)
    matmul_flops = 2 * n * n * m
    # The flops of X Wᵀ, S Sᵀ and X Xᵀ as three general products (DESIGN §5), and the flops the
    # package executes: it forms S Sᵀ from its top block-row and bottom-right block (3/4 of it).
    nominal_flops = 2 * n * m * d + 2 * n * n * m + 2 * n * n * d
    half = n // 2
    executed_ss = 2 * m * (half * n + (n - half) ** 2) if half >= 64 else 2 * n * n * m
    executed_flops = 2 * n * m * d + executed_ss + 2 * n * n * d
    timings = interleaved({
        "matmul": lambda: A @ B.T,
        "gram": lambda: empirical_ntk(net, X, method="structured"),
        "X Wᵀ": lambda: X @ W.T,
        "S = 1[X Wᵀ > 0]": lambda: (X @ W.T).gt_(0),
        "S Sᵀ (symmetric split)": lambda: _symmetric_counts(S),
        "X Xᵀ": lambda: X @ X.T,
    }, args.rounds)

    def fraction(flops: int, t_gram: float, t_matmul: float) -> float:
        return (flops / t_gram) / (matmul_flops / t_matmul)

    rounds = list(zip(timings["gram"].times, timings["matmul"].times))
    results = {}
    for name, flops in (("nominal", nominal_flops), ("executed", executed_flops)):
        results[name] = statistics.median(fraction(flops, tg, tm) for tg, tm in rounds)
        results[name + "_best"] = fraction(flops, timings["gram"].best, timings["matmul"].best)
    print(f"\n## Matrix-multiply rate and the two-layer Gram "
          f"(float32, n = {n}, d = {d}, m = {m})\n")
    print(f"{args.rounds} interleaved rounds of each computation; rates from the median time.\n")
    t_gram, t_matmul = timings["gram"].median, timings["matmul"].median
    print_table(["computation", "GFLOP", "median s", "best s", "GFLOP/s (median)"], [
        ["matmul A Bᵀ, (n×m)·(m×n), random float32", f"{matmul_flops / 1e9:.3f}",
         fmt_s(t_matmul), fmt_s(timings["matmul"].best), f"{matmul_flops / t_matmul / 1e9:.1f}"],
        ["structured Gram, flops of 3 general products", f"{nominal_flops / 1e9:.3f}",
         fmt_s(t_gram), fmt_s(timings["gram"].best), f"{nominal_flops / t_gram / 1e9:.1f}"],
        ["structured Gram, flops executed", f"{executed_flops / 1e9:.3f}",
         fmt_s(t_gram), fmt_s(timings["gram"].best), f"{executed_flops / t_gram / 1e9:.1f}"],
    ])
    print("\nThe Gram's steps, each timed alone (median ms): "
          + ", ".join(f"{name} {1e3 * timings[name].median:.1f}" for name in list(timings)[2:]))
    print("\nGram rate / matmul rate, the median over rounds (best run / best run):")
    print(f"  counting the flops executed       {100 * results['executed']:4.0f} % "
          f"({100 * results['executed_best']:.0f} %)")
    print(f"  counting three general products   {100 * results['nominal']:4.0f} % "
          f"({100 * results['nominal_best']:.0f} %)")
    return results


def loo_benchmark(args: argparse.Namespace) -> dict[str, float]:
    n, n_test, ridge = args.loo_n, args.loo_n_test, args.ridge
    dtype = torch.float64
    X_all = unit_rows(n + n_test, 10, dtype, seed=3)
    g = torch.Generator().manual_seed(4)
    y_all = torch.sin(3 * X_all[:, 0]) + 0.1 * torch.randn(n + n_test, generator=g, dtype=dtype)
    K_all = ntkbook.analytic_ntk(X_all, depth=1)
    K, K_tx = K_all[:n, :n].contiguous(), K_all[n:, :n].contiguous()
    y, y_test = y_all[:n], y_all[n:]
    timing, influence = repeat(lambda: ntk_loo_influence(K, K_tx, y, y_test, ridge), args.repeats)

    eye = torch.eye(n, dtype=dtype)
    f_full = K_tx @ torch.linalg.solve(K + ridge * eye, y)
    checked = torch.randperm(n, generator=g)[: args.loo_checks]
    brute = torch.empty(n_test, len(checked), dtype=dtype)
    for col, i in enumerate(checked.tolist()):
        keep = torch.cat([torch.arange(i), torch.arange(i + 1, n)])
        K_keep = K[keep][:, keep] + ridge * torch.eye(n - 1, dtype=dtype)
        f_without = K_tx[:, keep] @ torch.linalg.solve(K_keep, y[keep])
        # ½(f⁻ⁱ − y)² − ½(f − y)², factored to avoid cancelling two nearly equal losses.
        brute[:, col] = 0.5 * (f_without - f_full) * (f_without + f_full - 2 * y_test)
    agreement = rel_diff(influence[:, checked], brute)
    print(f"\n## NTK leave-one-out influence (float64, n = {n}, n_test = {n_test}, "
          f"ridge = {ridge:g})\n")
    print_table(["computation", "runs", "median s", "best s", "max/min",
                 f"rel. diff vs retraining ({len(checked)} points)"], [
        ["ntk_loo_influence, all n × n_test", str(len(timing.times)), fmt_s(timing.median),
         fmt_s(timing.best), f"{timing.spread:.2f}", f"{agreement:.1e}"],
    ])
    return {"time": timing.median, "agreement": agreement}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="fewer repeats and no float64 cross-check (a smoke run, not a record)")
    p.add_argument("--repeats", type=int, default=15, help="runs of each fast computation")
    p.add_argument("--slow-repeats", type=int, default=3,
                   help="runs of each generic method (cut to 1 if they would exceed --budget)")
    p.add_argument("--rounds", type=int, default=20, help="interleaved matmul/Gram rounds")
    p.add_argument("--limit", type=float, default=120.0,
                   help="seconds above which a generic method is run at a reduced n")
    p.add_argument("--budget", type=float, default=120.0,
                   help="seconds allowed for all repeats of one generic method")
    p.add_argument("--probe-n", type=int, default=100, help="rows of the run that estimates "
                   "the full-size time of a generic method")
    p.add_argument("--no-float64", action="store_true", help="skip the float64 cross-check")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: torch's own choice, which the targets assume); "
                   "1 shows what the code costs when other processes share the cores")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--m", type=int, default=4096)
    p.add_argument("--reduced-n", type=int, default=200,
                   help="rows for a two-layer generic method too slow at full size")
    p.add_argument("--mlp-n", type=int, default=256)
    p.add_argument("--mlp-width", type=int, default=1024)
    p.add_argument("--mlp-depth", type=int, default=3)
    p.add_argument("--mlp-reduced-n", type=int, default=128)
    p.add_argument("--loo-n", type=int, default=2000)
    p.add_argument("--loo-n-test", type=int, default=500)
    p.add_argument("--loo-checks", type=int, default=20)
    p.add_argument("--ridge", type=float, default=1e-3)
    args = p.parse_args()
    if args.quick:
        args.repeats, args.slow_repeats, args.rounds, args.no_float64 = 5, 1, 8, True
    return args


def main() -> None:
    args = parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    start = time.perf_counter()
    print("# ntkbook benchmark: empirical NTK and NTK influence")
    threads = "default" if args.threads is None else "set by --threads"
    print(f"date {datetime.date.today().isoformat()} · {cpu_description()}, "
          f"torch threads {torch.get_num_threads()} ({threads}) · torch {torch.__version__} · "
          f"ntkbook {ntkbook.__version__}")
    print("timing dtype float32 (influence: float64); times are the median of the runs "
          "after a warm-up, the best run is shown beside it")

    rate = gram_rate(args)

    X = unit_rows(args.n, args.d, torch.float32)
    two_layer_net = TwoLayerReLU(args.d, args.m, seed=0, dtype=torch.float32)
    two_layer = compare_methods(
        f"Two-layer ReLU Gram (TwoLayerReLU, float32, n = {args.n}, d = {args.d}, m = {args.m})",
        two_layer_net, X, args, args.reduced_n)

    Xm = unit_rows(args.mlp_n, args.d, torch.float32, seed=1)
    mlp32 = MLP(args.d, args.mlp_width, args.mlp_depth, seed=0, dtype=torch.float32)
    mlp = compare_methods(
        f"Deep MLP (MLP, ReLU, float32, depth {args.mlp_depth}, width {args.mlp_width}, "
        f"n = {args.mlp_n}, d = {args.d})", mlp32, Xm, args, args.mlp_reduced_n)

    agreement64 = math.nan
    if not args.no_float64:
        print("\n## Agreement in float64 (the same networks converted to float64, not timed)\n")
        rows = []
        for name, model, Xs, K32 in [("two-layer Gram", two_layer_net, X, two_layer["kernel"]),
                                     ("deep MLP", mlp32, Xm, mlp["kernel"])]:
            jac64, struct32 = float64_agreement(model, Xs, K32)
            rows.append([name, f"{jac64:.1e}", f"{struct32:.1e}"])
        agreement64 = jac64  # the deep MLP's, the last row
        print_table(["network", "Jacobian contraction vs structured, float64",
                     "structured float32 vs structured float64"], rows)

    loo = loo_benchmark(args)

    print("\n## Targets (DESIGN §5)\n")
    mlp_agree = max(mlp["agreement"], agreement64) if not math.isnan(agreement64) \
        else mlp["agreement"]
    def ratio(result: dict[str, object]) -> str:
        if math.isnan(result["speedup"]):
            return "not measured at full size"
        return f"{result['speedup']:.0f}× (best/best {result['best_speedup']:.0f}×)"

    targets = [
        ("two-layer structured ≥ 50× faster than Jacobian contraction", ratio(two_layer),
         two_layer["speedup"] >= 50),
        ("two-layer structured ≥ 70 % of the matmul rate (flops executed)",
         f"{100 * rate['executed']:.0f} % (3 general products: {100 * rate['nominal']:.0f} %)",
         rate["executed"] >= 0.7),
        ("deep MLP structured ≥ 10× faster than Jacobian contraction", ratio(mlp),
         mlp["speedup"] >= 10),
        ("deep MLP agrees with Jacobian contraction to 1e-5 relative"
         + (" (float32 and float64)" if not math.isnan(agreement64) else " (float32)"),
         f"{mlp_agree:.1e}", mlp_agree <= 1e-5),
        (f"NTK LOO influence, n = {args.loo_n} × n_test = {args.loo_n_test}, ≤ 1 s",
         f"{loo['time']:.3g} s",
         loo["time"] <= 1.0),
        ("NTK LOO influence equals brute-force retraining to 1e-8",
         f"{loo['agreement']:.1e}", loo["agreement"] <= 1e-8),
    ]
    print_table(["target", "measured", "result"],
                [[name, value, verdict(ok)] for name, value, ok in targets])
    print(f"\ntotal benchmark time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
