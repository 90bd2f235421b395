"""Checkers for the book's exercises.

Each checker takes a reader's answer — a number, an array or a function — compares it with a
reference computed by the package, and returns an :class:`ExerciseResult` that says whether it is
right and, if not, how it is off. Nothing is printed unless the result is displayed::

    >>> from ntkbook import exercises
    >>> exercises.check_number(0.5, 0.5, name="H(x, x)")
    ExerciseResult(correct=True, message='H(x, x): correct.')

The subpackage follows the book: :mod:`~ntkbook.exercises.common` holds the generic checkers
(:func:`check_number`, :func:`check_array`, :func:`check_function`), and
:mod:`~ntkbook.exercises.ch01` … :mod:`~ntkbook.exercises.ch10` the checkers of one chapter each,
named ``chN_<topic>``; each chapter's exercise text says which one to call. Every checker is also
importable from ``ntkbook.exercises`` itself.
"""

from __future__ import annotations

from .ch01 import ch1_hessian_norm, ch1_linear_model_ntk, ch1_relu_ntk_value
from .ch02 import ch2_arccos_kernel, ch2_ntk_orthogonal
from .ch03 import ch3_homogeneous_kappa
from .ch04 import ch4_two_point_lambda0
from .ch05 import ch5_linearized_residual
from .ch06 import ch6_gd_limit, ch6_max_margin
from .ch07 import ch7_exact_loo, ch7_newton_loo
from .ch08 import ch8_kernel_loo
from .ch09 import ch9_self_influence
from .ch10 import ch10_top_k_spearman
from .common import (
                     ExerciseResult,
                     answers_revealed,
                     check_array,
                     check_function,
                     check_number,
                     reveal_answers,
)

__all__ = [
    "ExerciseResult",
    "answers_revealed",
    "ch1_hessian_norm",
    "ch1_linear_model_ntk",
    "ch1_relu_ntk_value",
    "ch2_arccos_kernel",
    "ch2_ntk_orthogonal",
    "ch3_homogeneous_kappa",
    "ch4_two_point_lambda0",
    "ch5_linearized_residual",
    "ch6_gd_limit",
    "ch6_max_margin",
    "ch7_exact_loo",
    "ch7_newton_loo",
    "ch8_kernel_loo",
    "ch9_self_influence",
    "ch10_top_k_spearman",
    "check_array",
    "check_function",
    "check_number",
    "reveal_answers",
]
