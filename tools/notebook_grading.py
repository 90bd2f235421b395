"""Run a chapter notebook of the student edition and read off which exercises it passes.

The student edition (``tools/student_edition.py``) puts an answer cell and a check cell after
every exercise that names a checker of ``ntkbook.exercises``; both carry the metadata
``{"ntkbook": {"role": "answer" | "check", "exercise": <label>}}``. A check cell displays the
checker's :class:`~ntkbook.exercises.ExerciseResult` and never raises on a wrong answer, so the
whole chapter runs even when some exercises are not done. This module executes a notebook with
nbclient and returns, per exercise, whether its check cell reported ``correct=True`` and the
checker's message; ``conftest.py`` of the student edition and ``tools/autograde.py`` both use it.

Executing a notebook runs its code: grade submitted notebooks in a container or a throwaway
account, not in an instructor's own environment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROLE_KEY = "ntkbook"
_CORRECT = re.compile(r"ExerciseResult\(correct=(True|False), message=(['\"])(.*)\2\)\s*$",
                      re.DOTALL)


@dataclass(frozen=True)
class ExerciseOutcome:
    """One exercise of one executed notebook: passed or not, and what the checker said."""

    label: str
    passed: bool
    message: str


@dataclass(frozen=True)
class NotebookOutcome:
    """An executed notebook: its exercises in order, and the errors of the other cells."""

    exercises: list[ExerciseOutcome]
    errors: list[str]


def role(cell: dict) -> tuple[str, str] | None:
    """(role, exercise label) of an answer or check cell of the student edition, else None."""
    meta = cell.get("metadata", {}).get(ROLE_KEY)
    if isinstance(meta, dict) and meta.get("role") in ("answer", "check"):
        return meta["role"], str(meta.get("exercise", ""))
    return None


def _error_text(output: dict) -> str:
    return f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"


def _outcome(label: str, cell: dict) -> ExerciseOutcome:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return ExerciseOutcome(label, False, f"the check cell raised {_error_text(output)}")
    for output in cell.get("outputs", []):
        text = output.get("data", {}).get("text/plain", "")
        text = "".join(text) if isinstance(text, list) else text
        match = _CORRECT.search(text)
        if match:
            return ExerciseOutcome(label, match.group(1) == "True", match.group(3))
    return ExerciseOutcome(label, False, "the check cell shows no checker result (was it run?)")


def execute(path: Path, *, timeout: int = 600, kernel: str = "python3",
            cwd: Path | None = None) -> nbformat.NotebookNode:
    """The notebook at ``path``, executed in ``cwd`` (default: its own directory); the errors of
    its cells stay in their outputs, ``timeout`` is in seconds per cell."""
    nb = nbformat.read(path, as_version=4)
    where = Path(cwd) if cwd is not None else Path(path).parent
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel, allow_errors=True,
                            resources={"metadata": {"path": str(where)}})
    client.execute()
    return nb


def outcomes(nb: nbformat.NotebookNode) -> NotebookOutcome:
    """The exercises of an executed notebook and the errors of its other cells."""
    exercises, errors = [], []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        kind = role(cell)
        if kind and kind[0] == "check":
            exercises.append(_outcome(kind[1], cell))
        elif not kind:
            errors += [f"cell {index}: {_error_text(o)}" for o in cell.get("outputs", [])
                       if o.get("output_type") == "error"]
    return NotebookOutcome(exercises, errors)
