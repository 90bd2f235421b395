"""The dense factorizations of the closed forms, through SciPy's LAPACK on the CPU.

torch's x86 CPU build links MKL, whose LAPACK ran a 2000 × 2000 Cholesky factorization in 1.7× the
time of SciPy's OpenBLAS on an AMD EPYC (1.3× on a second one), and ``torch.linalg.eigh`` does
more work than a spectral filter needs:
``torch.linalg.eigh`` forms every eigenvector of K, but f(K) r = H S f(Λ) Sᵀ Hᵀ r only needs the
Householder reflectors H of K's tridiagonal reduction K = H T Hᵀ and the eigenvectors S of T,
applied to vectors (book/performance.md). The factorizations take the upper-triangle copy that
:func:`ntkbook._checks.symmetric_finite_upper_copy` makes, whose transpose is the column-major
lower triangle LAPACK works on in place, and run with as many BLAS threads as torch
(``torch.get_num_threads()``). Where torch links MKL and the CPU is Intel's, the closed forms keep
torch's route, which was measured faster there (:func:`scipy_preferred`).
"""

from __future__ import annotations

import functools
import platform
from collections.abc import Callable

import numpy as np
import scipy.linalg
import torch
from scipy.linalg import lapack
from threadpoolctl import ThreadpoolController
from torch.autograd import forward_ad

_PREFIX = {torch.float32: "s", torch.float64: "d"}
_MIRROR_PANEL = 64
_controller: ThreadpoolController | None = None


def applies(K: torch.Tensor) -> bool:
    """Whether K takes this module's route: a CPU tensor of a dtype LAPACK factors (float32 or
    float64), on a machine where :func:`scipy_preferred` holds."""
    return K.device.type == "cpu" and K.dtype in _PREFIX and scipy_preferred()


