"""Write a student edition of the book: the chapters without solutions, with answer cells.

    python tools/student_edition.py _student          # writes the edition to ./_student
    cd _student && python -m pytest book/ch01_linearization.ipynb   # per-exercise results
    jupyter-book build _student                       # builds it like the book

A solution in a chapter is the run of cells from a markdown cell that opens with a
``{solution-start}`` directive to the next markdown cell that holds ``{solution-end}``; both are
removed with everything between them, so no solution code reaches the students' notebooks or
the HTML. The exercises themselves stay. After every exercise whose text names a checker call
(`` `ntkbook.exercises.chN_name(answer, ...)` ``) come two code cells: an *answer* cell — the
variable ``answer = None``, or the function the exercise asks for, with its parameters and a body
that raises ``NotImplementedError`` — and a *check* cell that displays the checker's result and
never raises on a wrong answer, so a chapter always runs to its end. Both carry the metadata
``{"ntkbook": {"role": ..., "exercise": <label>}}`` that ``tools/notebook_grading.py`` reads.

The edition ships ``pytest.ini``, ``conftest.py`` and ``notebook_grading.py``: ``python -m pytest``
in it executes each chapter once and reports one test per exercise (plus one, "chapter runs",
for the chapter's own cells); ``tools/autograde.py`` scores a folder of submitted notebooks.
``--repository`` and ``--branch`` point the launch buttons of the edition's HTML at the
repository the students' notebooks are published in; ``--install`` replaces the requirement that
each chapter's first cell installs in a fresh Colab runtime (the package from the default branch)
by a pinned one, e.g. ``--install "ntkbook @ git+https://github.com/ntkbook/ntkbook@v0.1.0"``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOOLS = Path(__file__).resolve().parent
CALL = re.compile(r"`(?:ntkbook\.)?exercises\.(ch\d+_\w+)\(([^`]*)\)`")
LABEL = re.compile(r"^:label:\s*(\S+)", re.MULTILINE)
START = re.compile(r"^```\{solution-start\}", re.MULTILINE)
END = re.compile(r"^```\{solution-end\}", re.MULTILINE)
MARKER = ".student-edition"
INSTALL = "ntkbook @ git+https://github.com/ntkbook/ntkbook"


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def strip_solutions(notebook: dict) -> dict:
    """A copy of ``notebook`` without its solution blocks; raises on an unclosed block."""
    cells, inside = [], False
    for cell in notebook["cells"]:
        text = _source(cell) if cell["cell_type"] == "markdown" else ""
        if not inside and START.search(text):
            inside = True
        if not inside:
            cells.append(cell)
        elif END.search(text):
            inside = False
    if inside:
        raise ValueError("a {solution-start} block is never closed by {solution-end}")
    return {**notebook, "cells": cells}


def _code(source: str, role: str, label: str) -> dict:
    cell_id = re.sub(r"[^A-Za-z0-9_-]", "-", f"{role}-{label}")[:64]
    return {"cell_type": "code", "execution_count": None, "id": cell_id, "metadata": {
        "ntkbook": {"role": role, "exercise": label}}, "outputs": [], "source": source}


def answer_cells(exercise: str) -> list[dict]:
    """The answer and check cells for the markdown text of one exercise (none if unchecked)."""
    label = LABEL.search(exercise)
    if not label:
        return []
    calls = list(dict.fromkeys(CALL.findall(exercise)))
    cells = []
    for k, (checker, args) in enumerate(calls, 1):
        part = "abcdefghijklmnopqrstuvwxyz"[k - 1]
        name = label.group(1) if len(calls) == 1 else f"{label.group(1)}{part}"
        first, _, rest = args.partition(",")
        first = first.strip()
        signature = re.search(rf"`{re.escape(first)}\(([^)`]*)\)`", exercise)
        if first == "answer" and len(calls) > 1:
            first = f"answer_{part}"
        call = f"ntkbook.exercises.{checker}({first}{',' + rest if rest else ''})"
        if signature:
            stub = (f"# {name}: your function, checked by the next cell\n"
                    f"def {first}({signature.group(1)}):\n    raise NotImplementedError\n")
        else:
            stub = (f"# {name}: replace None by your answer, checked by the next cell\n"
                    f"{first} = None\n")
        imports = "import math\n\n" if "math." in rest else ""
        check = (f"# {name}: the check (keep this cell as it is; a grader runs it as written)\n"
                 f"{imports}import ntkbook\n\n{call}\n")
        cells += [_code(stub, "answer", name), _code(check, "check", name)]
    return cells


def add_answer_cells(notebook: dict) -> dict:
    """A copy of ``notebook`` with answer and check cells after every checked exercise."""
    cells = []
    for cell in notebook["cells"]:
        cells.append(cell)
        if cell["cell_type"] == "markdown" and "{exercise}" in _source(cell):
            cells += answer_cells(_source(cell))
    return {**notebook, "cells": cells}


PYTEST_INI = """\
# python -m pytest runs every chapter once and reports one test per exercise;
# python -m pytest book/ch01_linearization.ipynb runs one chapter.
[pytest]
testpaths = book
addopts = -v -p no:cacheprovider -p no:nbval -p no:doctest
"""

CONFTEST = '''\
"""Each chapter notebook is a test file; each checked exercise is one test (see pytest.ini)."""

from __future__ import annotations

import nbformat
import pytest

import notebook_grading as grading


def pytest_collect_file(parent, file_path):
    if file_path.suffix == ".ipynb" and ".ipynb_checkpoints" not in file_path.parts:
        return Chapter.from_parent(parent, path=file_path)
    return None


class ExerciseFailed(Exception):
    """A check cell reported a wrong answer, or a cell of the chapter raised."""


class Chapter(pytest.File):
    def collect(self):
        nb = nbformat.read(self.path, as_version=4)
        labels = [r[1] for r in map(grading.role, nb.cells) if r and r[0] == "check"]
        yield Check.from_parent(self, name="chapter runs")
        for label in labels:
            yield Check.from_parent(self, name=label)

    def outcome(self):
        if not hasattr(self, "_outcome"):
            try:
                self._outcome = grading.outcomes(grading.execute(self.path))
            except Exception as err:  # a timeout or a dead kernel fails every test of the file
                self._outcome = err
        if isinstance(self._outcome, Exception):
            raise ExerciseFailed(f"the notebook did not run: {self._outcome}")
        return self._outcome


class Check(pytest.Item):
    def runtest(self):
        outcome = self.parent.outcome()
        if self.name == "chapter runs":
            if outcome.errors:
                raise ExerciseFailed("; ".join(outcome.errors))
            return
        for exercise in outcome.exercises:
            if exercise.label == self.name and not exercise.passed:
                raise ExerciseFailed(exercise.message)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, ExerciseFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, self.name
'''


def _point_repository(config: str, repository: str | None, branch: str | None) -> str:
    """``_config.yml`` with its ``repository:`` url and branch replaced where given."""
    block = re.search(r"^repository:\n((?:[ \t]+.*\n)+)", config, re.MULTILINE)
    if block is None:
        raise ValueError("_config.yml has no repository: block")
    body = block.group(1)
    for key, value in (("url", repository), ("branch", branch)):
        if value is not None:
            body, count = re.subn(rf"^([ \t]+{key}:).*$", rf"\g<1> {value}", body, count=1,
                                  flags=re.MULTILINE)
            if not count:
                raise ValueError(f"_config.yml's repository: block has no {key}:")
    return config[:block.start(1)] + body + config[block.end(1):]


def pin_install(notebook: dict, requirement: str) -> dict:
    """A copy of ``notebook`` whose ``%pip install`` of the package names ``requirement``."""
    if not requirement.strip() or '"' in requirement:
        raise ValueError(f"requirement must be a non-empty pip requirement without quotes, "
                         f"got {requirement!r}")
    cells = []
    for cell in notebook["cells"]:
        text = _source(cell)
        if cell["cell_type"] == "code" and f'"{INSTALL}"' in text:
            cell = {**cell, "source": text.replace(f'"{INSTALL}"', f'"{requirement}"')}
        cells.append(cell)
    return {**notebook, "cells": cells}


def write_edition(out: Path, *, root: Path = ROOT, repository: str | None = None,
                  branch: str | None = None, install: str | None = None) -> list[Path]:
    """Write the student edition of the book at ``root`` to ``out``; return its notebooks."""
    out, root = out.resolve(), root.resolve()
    book = root / "book"
    if out == root or out in root.parents or out == book or book in out.parents:
        raise ValueError(f"refusing to write over the book's own sources: {out}")
    if out.exists():
        if any(out.iterdir()) and not (out / MARKER).exists():
            raise ValueError(f"{out} exists and is not a student edition; choose another path")
        shutil.rmtree(out)
    shutil.copytree(book, out / "book")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(root / name, out / name)
    if repository is not None or branch is not None:
        config = out / "_config.yml"
        config.write_text(_point_repository(config.read_text(encoding="utf-8"), repository,
                                            branch), encoding="utf-8")
    (out / MARKER).write_text("written by tools/student_edition.py\n", encoding="utf-8")
    (out / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    (out / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    shutil.copy(TOOLS / "notebook_grading.py", out / "notebook_grading.py")
    written = []
    for path in sorted((out / "book").glob("*.ipynb")):
        nb = add_answer_cells(strip_solutions(json.loads(path.read_text(encoding="utf-8"))))
        if install is not None:
            nb = pin_install(nb, install)
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="directory to write the student edition to")
    parser.add_argument("--repository", help="repository URL for the edition's launch buttons")
    parser.add_argument("--branch", help="branch of that repository")
    parser.add_argument("--install", help="the pip requirement a fresh Colab runtime installs")
    args = parser.parse_args()
    for path in write_edition(args.out, repository=args.repository, branch=args.branch,
                              install=args.install):
        print(f"wrote {path}")
    print(f"build it with: jupyter-book build {args.out}")


if __name__ == "__main__":
    main()
