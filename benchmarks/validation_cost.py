"""What input validation costs next to the computation it guards (DESIGN §5: at most 5 %).

Run from the repository root with the package installed::

    python benchmarks/validation_cost.py              # n = 2000, 41 rounds, one thread
    python benchmarks/validation_cost.py --rounds 101 --threads 2

``kernel_ridge`` (and ``ntk_loo_influence``, which shares its factorization) checks K_train
while it copies it for the in-place Cholesky factorization, a copy it needs anyway: the cost of
the check is that checked copy minus a plain copy of K. ``gradient_flow_prediction`` runs the
two-probe check before its eigendecomposition: the cost is the whole check. The shape checks
and the final finiteness test of the predictions are counted in both. Each round times the
check, its baseline and the guarded call back to back, so all three see the same load; the
table gives the median of the per-round differences, its quartiles, and the median call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="training points")
    parser.add_argument("--rounds", type=int, default=41, help="interleaved timing rounds")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    return parser.parse_args()


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)

import torch  # noqa: E402

import ntkbook  # noqa: E402
from ntkbook import gradient_flow_prediction, kernel_ridge  # noqa: E402
from ntkbook._checks import (  # noqa: E402
    kernel_pair_shapes,
    symmetric_finite,
    symmetric_finite_copy,
)


def _timed(f: Callable[[], object]) -> float:
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def validation_cost(n: int, rounds: int, d: int = 64, depth: int = 3
                    ) -> list[tuple[str, float, float, float, float]]:
    """(label, median extra seconds, lower quartile, upper quartile, median call seconds)."""
    X = ntkbook.data.sphere(n + 500, d, seed=3)
    K = ntkbook.analytic_ntk(X[:n], depth=depth)
    K_test = ntkbook.analytic_ntk(X[n:], X[:n], depth=depth)
    y = X[:n, 0].clone()
    out = K_test @ y

    def small() -> None:
        kernel_pair_shapes(K, K_test)
        torch.isfinite(out).all()

    cases = (
        ("kernel_ridge", lambda: (small(), symmetric_finite_copy(K, "K_train")),
         lambda: K.clone(), lambda: kernel_ridge(K, K_test, y, 1e-3)),
        ("gradient_flow_prediction", lambda: (small(), symmetric_finite(K, "K_train")),
         lambda: None, lambda: gradient_flow_prediction(K, K_test, y, 1.0)),
    )
    rows = []
    for label, check, baseline, guarded in cases:
        for f in (check, baseline, guarded):  # warm up
            f()
        extra, call = [], []
        for r in range(rounds):
            pair = (check, baseline) if r % 2 == 0 else (baseline, check)
            times = {id(f): _timed(f) for f in pair}
            extra.append(times[id(check)] - times[id(baseline)])
            call.append(_timed(guarded))
        q1, _, q3 = statistics.quantiles(extra, n=4)
        rows.append((label, statistics.median(extra), q1, q3, statistics.median(call)))
    return rows


def main() -> None:
    torch.set_num_threads(ARGS.threads)
    print(f"torch {torch.__version__}, {ARGS.threads} thread(s), n = {ARGS.n}, "
          f"{ARGS.rounds} rounds, load average {os.getloadavg()[0]:.2f} at the start")
    print("| computation | check, median [quartiles] | call, median | share |")
    print("|---|---|---|---|")
    for label, extra, q1, q3, call in validation_cost(ARGS.n, ARGS.rounds):
        print(f"| {label} | {extra * 1e3:.2f} ms [{q1 * 1e3:.2f}–{q3 * 1e3:.2f}] | "
              f"{call * 1e3:.1f} ms | {extra / call:.1%} [{q1 / call:.1%}–{q3 / call:.1%}] |")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
