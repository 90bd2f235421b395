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
``--repository`` and ``--branch`` name the repository and branch the students' notebooks are
published in: the edition's ``_config.yml`` (its ``repository:`` block, hence the launch and
repository buttons), its ``index.md`` and its ``README.md`` point there, never at the edition with
solutions; without ``--repository`` the edition has no launch or repository button. The edition
ships the package's source and ``pyproject.toml``, so the published repository installs it, and
each chapter's first cell installs, in a fresh Colab runtime, the released version
``ntkbook @ git+<repository>@v<version>`` (the tag ``v<version>`` must exist there; without
``--repository``, the book's own repository). ``--install`` replaces that requirement, e.g. by
``--install "ntkbook==0.1.0"``. Every check cell is also an nbgrader test cell (locked, one point);
``--nbgrader`` writes nbgrader's course directory to ``OUT/nbgrader``, whose source notebooks
assert in hidden tests that each checker says right (``write_nbgrader``).
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
    meta = {"ntkbook": {"role": role, "exercise": label}}
    if role == "check":  # nbgrader's metadata (schema 3) of a locked test cell worth one point
        meta["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 1,
                            "grade_id": cell_id, "schema_version": 3, "task": False}
    return {"cell_type": "code", "execution_count": None, "id": cell_id, "metadata": meta,
            "outputs": [], "source": source}


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


def edition_pyproject(text: str) -> str:
    """The book's ``pyproject.toml`` without its pytest table (with the comments above it): the
    edition's ``pytest.ini`` configures pytest there."""
    return re.sub(r"(?:^#[^\n]*\n)*^\[tool\.pytest\.ini_options\]\n.*?(?=^\[|\Z)", "", text,
                  flags=re.MULTILINE | re.DOTALL)


def package_version(root: Path) -> str:
    """The ``version`` of the ``[project]`` table of ``root/pyproject.toml``."""
    path = root / "pyproject.toml"
    if not path.exists():
        raise ValueError(f"{path} does not exist: pass install= to name the requirement")
    project = re.search(r"^\[project\]\n(.*?)(?=^\[|\Z)", path.read_text(encoding="utf-8"),
                        re.MULTILINE | re.DOTALL)
    version = project and re.search(r'^version\s*=\s*"([^"]+)"', project.group(1), re.MULTILINE)
    if not version:
        raise ValueError(f"{path} has no [project] version")
    return version.group(1)


def _repository_block(config: str) -> re.Match | None:
    return re.search(r"^repository:\n((?:[ \t]+.*\n)+)", config, re.MULTILINE)


def book_repository(config: str) -> str:
    """The ``url`` of the ``repository:`` block of a ``_config.yml``."""
    block = _repository_block(config)
    url = block and re.search(r"^[ \t]+url:\s*(\S+)\s*$", block.group(1), re.MULTILINE)
    if not url:
        raise ValueError("_config.yml has no repository: block with a url:")
    return url.group(1)


def _check_url(repository: str) -> str:
    if not re.fullmatch(r"(https|ssh|file)://[^\s\"'`<>]+", repository):
        raise ValueError(f"repository must be an https://, ssh:// or file:// URL, "
                         f"got {repository!r}")
    return repository.rstrip("/")


def default_install(repository: str, version: str) -> str:
    """The requirement of the release ``version`` from the git tag ``v<version>`` of
    ``repository`` (pip's ``name @ git+URL@tag`` form) — never a branch."""
    if not re.fullmatch(r"\d+(\.\d+)*([a-z]+\d+)?", version):
        raise ValueError(f"version must be a release number such as 0.1.0, got {version!r}")
    return f"ntkbook @ git+{_check_url(repository)}@v{version}"


def colab_url(repository: str, branch: str, path: str) -> str | None:
    """The Colab address of the notebook ``path`` of a GitHub ``repository``, else None."""
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", repository)
    if not match:
        return None
    return (f"https://colab.research.google.com/github/{match.group(1)}/{match.group(2)}"
            f"/blob/{branch}/{path}")


def configure(config: str, repository: str | None, branch: str | None) -> str:
    """The edition's ``_config.yml``: its title marks the edition; its ``repository:`` block names
    ``repository`` and ``branch``, or, without a repository, it has no repository block, no
    launch buttons and no repository button (nothing points to the edition with solutions)."""
    config, count = re.subn(r'^title:\s*"?(.*?)"?\s*$',
                            lambda m: f'title: "{m.group(1)} (student edition)"', config,
                            count=1, flags=re.MULTILINE)
    if not count:
        raise ValueError("_config.yml has no title:")
    block = _repository_block(config)
    if block is None:
        raise ValueError("_config.yml has no repository: block")
    if repository is None:
        config = config[:block.start()] + config[block.end():]
        config = re.sub(r"^launch_buttons:\n(?:[ \t]+.*\n)+", "", config, flags=re.MULTILINE)
        config, count = re.subn(r"^([ \t]+use_repository_button:).*$", r"\g<1> false", config,
                                count=1, flags=re.MULTILINE)
        if not count:
            raise ValueError("_config.yml's html: block has no use_repository_button:")
        return config
    body = block.group(1)
    for key, value in (("url", repository), ("branch", branch)):
        body, count = re.subn(rf"^([ \t]+{key}:).*$", rf"\g<1> {value}", body, count=1,
                              flags=re.MULTILINE)
        if not count:
            raise ValueError(f"_config.yml's repository: block has no {key}:")
    return config[:block.start(1)] + body + config[block.end(1):]


def pin_install(notebook: dict, requirement: str) -> dict:
    """A copy of ``notebook`` whose ``%pip install`` of the package names ``requirement``."""
    if not requirement.strip() or re.search(r"[\"'`\n$;&|\\]", requirement):
        raise ValueError(f"requirement must be a non-empty pip requirement without quotes or "
                         f"shell characters, got {requirement!r}")
    cells = []
    for cell in notebook["cells"]:
        text = _source(cell)
        if cell["cell_type"] == "code" and f'"{INSTALL}"' in text:
            cell = {**cell, "source": text.replace(f'"{INSTALL}"', f'"{requirement}"')}
        cells.append(cell)
    return {**notebook, "cells": cells}


# pages for instructors (rubrics of the proof exercises): not part of the student edition
INSTRUCTOR_PAGES = ("instructors",)
# what the edition's requirements.txt keeps of the book's: the chapters' and its tests' needs
KEEP = ("torch", "numpy", "scipy", "scikit-learn", "matplotlib", "seaborn", "pandas", "tqdm",
        "ipykernel", "pytest", "nbclient", "nbformat")


def _toc_without(toc: str, pages: tuple[str, ...]) -> str:
    """``_toc.yml`` without the entries ``- file: book/<page>`` (and parts left empty)."""
    lines = toc.splitlines(keepends=True)
    drop = {k for k, line in enumerate(lines)
            if re.fullmatch(r"\s*- file: book/(\S+)\s*", line) and
            re.fullmatch(r"\s*- file: book/(\S+)\s*", line).group(1) in pages}
    kept = [line for k, line in enumerate(lines) if k not in drop]
    out, k = [], 0
    while k < len(kept):  # a part whose chapters: list is now empty goes too
        if (k + 1 < len(kept) and re.match(r"\s*- caption:", kept[k])
                and re.match(r"\s*chapters:\s*$", kept[k + 1])
                and (k + 2 == len(kept) or not re.match(r"\s*- file:", kept[k + 2]))):
            k += 2
            continue
        out.append(kept[k])
        k += 1
    return "".join(out)


def _chapters(toc: str, book: Path) -> list[tuple[str, str]]:
    """(name, title) of every chapter notebook listed in ``_toc.yml``, in its order."""
    found = []
    for name in re.findall(r"^\s*- file: book/(\S+)\s*$", toc, re.MULTILINE):
        path = book / f"{name}.ipynb"
        if path.exists():
            cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
            heading = next((re.search(r"^#\s+(.+)$", _source(c), re.MULTILINE)
                            for c in cells if c["cell_type"] == "markdown"), None)
            found.append((name, heading.group(1).strip() if heading else name))
    return found


def _section(markdown: str, heading: str) -> str:
    """The ``## heading`` section of ``markdown`` (heading included), or ''."""
    match = re.search(rf"^## {re.escape(heading)}\n.*?(?=^## |\Z)", markdown,
                      re.MULTILINE | re.DOTALL)
    return match.group(0).rstrip() + "\n" if match else ""


def _running(repository: str | None, branch: str, install: str, *, html: bool) -> str:
    if repository is None:
        where = ("Your instructor hands out the chapter notebooks (the files `book/ch*.ipynb` of "
                 "this edition).")
        clone = "cd <the folder with this edition>"
    else:
        buttons = ("the launch button (the rocket icon) of each chapter page opens it in Google "
                   "Colab" if html else "the Colab links above open the chapters")
        where = (f"The notebooks are published in <{repository}>, branch `{branch}`: {buttons}. "
                 f"The first code cell of every chapter installs the package when it is missing "
                 f"(`{install}`), so a fresh Colab runtime needs nothing else.")
        clone = f"git clone --branch {branch} {repository} && cd {repository.rsplit('/', 1)[-1]}"
        clone = clone.removesuffix(".git")
    return f"""\
## Running a chapter

{where} To work on your own computer instead (Python ≥ 3.10):

```bash
{clone}
python -m venv .venv && source .venv/bin/activate
pip install -r requirements.txt      # the pinned environment, with {install}
```

and open a chapter with Jupyter (`pip install jupyterlab`, then `jupyter lab book/`).

## Doing and checking the exercises

After every exercise that a checker scores come two code cells. The **answer cell** holds
`answer = None`, or the function the exercise asks for with a body that raises
`NotImplementedError`: replace it by your answer. The **check cell** below it calls the
exercise's checker from `ntkbook.exercises` and shows whether the answer is right and, if not,
which known mistake it shows — never the expected value. Keep the check cells as they are: a
grader runs its own copy of each. Exercises without a check cell (proofs, open-ended
experiments) are answered in a markdown cell of your own.

To see which of your answers pass, run in the folder of this edition:

```bash
python -m pytest                                  # every chapter, one test per exercise
python -m pytest book/ch01_linearization.ipynb    # one chapter
```

Each chapter runs once from a fresh kernel; the report has a test `chapter runs` (the chapter's
own cells ran without an error) and one test per checked exercise, `PASSED` when its check cell
says the answer is right and `FAILED` with the checker's message otherwise (an exercise not yet
answered fails with "got None" or "not written yet"). A chapter takes between half a minute and
two minutes on a laptop CPU.
"""


def index_page(title: str, chapters: list[tuple[str, str]], book_index: str,
               repository: str | None, branch: str, install: str) -> str:
    """The edition's ``index.md``: what the edition is, its chapters, how to run and check.
    (Its heading is not the title: the book's title, which marks the edition, follows it in
    every page's HTML title.)"""
    lines = ["# About this edition", "",
             f"This is the student edition of *{title}*: every chapter with its exercises and "
             f"without their solutions, and with an answer cell and a check cell after every "
             f"exercise that a checker scores.", "", "## Chapters", ""]
    for name, _ in chapters:
        link = colab_url(repository, branch, f"book/{name}.ipynb") if repository else None
        lines.append(f"* {{doc}}`{name}`" + (f" ([open in Colab]({link}))" if link else ""))
    return ("\n".join(lines) + "\n\n" + _running(repository, branch, install, html=True)
            + ("\n" + notation if (notation := _section(book_index, "Notation")) else ""))


def readme(title: str, chapters: list[tuple[str, str]], repository: str | None, branch: str,
           install: str) -> str:
    """The edition's ``README.md``: the front page of the repository the notebooks live in."""
    lines = [f"# {title} — student edition", "",
             f"The chapters of *{title}* as exercises: every chapter without its solutions, "
             f"with an answer cell and a check cell after every exercise that a checker scores.",
             "", "| chapter | notebook |", "|---|---|"]
    for name, heading in chapters:
        link = colab_url(repository, branch, f"book/{name}.ipynb") if repository else None
        cell = f"[{name}.ipynb](book/{name}.ipynb)" + (
            f" · [open in Colab]({link})" if link else "")
        lines.append(f"| {heading} | {cell} |")
    return "\n".join(lines) + "\n\n" + _running(repository, branch, install, html=False)


def requirements(book_requirements: str, install: str) -> str:
    """The edition's ``requirements.txt``: the book's pins of what the chapters and ``pytest``
    need, and ``install`` for the package."""
    kept = [line for line in book_requirements.splitlines()
            if (name := re.match(r"([A-Za-z0-9_.-]+)\s*==", line)) and name.group(1) in KEEP]
    return ("# The chapters, and `python -m pytest` of the student edition.\n"
            + "\n".join(kept) + f"\nnbclient\nnbformat\n{install}\n")


NBGRADER_CONFIG = """\
# nbgrader's configuration for the course directory it sits in (run nbgrader from here):
#   nbgrader generate_assignment ch01_linearization --create   # release/ from source/
#   nbgrader autograde ch01_linearization --create              # submitted/<student>/...
#   nbgrader export                                             # grades.csv
c = get_config()
c.CourseDirectory.course_id = "ntkbook"
c.ExecutePreprocessor.timeout = 600
"""


def nbgrader_source(notebook: dict) -> dict:
    """A copy of an edition ``notebook`` as nbgrader's source: every check cell keeps its
    checker call, shows its result, and asserts in nbgrader's hidden tests that it is correct
    (removed from the students' copy, restored when nbgrader autogrades)."""
    cells = []
    for cell in notebook["cells"]:
        meta = cell.get("metadata", {}).get("ntkbook", {})
        if meta.get("role") == "check":
            lines = _source(cell).rstrip("\n").split("\n")
            lines[-1] = f"_check = {lines[-1]}"
            lines += ["### BEGIN HIDDEN TESTS", "assert _check.correct, _check.message",
                      "### END HIDDEN TESTS", "_check"]
            cell = {**cell, "source": "\n".join(lines) + "\n"}
        cells.append(cell)
    return {**notebook, "cells": cells}


def write_nbgrader(out: Path, notebooks: list[Path]) -> Path:
    """nbgrader's course directory ``out/nbgrader``: its configuration, and one assignment per
    chapter in ``source/<chapter>/<chapter>.ipynb``; returns the directory."""
    course = out / "nbgrader"
    for path in notebooks:
        target = course / "source" / path.stem / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nb = nbgrader_source(json.loads(path.read_text(encoding="utf-8")))
        target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (course / "nbgrader_config.py").write_text(NBGRADER_CONFIG, encoding="utf-8")
    return course


def write_edition(out: Path, *, root: Path = ROOT, repository: str | None = None,
                  branch: str | None = None, install: str | None = None,
                  nbgrader: bool = False) -> list[Path]:
    """Write the student edition of the book at ``root`` to ``out``; return its notebooks.

    ``repository`` and ``branch`` (default ``main``) are where the edition is published;
    ``install`` is the requirement a fresh runtime installs, by default the release of
    ``root``'s ``pyproject.toml`` from the tag ``v<version>`` of ``repository`` (or of the book's
    own repository). ``nbgrader`` also writes nbgrader's course directory (``write_nbgrader``)."""
    out, root = out.resolve(), root.resolve()
    book = root / "book"
    if out == root or out in root.parents or out == book or book in out.parents:
        raise ValueError(f"refusing to write over the book's own sources: {out}")
    if branch is not None and repository is None:
        raise ValueError("branch needs a repository")
    if repository is not None:
        repository = _check_url(repository)
    if branch is not None and not re.fullmatch(r"[A-Za-z0-9._/-]+", branch):
        raise ValueError(f"branch must be a git branch name, got {branch!r}")
    branch = branch or "main"
    config = (root / "_config.yml").read_text(encoding="utf-8")
    if install is None:
        install = default_install(repository or book_repository(config), package_version(root))
    pin_install({"cells": []}, install)  # validates it before anything is written
    if out.exists():
        if any(out.iterdir()) and not (out / MARKER).exists():
            raise ValueError(f"{out} exists and is not a student edition; choose another path")
        shutil.rmtree(out)
    shutil.copytree(book, out / "book", ignore=shutil.ignore_patterns(
        *(f"{page}.md" for page in INSTRUCTOR_PAGES), "__pycache__", ".ipynb_checkpoints"))
    if (root / "ntkbook").is_dir():  # the package, so that the published repository installs
        shutil.copytree(root / "ntkbook", out / "ntkbook",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if (root / "pyproject.toml").exists():
        (out / "pyproject.toml").write_text(edition_pyproject(
            (root / "pyproject.toml").read_text(encoding="utf-8")), encoding="utf-8")
    if (root / "LICENSE").exists():
        shutil.copy(root / "LICENSE", out / "LICENSE")
    (out / "_config.yml").write_text(configure(config, repository, branch), encoding="utf-8")
    toc = _toc_without((root / "_toc.yml").read_text(encoding="utf-8"), INSTRUCTOR_PAGES)
    (out / "_toc.yml").write_text(toc, encoding="utf-8")
    title = re.search(r'^title:\s*"?(.*?)"?\s*$', config, re.MULTILINE).group(1)
    chapters = _chapters(toc, book)
    index = book / "index.md"
    (out / "book" / "index.md").write_text(index_page(
        title, chapters, index.read_text(encoding="utf-8") if index.exists() else "",
        repository, branch, install), encoding="utf-8")
    (out / "README.md").write_text(readme(title, chapters, repository, branch, install),
                                   encoding="utf-8")
    reqs = root / "requirements.txt"
    (out / "requirements.txt").write_text(requirements(
        reqs.read_text(encoding="utf-8") if reqs.exists() else "", install), encoding="utf-8")
    (out / MARKER).write_text("written by tools/student_edition.py\n", encoding="utf-8")
    (out / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    (out / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    shutil.copy(TOOLS / "notebook_grading.py", out / "notebook_grading.py")
    written = []
    for path in sorted((out / "book").glob("*.ipynb")):
        nb = add_answer_cells(strip_solutions(json.loads(path.read_text(encoding="utf-8"))))
        nb = pin_install(nb, install)
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    if nbgrader:
        write_nbgrader(out, written)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="directory to write the student edition to")
    parser.add_argument("--repository", help="URL of the repository the edition is published in "
                        "(launch buttons, index, README, the default install line)")
    parser.add_argument("--branch", help="branch of that repository (default: main)")
    parser.add_argument("--install", help="the pip requirement a fresh Colab runtime installs "
                        "(default: ntkbook @ git+<repository>@v<version>)")
    parser.add_argument("--nbgrader", action="store_true",
                        help="also write nbgrader's course directory to OUT/nbgrader")
    args = parser.parse_args()
    written = write_edition(args.out, repository=args.repository, branch=args.branch,
                            install=args.install, nbgrader=args.nbgrader)
    for path in written:
        print(f"wrote {path}")
    print(f"build it with: jupyter-book build {args.out}")


if __name__ == "__main__":
    main()
