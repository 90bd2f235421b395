"""Input validation shared by the public functions: clear errors that name the argument."""

from __future__ import annotations

import functools
import math
import numbers

import torch


def as_matrix(x: object, name: str) -> torch.Tensor:
    """Check that ``x`` is a floating-point 2-D tensor with finite entries."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, d), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {x.dtype}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} must have at least one row, got shape {tuple(x.shape)}")
    not_meta(x, name)
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite entries")
    return x


def as_vector(y: object, name: str, length: int | None = None) -> torch.Tensor:
    """Check that ``y`` is a floating-point 1-D tensor (of ``length`` entries, if given)."""
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(y).__name__}")
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {tuple(y.shape)}")
    if not y.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {y.dtype}")
    if length is not None and y.shape[0] != length:
        raise ValueError(f"{name} must have {length} entries, got {y.shape[0]}")
    not_meta(y, name)
    if not torch.isfinite(y).all():
        raise ValueError(f"{name} contains NaN or infinite entries")
    return y


def same_width(X: torch.Tensor, Z: torch.Tensor, xname: str = "X", zname: str = "Z") -> None:
    if X.shape[1] != Z.shape[1]:
        raise ValueError(
            f"{xname} and {zname} must have the same number of columns, "
            f"got {X.shape[1]} and {Z.shape[1]}"
        )
    if X.dtype != Z.dtype:
        raise TypeError(f"{xname} and {zname} must share a dtype, got {X.dtype} and {Z.dtype}")


def positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return int(value)


def nonnegative_float(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not value >= 0.0 or value == float("inf"):
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return value


def positive_float(value: object, name: str) -> float:
    value = nonnegative_float(value, name)
    if value == 0.0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def square(K: object, name: str) -> torch.Tensor:
    K = as_matrix(K, name)
    if K.shape[0] != K.shape[1]:
        raise ValueError(f"{name} must be square, got shape {tuple(K.shape)}")
    return K


def kernel_pair(K_train: object, K_test_train: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Check a square training kernel and a test-by-train kernel with matching columns."""
    K_train = square(K_train, "K_train")
    K_test_train = as_matrix(K_test_train, "K_test_train")
    n = K_train.shape[0]
    if K_test_train.shape[1] != n:
        raise ValueError(
            f"K_test_train must have n = {n} columns to match K_train, got {K_test_train.shape[1]}"
        )
    return K_train, K_test_train


def not_meta(x: torch.Tensor, name: str) -> None:
    """A meta tensor has a shape and a dtype but no values: refuse it before any value check."""
    if x.is_meta:
        raise ValueError(f"{name} is a meta tensor (it has a shape but no values); "
                         "materialize it on a real device first")


SEED_RANGE = (-(2**63), 2**64)


def seed(value: object, name: str = "seed") -> int:
    """An integer that ``torch.Generator.manual_seed`` accepts: in [−2⁶³, 2⁶⁴)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if not SEED_RANGE[0] <= value < SEED_RANGE[1]:
        raise ValueError(f"{name} must lie in [-2**63, 2**64) (the range of a torch generator's "
                         f"seed), got {value}")
    return value


def floating_dtype(value: object, name: str = "dtype") -> torch.dtype:
    """A real floating-point torch dtype (torch.float64, torch.float32, …)."""
    if not isinstance(value, torch.dtype) or not value.is_floating_point:
        raise TypeError(f"{name} must be a floating dtype (a torch.dtype such as torch.float64 "
                        f"or torch.float32), got {value!r}")
    return value


def device(value: object, name: str = "device") -> torch.device | None:
    """``None`` or a torch device that exists on this machine."""
    if value is None:
        return None
    if not isinstance(value, (str, torch.device)) and not (
            isinstance(value, numbers.Integral) and not isinstance(value, bool)):
        raise TypeError(f"{name} must be a torch.device, a string such as 'cpu' or 'cuda', or "
                        f"None, got {type(value).__name__}")
    try:
        result = torch.device(value)
    except RuntimeError as err:
        raise ValueError(f"{name} {value!r} is not a torch device: {err}") from None
    if result.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name}={str(value)!r} but no CUDA GPU is available "
                         "(torch.cuda.is_available() is False); ntkbook.device() picks the "
                         "best available one")
    if result.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{name}={str(value)!r} but the MPS backend is not available")
    return result


def like(reference: torch.Tensor, reference_name: str, value: torch.Tensor, name: str) -> None:
    """``value`` must share ``reference``'s dtype (TypeError) and device (ValueError)."""
    not_meta(value, name)
    if value.dtype != reference.dtype:
        raise TypeError(f"{name} has dtype {value.dtype} but {reference_name} has "
                        f"{reference.dtype}; convert one of them (for example "
                        f"{name}.to({reference_name}.dtype))")
    if value.device != reference.device:
        raise ValueError(f"{name} is on device {value.device} but {reference_name} is on "
                         f"{reference.device}")


