"""Shared settings of the unit tests.

* One hypothesis profile: few examples (the properties are cheap to state but each example runs
  a kernel recursion or a network), no deadline (timings on a shared 2-core machine are noisy),
  and derandomized, so that a failure reproduces on the next run and in CI.
* One intra-op thread: the tests use small matrices, and on a machine shared by other jobs
  several spinning threads per process are slower than one.
"""

from __future__ import annotations

import torch
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ntkbook",
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ntkbook")

torch.set_num_threads(1)
