"""The closed forms through SciPy's LAPACK against the torch.linalg route they replace, on the CPU.

Run from the repository root with the package installed::

    python benchmarks/lapack_routes.py                # n = 2000, 7 rounds, one thread

On the analytic NTK of the side-by-side benchmark (inputs on the unit sphere in d = 64, depth 3,
n training and 500 test points, float64), each of ``kernel_ridge``, ``gradient_flow_prediction``
and ``ntk_loo_influence`` runs with ``ntkbook._lapack.scipy_preferred`` patched to say yes (the
SciPy route) and to say no (the ``torch.linalg`` route), whichever the package would take on
this machine, in rounds that alternate the order. Prints each route's median time and range,
the median and range of the per-round ratio, and the agreement max|a − b| / max|b| of the two
routes' results.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from unittest import mock


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="training points")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds")
    parser.add_argument("--threads", type=int, default=1, help="torch (and BLAS) threads")
    return parser.parse_args()


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)

import torch  # noqa: E402

import ntkbook  # noqa: E402
from ntkbook import _lapack, gradient_flow_prediction, kernel_ridge, ntk_loo_influence  # noqa: E402


def route(call, scipy: bool):
    """``call`` with the package's choice of route (``_lapack.scipy_preferred``) forced."""
    def run():
        with mock.patch.object(_lapack, "scipy_preferred", lambda: scipy):
            return call()
    return run


def main() -> None:
    torch.set_num_threads(ARGS.threads)
    n = ARGS.n
    X = ntkbook.data.sphere(n + 500, 64, seed=3)
    K = ntkbook.analytic_ntk(X[:n], depth=3)
    K_test = ntkbook.analytic_ntk(X[n:], X[:n], depth=3)
    y, y_test = X[:n, 0].clone(), X[n:, 0].clone()
    calls = {
        "kernel_ridge, ridge 1e-3": lambda: kernel_ridge(K, K_test, y, 1e-3),
        "gradient_flow_prediction, t = 1": lambda: gradient_flow_prediction(K, K_test, y, 1.0),
        "ntk_loo_influence, ridge 1e-3": lambda: ntk_loo_influence(K, K_test, y, y_test, 1e-3),
    }
    print(f"torch {torch.__version__}, {ARGS.threads} thread(s), n = {n}, {ARGS.rounds} rounds, "
          f"load average {os.getloadavg()[0]:.2f} at the start")
    print(f"CPU vendor {_lapack.cpu_vendor()}, torch's MKL {torch.backends.mkl.is_available()}: "
          f"the package takes the {'SciPy' if _lapack.scipy_preferred() else 'torch.linalg'} "
          "route here")
    print("| call | torch.linalg route (s) | SciPy route (s) | ratio, median [range] | agreement |")
    print("|---|---|---|---|---|")
    for label, package_call in calls.items():
        call, old_call = route(package_call, True), route(package_call, False)
        new, old = call(), old_call()
        agreement = float((new - old).abs().max() / old.abs().max())
        t_new, t_old = [], []
        for r in range(ARGS.rounds):
            pairs = ((t_new, call), (t_old, old_call))
            for times, f in pairs if r % 2 == 0 else pairs[::-1]:
                start = time.perf_counter()
                f()
                times.append(time.perf_counter() - start)
        ratios = [a / b for a, b in zip(t_new, t_old)]
        print(f"| {label} | {statistics.median(t_old):.3f} | {statistics.median(t_new):.3f} | "
              f"{statistics.median(ratios):.2f} [{min(ratios):.2f}–{max(ratios):.2f}] | "
              f"{agreement:.1e} |")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