def cpu_vendor(cpuinfo: str | None = None) -> str | None:
    """The CPU's vendor string ("GenuineIntel", "AuthenticAMD", …), or None if it cannot be read:
    from the text of /proc/cpuinfo (``cpuinfo``, read from the file when not given), else from
    ``platform.processor()``, which names it on Windows."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as file:
                cpuinfo = file.read(1 << 16)
        except OSError:
            cpuinfo = ""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "vendor_id" and value.strip():
            return value.strip()
    processor = platform.processor()
    for vendor in ("GenuineIntel", "AuthenticAMD"):
        if vendor in processor:
            return vendor
    return None


@functools.cache
def scipy_preferred() -> bool:
    """Whether the closed forms use SciPy's LAPACK rather than torch's on this machine's CPU.

    Everywhere except where torch links MKL and runs on an Intel CPU: there MKL's LAPACK ran the
    n = 2000 ``kernel_ridge`` and ``gradient_flow_prediction`` of the performance appendix in
    0.33 and 0.36 of the time of neural-tangents, whose factorizations are SciPy's OpenBLAS
    (book/performance.md), so SciPy's route would be slower there. On the two AMD EPYC machines
    measured, and where the vendor cannot be read, SciPy's route is taken. Cached for the
    process.
    """
    return not (torch.backends.mkl.is_available() and cpu_vendor() == "GenuineIntel")


def differentiated(*tensors: torch.Tensor) -> bool:
    """Whether autograd must follow any of the tensors: they require grad (with grad mode on),
    carry a forward-mode tangent, or are wrapped by torch.func (no storage of their own)."""
    for x in tensors:
        if x.requires_grad and torch.is_grad_enabled():
            return True
        if forward_ad.unpack_dual(x).tangent is not None:
            return True
        try:
            x.data_ptr()
        except RuntimeError:
            return True
    return False


def _threads():
    """Hold SciPy's and numpy's BLAS to torch's thread count for the duration of a call.

    The limit is process-wide (threadpoolctl sets it in the libraries and restores it on exit):
    numpy calls in other Python threads run with it meanwhile.
    """
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=torch.get_num_threads(), user_api="blas")


def _routine(name: str, dtype: torch.dtype):
    return getattr(lapack, _PREFIX[dtype] + name)


def _column_major(A: torch.Tensor) -> np.ndarray:
    """The Fortran-ordered view of a row-major square copy (its upper triangle is the lower one)."""
    a = A.numpy().T
    if not a.flags.f_contiguous:
        raise RuntimeError("expected a contiguous row-major copy")
    return a


def cholesky_in_place(A: torch.Tensor) -> int:
    """Factor the matrix whose upper triangle A holds, in place: afterwards ``A.T`` is the lower
    Cholesky factor L (with zeros above its diagonal). Returns LAPACK's info: 0 on success, k > 0
    when the leading k × k minor is not positive definite.
    """
    a = _column_major(A)
    with _threads():
        c, info = _routine("potrf", A.dtype)(a, lower=1, clean=1, overwrite_a=1)
    if int(info) < 0:
        raise RuntimeError(f"potrf rejected argument {-int(info)}")
    if not np.shares_memory(c, a):  # f2py copied instead of working in place
        a[...] = c
    return int(info)


def cholesky_solve(chol: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """(L Lᵀ)⁻¹ B for the factor that :func:`cholesky_in_place` leaves (``chol`` = ``A.T``), through
    LAPACK's potrs, which reads the factor where it lies: ``torch.cholesky_solve`` first copies
    it (n² entries, and the page faults of a fresh allocation). ``B`` (n × k, the factor's dtype)
    is not modified and autograd does not follow it.
    """
    c = chol.numpy()
    if not c.flags.f_contiguous:
        raise RuntimeError("expected the column-major factor of cholesky_in_place")
    with _threads():
        x, info = _routine("potrs", chol.dtype)(c, B.detach().numpy(), lower=1)
    if int(info) != 0:
        raise RuntimeError(f"potrs rejected argument {-int(info)}")
    return torch.from_numpy(x)


def inverse_from_cholesky_in_place(chol: torch.Tensor) -> torch.Tensor:
    """(L Lᵀ)⁻¹ from the factor that :func:`cholesky_in_place` leaves (``chol`` = ``A.T``, whose
    storage it overwrites): LAPACK's potri, n³·2/3 flops for one triangle of the inverse,
    against 2n³ for solving against the identity, then mirrored into a full symmetric matrix.
    """
    c = chol.numpy()
    if not c.flags.f_contiguous:
        raise RuntimeError("expected the column-major factor of cholesky_in_place")
    with _threads():
        inverse, info = _routine("potri", chol.dtype)(c, lower=1, overwrite_c=1)
    if int(info) != 0:
        raise RuntimeError(f"potri failed (info {int(info)})")
    W = torch.from_numpy(inverse)
    # Mirror the lower triangle into the upper one in place, a panel of columns at a time: no
    # n × n temporaries (``W.tril() + W.tril(-1).T`` allocated three).
    n = W.shape[0]
    for c0 in range(0, n, _MIRROR_PANEL):
        c1 = min(n, c0 + _MIRROR_PANEL)
        square = W[c0:c1, c0:c1]
        square.copy_(square.tril() + square.tril(-1).T)
        W[c0:c1, c1:].copy_(W[c1:, c0:c1].T)
    return W


class SymmetricEigen:
    """K = H S Λ Sᵀ Hᵀ from the upper-triangle copy A (destroyed): H is held as LAPACK's
    reflectors, the eigenvalues Λ (ascending) and the eigenvectors S of the tridiagonal T = Hᵀ K H
    as float64 arrays.

    The tridiagonal problem is solved in float64 whatever K's dtype: single-precision MRRR
    (``sstemr``) returned eigenvectors orthogonal only to 0.9–3.2·10⁻² at n = 2000, which made
    float32 results 4–15 times less accurate than ``torch.linalg.eigh``'s; in float64 they are
    orthogonal to within 5·10⁻¹², and the float32 result is then more accurate than eigh's
    (book/performance.md).
    """

    def __init__(self, A: torch.Tensor) -> None:
        n = A.shape[0]
        self.n, self.dtype = n, A.dtype
        a = _column_major(A)
        with _threads():
            lwork, info = _routine("sytrd_lwork", A.dtype)(n, lower=1)
            if int(info) != 0:
                raise RuntimeError(f"sytrd's workspace query failed (info {int(info)})")
            c, d, e, tau, info = _routine("sytrd", A.dtype)(
                a, lower=1, lwork=max(1, int(lwork)), overwrite_a=1)
            if int(info) != 0:
                raise RuntimeError(f"sytrd rejected argument {-int(info)}")
            if n == 1:
                self.eigenvalues, self.vectors = d.astype(np.float64), np.ones((1, 1))
            else:
                d, e = d.astype(np.float64), e.astype(np.float64)
                try:
                    self.eigenvalues, self.vectors = scipy.linalg.eigh_tridiagonal(
                        d, e, lapack_driver="stemr", check_finite=False)
                except np.linalg.LinAlgError:  # MRRR can fail to converge; QR iteration is slower
                    self.eigenvalues, self.vectors = scipy.linalg.eigh_tridiagonal(
                        d, e, lapack_driver="stev", check_finite=False)
        # Reflector i (i = 1, …, n−1) is zero in rows 1…i, one in row i+1 and c[i+1:, i−1] below:
        # those of a QR factorization of the trailing (n−1) × (n−1) block, which ormqr applies.
        self._reflectors = np.asfortranarray(c[1:, :-1])
        self._tau = tau

    def _reflect(self, R: np.ndarray, trans: str) -> np.ndarray:
        """Hᵀ R (trans 'T') or H R (trans 'N') for R of shape (n, m) in K's dtype."""
        out = np.array(R, order="F")
        if self.n > 1:  # the reflectors leave row 1 alone
            ormqr = _routine("ormqr", self.dtype)
            rows = np.array(out[1:], order="F")
            _, work, info = ormqr("L", trans, self._reflectors, self._tau, rows, lwork=-1)
            with _threads():
                rows, _, info = ormqr("L", trans, self._reflectors, self._tau, rows,
                                      lwork=max(1, int(work[0].real)), overwrite_c=1)
            if int(info) != 0:
                raise RuntimeError(f"ormqr rejected argument {-int(info)}")
            out[1:] = rows
        return out

    def apply(self, r: torch.Tensor, spectral_filter: Callable[[torch.Tensor], torch.Tensor]
              ) -> torch.Tensor:
        """Σ_k g_j(λ_k) v_k v_kᵀ r for each row j of ``spectral_filter(λ)`` (shape (m, n), a
        function of the float64 eigenvalues): the (n, m) matrix whose column j is g_j(K) r.
        """
        s = self._reflect(r.detach().to(self.dtype).numpy()[:, None], "T")[:, 0]
        s = s.astype(np.float64)
        lam = torch.from_numpy(np.maximum(self.eigenvalues, 0.0))
        g = spectral_filter(lam).detach().numpy()  # (m, n)
        # A filter that overflows (gradient descent with too large a step) gives inf and NaN
        # here, as in torch; the callers detect them in the predictions and say why.
        with _threads(), np.errstate(over="ignore", invalid="ignore"):
            coef = self.vectors @ (g * (self.vectors.T @ s)[None, :]).T
            coef = coef.astype(np.float32 if self.dtype == torch.float32 else np.float64)
        return torch.from_numpy(self._reflect(coef, "N"))