def same_device(reference: torch.Tensor, reference_name: str, value: torch.Tensor,
                name: str) -> None:
    not_meta(value, name)
    if value.device != reference.device:
        raise ValueError(f"{name} is on device {value.device} but {reference_name} is on "
                         f"{reference.device}")


def psd_tolerance(dtype: torch.dtype, n: int) -> float:
    """How negative, relative to max|λ|, the least eigenvalue of a PSD n × n matrix may come out.

    Rounding a positive semi-definite matrix to the dtype and decomposing it perturbs its
    eigenvalues by about n·ε·λ_max (measured: up to 1.6·n·ε for rank-deficient XXᵀ with n from 50
    to 2000, in float32 and float64); 10·n·ε leaves a margin, and 1e-10·n keeps the tolerance
    that float64 kernels computed by longer recursions were always given.
    """
    return n * max(1e-10, 10 * torch.finfo(dtype).eps)


def psd_eigenvalues(eigenvalues: torch.Tensor, name: str) -> None:
    """Raise unless ``eigenvalues`` (ascending) are those of a positive semi-definite matrix."""
    eigenvalues = eigenvalues.detach()
    scale = float(eigenvalues.abs().max()) if eigenvalues.numel() else 0.0
    least = float(eigenvalues[0]) if eigenvalues.numel() else 0.0
    if least < -psd_tolerance(eigenvalues.dtype, eigenvalues.shape[-1]) * scale:
        raise ValueError(f"{name} must be positive semi-definite; its least eigenvalue is "
                         f"{least:.3g} (largest |eigenvalue| {scale:.3g})")


def symmetric(K: torch.Tensor, name: str) -> None:
    """Raise unless K equals Kᵀ up to rounding in its dtype (entrywise, relative to max|K|)."""
    scale = float(K.abs().max())
    atol = max(1e-8, 100 * torch.finfo(K.dtype).eps) * max(scale, torch.finfo(K.dtype).tiny)
    if not torch.allclose(K, K.T, rtol=max(1e-6, 100 * torch.finfo(K.dtype).eps), atol=atol):
        raise ValueError(f"{name} must be symmetric")


def finite_targets(y: object, n: int, name: str) -> torch.Tensor:
    """(n,) or (n, K) floating targets with finite entries."""
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(y).__name__}")
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) or ({n}, K), got {tuple(y.shape)}")
    if not y.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {y.dtype}")
    not_meta(y, name)
    if not torch.isfinite(y).all():
        raise ValueError(f"{name} contains NaN or infinite entries")
    return y


def index_list(value: object, n: int, name: str) -> list[int]:
    """A 1-D sequence (list, tuple, integer tensor or array) of integers in [0, n)."""
    if isinstance(value, torch.Tensor):
        if value.ndim != 1 or value.is_floating_point() or value.is_complex() or (
                value.dtype == torch.bool):
            raise TypeError(f"{name} must be a 1-D integer tensor, got {value.dtype} of shape "
                            f"{tuple(value.shape)}")
        items = value.tolist()
    elif isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be a 1-D sequence of integers, got "
                        f"{type(value).__name__}")
    else:
        items = list(value)
    for i in items:
        if isinstance(i, bool) or not isinstance(i, numbers.Integral):
            raise TypeError(f"{name} must be integers, got {i!r}")
    items = [int(i) for i in items]
    if any(i < 0 or i >= n for i in items):
        raise ValueError(f"{name} must lie in [0, {n}), got {items}")
    return items


