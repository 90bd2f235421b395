"""What input validation costs next to the computation it guards (DESIGN §5: at most 5 %).

Run from the repository root with the package installed::

    python benchmarks/validation_cost.py              # n = 2000, 41 rounds, one thread
    python benchmarks/validation_cost.py --rounds 101 --threads 2

Each computation is timed twice, in rounds that alternate the order: as the package runs it,
and with its checks of K_train replaced by what the computation needs without them —
``kernel_ridge`` (and ``ntk_loo_influence``, which shares its factorization) with a copy of the
upper triangle of K_train, the one the in-place Cholesky factorization reads, in the same blocks
of rows and without the probes; ``gradient_flow_prediction`` with the same copy, which its
tridiagonal reduction reads (on the CPU, in float32 and float64). The
difference is what validation costs the caller, allocation and caching effects included (timing
the check alone against a plain copy is dominated by where the 32 MB copy's pages come from).
A second ``kernel_ridge`` row takes a plain copy of all of K_train as the unchecked computation,
the measure used before the factorization copied one triangle. The table gives the median of
the per-round differences, their quartiles, and the share of the median unchecked call.
``kernel_ridge`` runs 4 × ``--rounds`` rounds, ``ntk_loo_influence`` and
``gradient_flow_prediction`` ``--rounds``.
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

from unittest import mock  # noqa: E402

import torch  # noqa: E402

import ntkbook  # noqa: E402
from ntkbook import (  # noqa: E402
    _checks,
    dynamics,
    gradient_flow_prediction,
    kernel_ridge,
    ntk_loo_influence,
)


def _timed(f: Callable[[], object]) -> float:
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def validation_cost(n: int, rounds: int, d: int = 64, depth: int = 3
                    ) -> list[tuple[str, float, float, float, float]]:
    """(label, median extra seconds, lower quartile, upper quartile, median unchecked seconds)."""
    X = ntkbook.data.sphere(n + 500, d, seed=3)
    K = ntkbook.analytic_ntk(X[:n], depth=depth)
    K_test = ntkbook.analytic_ntk(X[n:], X[:n], depth=depth)
    y = X[:n, 0].clone()
    y_test = X[n:, 0].clone()

    def unchecked(name: str, replacement: Callable) -> Callable[[Callable], Callable]:
        def wrap(call: Callable) -> Callable:
            def run() -> object:
                with mock.patch.object(dynamics, name, replacement):
                    return call()
            return run
        return wrap

    def upper_copy(K: torch.Tensor, name: str) -> torch.Tensor:
        A = torch.empty_like(K)
        rows = max(1, _checks._COPY_BLOCK_BYTES // (K.shape[0] * K.element_size()))
        for r0 in range(0, K.shape[0], rows):
            A[r0:r0 + rows, r0:].copy_(K[r0:r0 + rows, r0:])
        return A

    cases = (
        # (label, call, its unchecked version, rounds: the cheap call gets more of them)
        ("kernel_ridge", lambda: kernel_ridge(K, K_test, y, 1e-3),
         unchecked("symmetric_finite_upper_copy", upper_copy), 4 * rounds),
        ("kernel_ridge, against a full copy", lambda: kernel_ridge(K, K_test, y, 1e-3),
         unchecked("symmetric_finite_upper_copy", lambda K, name: K.clone()), 4 * rounds),
        ("ntk_loo_influence", lambda: ntk_loo_influence(K, K_test, y, y_test, 1e-3),
         unchecked("symmetric_finite_upper_copy", upper_copy), rounds),
        ("gradient_flow_prediction", lambda: gradient_flow_prediction(K, K_test, y, 1.0),
         unchecked("symmetric_finite_upper_copy", upper_copy), rounds),
    )
    rows = []
    for label, checked, without, count in cases:
        bare = without(checked)
        torch.testing.assert_close(checked(), bare(), rtol=0, atol=0)  # same computation
        extra, call = [], []
        for r in range(count):
            if r % 2 == 0:
                t_checked, t_bare = _timed(checked), _timed(bare)
            else:
                t_bare, t_checked = _timed(bare), _timed(checked)
            extra.append(t_checked - t_bare)
            call.append(t_bare)
        q1, _, q3 = statistics.quantiles(extra, n=4)
        rows.append((label, statistics.median(extra), q1, q3, statistics.median(call)))
    return rows


def main() -> None:
    torch.set_num_threads(ARGS.threads)
    print(f"torch {torch.__version__}, {ARGS.threads} thread(s), n = {ARGS.n}, "
          f"{ARGS.rounds} rounds, load average {os.getloadavg()[0]:.2f} at the start")
    print("| computation | validation, median [quartiles] | call without it, median | share |")
    print("|---|---|---|---|")
    for label, extra, q1, q3, call in validation_cost(ARGS.n, ARGS.rounds):
        print(f"| {label} | {extra * 1e3:.2f} ms [{q1 * 1e3:.2f}–{q3 * 1e3:.2f}] | "
              f"{call * 1e3:.1f} ms | {extra / call:.1%} [{q1 / call:.1%}–{q3 / call:.1%}] |")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
