"""Score a folder of submitted student-edition notebooks: one point per checked exercise.

    python tools/autograde.py submissions/ --edition _student --csv scores.csv

``submissions/`` holds one folder per student with that student's chapter notebooks, named as in
the edition (``submissions/ada/ch01_linearization.ipynb``). Before a notebook runs, every check
cell is replaced by the edition's own check cell of the same exercise, and the check cells a
student deleted are appended at the end, so what is scored is the checker's verdict on the
student's answer cells, not an edited check. An exercise scores 1 if its check reports
``correct=True``, else 0; the table has a row per student, a column per exercise, the total, and
a last row with the share of students who solved each exercise. ``--details`` also prints each
checker's message (which never shows the expected value).

The submissions' code runs: grade in a container or a throwaway account. This script needs
nothing beyond the book's environment. nbgrader grades the same notebooks from the course
directory that ``tools/student_edition.py --nbgrader`` writes (with its gradebook database);
otter-grader does not fit them (``book/instructors.md`` says why).
"""

from __future__ import annotations

import argparse
import copy
import csv
import sys
import tempfile
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import notebook_grading as grading  # noqa: E402


def canonical_checks(reference: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """The check cells of an edition notebook, by exercise label, in order."""
    return {r[1]: cell for cell in reference.cells if (r := grading.role(cell)) and r[0] == "check"}


def restore_checks(submission: nbformat.NotebookNode,
                   reference: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``submission`` with the edition's check cells in place of its own (missing ones appended)."""
    checks = canonical_checks(reference)
    nb = copy.deepcopy(submission)
    seen = set()
    for index, cell in enumerate(nb.cells):
        kind = grading.role(cell)
        if kind and kind[0] == "check" and kind[1] in checks and kind[1] not in seen:
            nb.cells[index] = copy.deepcopy(checks[kind[1]])
            seen.add(kind[1])
        elif kind and kind[0] == "check":
            nb.cells[index] = nbformat.v4.new_markdown_cell("(an unknown check cell, removed)")
    nb.cells += [copy.deepcopy(cell) for label, cell in checks.items() if label not in seen]
    return nb


def grade_notebook(path: Path, reference: Path, *,
                   timeout: int) -> dict[str, grading.ExerciseOutcome]:
    """The outcome of every exercise of ``reference`` on the submitted notebook ``path``."""
    ref = nbformat.read(reference, as_version=4)
    labels = list(canonical_checks(ref))
    try:
        nb = restore_checks(nbformat.read(path, as_version=4), ref)
        with tempfile.TemporaryDirectory() as tmp:
            run = Path(tmp) / path.name
            nbformat.write(nb, run)
            executed = grading.execute(run, timeout=timeout, cwd=path.parent)
        found = {e.label: e for e in grading.outcomes(executed).exercises}
    except Exception as err:  # an unreadable notebook or a dead kernel scores 0, with the reason
        found = {label: grading.ExerciseOutcome(label, False, f"not graded: {err}")
                 for label in labels}
    return {label: found.get(label, grading.ExerciseOutcome(label, False, "no result"))
            for label in labels}


def grade(submissions: Path, edition: Path, *, timeout: int = 600
          ) -> tuple[list[str], dict[str, dict[str, grading.ExerciseOutcome]]]:
    """(the exercise labels, {student: {label: outcome}}) for every student folder."""
    book = edition / "book"
    students = sorted(p for p in submissions.iterdir() if p.is_dir())
    chapters = sorted({nb.name for s in students for nb in s.glob("*.ipynb")})
    unknown = [name for name in chapters if not (book / name).exists()]
    if unknown:
        raise ValueError(f"not chapters of the edition at {edition}: {unknown}")
    labels = [label for name in chapters
              for label in canonical_checks(nbformat.read(book / name, as_version=4))]
    results = {}
    for student in students:
        row = {}
        for name in chapters:
            path = student / name
            if path.exists():
                row.update(grade_notebook(path, book / name, timeout=timeout))
        results[student.name] = {label: row.get(label, grading.ExerciseOutcome(
            label, False, "not submitted")) for label in labels}
    return labels, results


def table(labels: list[str], results: dict[str, dict[str, grading.ExerciseOutcome]]) -> str:
    """The score table in Markdown: 1/0 per exercise, the total per student, the share solved."""
    lines = ["| student | " + " | ".join(labels) + " | total |",
             "|---" * (len(labels) + 2) + "|"]
    for student, row in results.items():
        scores = [int(row[label].passed) for label in labels]
        lines.append(f"| {student} | " + " | ".join(map(str, scores))
                     + f" | {sum(scores)}/{len(labels)} |")
    if results:
        shares = [sum(r[label].passed for r in results.values()) / len(results)
                  for label in labels]
        lines.append("| solved by | " + " | ".join(f"{s:.0%}" for s in shares) + " | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, help="one folder per student")
    parser.add_argument("--edition", type=Path, required=True,
                        help="the student edition the notebooks were handed out from")
    parser.add_argument("--csv", type=Path, help="also write the scores to this CSV file")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--details", action="store_true", help="print every checker's message")
    args = parser.parse_args()
    labels, results = grade(args.submissions, args.edition, timeout=args.timeout)
    print(table(labels, results))
    if args.details:
        for student, row in results.items():
            for label, outcome in row.items():
                print(f"{student} {label}: {'pass' if outcome.passed else 'fail'} — "
                      f"{outcome.message}")
    if args.csv:
        with args.csv.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["student", *labels, "total"])
            for student, row in results.items():
                scores = [int(row[label].passed) for label in labels]
                writer.writerow([student, *scores, sum(scores)])


if __name__ == "__main__":
    main()