def kernel_pair_shapes(K_train: object, K_test_train: object) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`kernel_pair` without the pass over every entry for finiteness.

    For solvers that read every entry anyway and check their (small) results instead: a NaN or
    infinite entry of either kernel reaches those results (through :func:`symmetric_finite` or
    the final product), so it is still reported, for O(n) extra work instead of O(n²).
    """
    names = ("K_train", "K_test_train")
    for x, name in zip((K_train, K_test_train), names):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        not_meta(x, name)
        if x.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got shape {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"{name} must have a floating dtype, got {x.dtype}")
        if x.shape[0] == 0:
            raise ValueError(f"{name} must have at least one row, got shape {tuple(x.shape)}")
    if K_train.shape[0] != K_train.shape[1]:
        raise ValueError(f"K_train must be square, got shape {tuple(K_train.shape)}")
    n = K_train.shape[0]
    if K_test_train.shape[1] != n:
        raise ValueError(
            f"K_test_train must have n = {n} columns to match K_train, got {K_test_train.shape[1]}"
        )
    like(K_train, "K_train", K_test_train, "K_test_train")
    return K_train, K_test_train


_PROBES = 2
_COPY_BLOCK_BYTES = 1 << 20


def _probe_verdict(K: torch.Tensor, name: str, right: torch.Tensor, left: torch.Tensor) -> None:
    # One reduction and one transfer: the largest |right − left| is NaN or infinite exactly when
    # a probe is (torch.amax propagates NaN), and every entry of K reaches a probe multiplied by
    # a weight of magnitude at least ½.
    gap, scale = torch.stack(((right - left).abs().amax(), K.diagonal().abs().amax())).tolist()
    if not (math.isfinite(gap) and math.isfinite(scale)):
        if bool(torch.isfinite(K).all()):
            raise ValueError(f"{name} has entries too large to check for symmetry in "
                             f"{K.dtype} (the probes overflow); rescale it")
        raise ValueError(f"{name} contains NaN or infinite entries")
    tol = max(1e-8, 32 * K.shape[0] ** 0.5 * torch.finfo(K.dtype).eps) * scale
    if gap > tol:
        raise ValueError(f"{name} must be symmetric (|K − Kᵀ| probed at {gap:.3g}, "
                         f"tolerance {tol:.3g})")


@functools.lru_cache(maxsize=8)
def _cached_probes(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    # A normal tensor even when first asked for under inference_mode, so that a later call
    # with a K that requires grad may save it for the backward pass.
    with torch.inference_mode(False), torch.no_grad():
        g = torch.Generator(device=device).manual_seed(0)
        magnitude = (1 + torch.rand(n, _PROBES, generator=g, dtype=dtype, device=device)) / 2
        sign = torch.randint(0, 2, (n, _PROBES), generator=g, device=device).to(dtype) * 2 - 1
        return magnitude * sign


def _probes(K: torch.Tensor) -> torch.Tensor:
    """The (n, 2) probes for K, entries ±U[½, 1) (random signs and magnitudes, a fixed seed),
    drawn once per size, dtype and device (read only)."""
    return _cached_probes(K.shape[0], K.dtype, K.device)


@functools.lru_cache(maxsize=8)
def _cached_probes_transposed(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    with torch.inference_mode(False), torch.no_grad():
        return _cached_probes(n, dtype, device).T.contiguous()


def _probes_transposed(K: torch.Tensor) -> torch.Tensor:
    """The same probes as :func:`_probes`, as a contiguous (2, n) matrix (read only)."""
    return _cached_probes_transposed(K.shape[0], K.dtype, K.device)


def symmetric_finite(K: torch.Tensor, name: str) -> None:
    """Check that a square ``K`` is finite and symmetric, in two matrix-vector passes.

    With G the (n, 2) probes (entries of random sign and magnitude in [½, 1), a fixed seed), it
    compares K G with (Gᵀ K)ᵀ: for a symmetric K they agree up to rounding, and both are
    non-finite wherever K has a NaN or infinite entry in that row or column. Row i of the
    difference is Σ_j D_ij g_j with D = K − Kᵀ, for each of the two probes. The tolerance is
    τ = max(1e-8, 32√n·eps)·max|diag K|. A row with a single asymmetry |D_ij| = δ differs by at
    least δ/2 in both probes, so it is reported whenever δ/2 exceeds τ plus the rounding of the
    sums (δ = 2.5τ in the tests). A row whose largest asymmetry is δ, with others beside it, goes
    unnoticed with probability at most (2τ/δ)² over the draw of the probes: given the other
    entries, D_ij g_j has a density at most 1/δ (4·10⁻⁴ for δ = 1e-6·max|diag K| in float64).

    Raises:
        ValueError: naming ``name``, for a non-finite or an asymmetric K, or for entries so
            large that the probes overflow.
    """
    G = _probes(K)
    with torch.no_grad():
        _probe_verdict(K, name, K @ G, (G.T @ K).T)


def symmetric_finite_upper_copy(K: torch.Tensor, name: str) -> torch.Tensor:
    """K's upper triangle, copied, with K checked as :func:`symmetric_finite` checks it.

    For a factorization in place that reads one triangle (the upper triangle of the row-major
    copy is the lower triangle LAPACK factors in the column-major layout). The returned matrix
    holds K on and above the diagonal; its strict lower triangle is uninitialized.

    Rows are handled block by block. Each block's upper part (its diagonal block and the columns
    to the right of it) is copied and, while in cache, weighted by the block's probes into the
    column sums Σ_i g_i K_ij; its lower part and diagonal block go into the row sums
    Σ_j K_ij g_j. Row i of the two then covers the same columns, those of the blocks up to and
    including its own, and compares K_ij with K_ji there. For a symmetric K they agree up to
    rounding; every pair (i, j) is compared in the later of its two rows, so an asymmetry or a
    non-finite entry reaches the probes exactly as in :func:`symmetric_finite`, for half its
    arithmetic. The lower triangle, which the factorization never reads, is read once, by the
    probes; it is not copied.

    Raises:
        ValueError: as :func:`symmetric_finite`, and for a K that requires grad while grad mode
            is on (the copy is factored in place, which autograd cannot follow).
    """
    if K.requires_grad and torch.is_grad_enabled():
        raise ValueError(f"{name} requires grad, but this solver factors a copy of it in place "
                         f"and does not differentiate through it; pass {name}.detach()")
    n = K.shape[0]
    G_rows = _probes_transposed(K)
    A = torch.empty_like(K, memory_format=torch.contiguous_format)
    right = torch.empty(_PROBES, n, dtype=K.dtype, device=K.device)
    left = torch.zeros(_PROBES, n, dtype=K.dtype, device=K.device)
    rows = n if K.device.type != "cpu" else max(1, _COPY_BLOCK_BYTES // (n * K.element_size()))
    for r0 in range(0, n, rows):
        r1 = min(n, r0 + rows)
        block = K[r0:r1]
        # Row i of the block against the columns of the blocks up to and including its own
        # (read from memory first: the fastest order measured), as the (2, r1)·(r1, rows)
        # product Gᵀ blockᵀ: MKL ran it in 60 % of the time of block·G with four probes, and the
        # copy with two probes in 76 % (book/performance.md).
        torch.mm(G_rows[:, :r1], block[:, :r1].T, out=right[:, r0:r1])
        upper = block[:, r0:]
        A[r0:r1, r0:].copy_(upper)
        # The block's rows, weighted by their probes, for the columns of its own block and the
        # later ones: the entries K_ji that later rows i compare theirs with.
        left[:, r0:].addmm_(G_rows[:, r0:r1], upper)
    _probe_verdict(K, name, right, left)
    return A
