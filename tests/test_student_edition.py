"""The student edition removes every solution and nothing else, puts an answer and a check cell
after every checked exercise, runs under pytest with one test per exercise, and the autograder
scores submissions by the edition's own checks (oracle: known right and wrong answers)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The edition's tools execute notebooks with nbclient, which requirements.txt installs; the
# package on its own (pip install ".[test]") does not need it.
pytest.importorskip("nbclient", reason="the student edition's tools need nbclient "
                    "(pip install -r requirements.txt)")


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


student_edition = _load("student_edition")
autograde = _load("autograde")


def _md(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "source": text, "outputs": [],
            "execution_count": None}


def test_strip_solutions_removes_the_gated_block_only() -> None:
    nb = {"cells": [
        _md("```{exercise} One\n:label: ex-1\nDo it.\n```"),
        _md("```{solution-start} ex-1\n:class: dropdown\n```"),
        _code("answer = 42"),
        _md("The answer is 42."),
        _md("```{solution-end}\n```"),
        _code("print('after')"),
    ], "metadata": {}}
    out = student_edition.strip_solutions(nb)
    sources = [c["source"] for c in out["cells"]]
    assert sources == [nb["cells"][0]["source"], "print('after')"]


def test_unclosed_solution_is_an_error() -> None:
    nb = {"cells": [_md("```{solution-start} ex-1\n```"), _code("x = 1")], "metadata": {}}
    with pytest.raises(ValueError, match="never closed"):
        student_edition.strip_solutions(nb)


def test_edition_of_the_book_has_exercises_and_no_solutions(tmp_path: Path) -> None:
    written = student_edition.write_edition(tmp_path / "edition")
    assert written, "no chapter notebooks were written"
    for path in written:
        original = json.loads((ROOT / "book" / path.name).read_text(encoding="utf-8"))
        text = path.read_text(encoding="utf-8")
        assert "solution-start" not in text and "solution-end" not in text, path.name
        n_exercises = sum("{exercise}" in "".join(c["source"]) for c in original["cells"])
        assert text.count("{exercise}") == n_exercises, path.name
    assert (tmp_path / "edition" / "_toc.yml").exists()


def test_refuses_to_overwrite_the_book_or_a_foreign_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="book's own sources"):
        student_edition.write_edition(ROOT)
    with pytest.raises(ValueError, match="book's own sources"):
        student_edition.write_edition(ROOT / "book" / "sub")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a student edition"):
        student_edition.write_edition(foreign)
    assert (foreign / "keep.txt").read_text() == "mine"


# A tiny synthetic book: one chapter with a numeric and a function exercise and their solutions.
_EXERCISES = [
    _md("# Tiny chapter"),
    _code("try:\n    import ntkbook\nexcept ImportError:\n"
          "    %pip install -q \"ntkbook @ git+https://github.com/ntkbook/ntkbook\"\n"
          "    import ntkbook\nprint('main text')"),
    _md("```{exercise} A number\n:label: ex-t-1\n\nCheck it with "
        "`ntkbook.exercises.ch1_hessian_norm(answer, width=400, input_norm=3.0)`.\n```"),
    _md("```{solution-start} ex-t-1\n:class: dropdown\n```"),
    _code("answer = (2 / 400) ** 0.5 * 3.0"),
    _md("```{solution-end}\n```"),
    _md("```{exercise} A function\n:label: ex-t-2\n\nWrite `linear_model_ntk(Phi_X, Phi_Z)`; "
        "check it with `ntkbook.exercises.ch1_linear_model_ntk(linear_model_ntk)`.\n```"),
    _md("```{exercise} Two checks\n:label: ex-t-3\n\n`ntkbook.exercises.ch6_gd_limit(answer)` "
        "and `ntkbook.exercises.ch4_two_point_lambda0(answer, angle=math.pi / 4)`.\n```"),
    _md("```{exercise} Unchecked\n:label: ex-t-4\n\nProve it.\n```"),
]


_TINY_CONFIG = """\
title: "Tiny book"
repository:
  url: https://example.org/book
  branch: main

launch_buttons:
  notebook_interface: classic
  colab_url: "https://colab.research.google.com"

html:
  use_download_button: true
  use_repository_button: true
"""


def _tiny_book(root: Path) -> Path:
    (root / "book").mkdir(parents=True)
    cells = [{**cell, "id": f"cell-{k}"} for k, cell in enumerate(_EXERCISES)]
    nb = {"cells": cells, "metadata": {"kernelspec": {"name": "python3",
          "display_name": "Python 3", "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    (root / "book" / "ch01_tiny.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    (root / "book" / "index.md").write_text(
        "# Tiny book\n\nSolutions are folded into dropdowns.\n\n## Notation\n\n"
        "| symbol | meaning |\n|---|---|\n| $m$ | width |\n\n## Using the book in a course\n\n"
        "Clone https://example.org/book.\n", encoding="utf-8")
    (root / "book" / "instructors.md").write_text("# For instructors\n\nRubric: step 1.\n",
                                                  encoding="utf-8")
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/index\nparts:\n  - caption: \"One\"\n    chapters:\n"
        "      - file: book/ch01_tiny\n  - caption: \"Teaching\"\n    chapters:\n"
        "      - file: book/instructors\n", encoding="utf-8")
    (root / "_config.yml").write_text(_TINY_CONFIG, encoding="utf-8")
    (root / "pyproject.toml").write_text('[project]\nname = "ntkbook"\nversion = "0.1.0"\n\n'
                                         '[tool.other]\nversion = "9.9.9"\n', encoding="utf-8")
    return root


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def test_answer_and_check_cells_follow_each_checked_exercise(tmp_path: Path) -> None:
    root = _tiny_book(tmp_path / "src")
    (path,) = student_edition.write_edition(tmp_path / "out", root=root,
                                            repository="https://example.org/students",
                                            branch="spring",
                                            install="ntkbook @ git+https://x.org/nb@v0.1.0")
    cells = _cells(path)
    roles = [(c["metadata"]["ntkbook"]["role"], c["metadata"]["ntkbook"]["exercise"])
             for c in cells if "ntkbook" in c["metadata"]]
    assert roles == [("answer", "ex-t-1"), ("check", "ex-t-1"), ("answer", "ex-t-2"),
                     ("check", "ex-t-2"), ("answer", "ex-t-3a"), ("check", "ex-t-3a"),
                     ("answer", "ex-t-3b"), ("check", "ex-t-3b")]
    sources = ["".join(c["source"]) for c in cells]
    assert not any("(2 / 400)" in s for s in sources), "the solution leaked"
    i = next(k for k, s in enumerate(sources) if s.startswith("```{exercise} A number"))
    assert sources[i + 1].endswith("answer = None\n")
    assert sources[i + 2].endswith(
        "ntkbook.exercises.ch1_hessian_norm(answer, width=400, input_norm=3.0)\n")
    assert "def linear_model_ntk(Phi_X, Phi_Z):\n    raise NotImplementedError" in sources[i + 4]
    assert sources[i + 8].endswith("ntkbook.exercises.ch6_gd_limit(answer_a)\n")
    assert "import math" in sources[i + 10]
    assert sources[i + 10].endswith("ch4_two_point_lambda0(answer_b, angle=math.pi / 4)\n")
    assert all(c.get("id") for c in cells if "ntkbook" in c["metadata"])
    assert '%pip install -q "ntkbook @ git+https://x.org/nb@v0.1.0"' in sources[1]
    with pytest.raises(ValueError, match="requirement"):
        student_edition.pin_install({"cells": []}, 'x" && rm -rf ~ "')
    out = tmp_path / "out"
    for name in ("pytest.ini", "conftest.py", "notebook_grading.py"):
        assert (out / name).exists(), name
    assert "nbval" in (out / "pytest.ini").read_text() and "-p no:nbval" in (
        out / "pytest.ini").read_text()
    config = (out / "_config.yml").read_text()
    assert "url: https://example.org/students" in config and "branch: spring" in config


def _run_pytest(directory: Path) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "pytest", "book/ch01_tiny.ipynb"], cwd=directory,
                          capture_output=True, text=True, env=env, timeout=600)
    return done.stdout + done.stderr


def _fill(path: Path, answers: dict[str, str]) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        meta = cell["metadata"].get("ntkbook", {})
        if meta.get("role") == "answer" and meta["exercise"] in answers:
            cell["source"] = answers[meta["exercise"]]
    path.write_text(json.dumps(nb), encoding="utf-8")


def test_pytest_in_the_edition_reports_each_exercise(tmp_path: Path) -> None:
    root = _tiny_book(tmp_path / "src")
    (path,) = student_edition.write_edition(tmp_path / "out", root=root)
    before = _run_pytest(tmp_path / "out")
    assert "ch01_tiny.ipynb::chapter runs PASSED" in before, before
    assert "ch01_tiny.ipynb::ex-t-1 FAILED" in before and "got None" in before
    assert "ch01_tiny.ipynb::ex-t-2 FAILED" in before and "not written yet" in before
    _fill(path, {"ex-t-1": "answer = (2 / 400) ** 0.5 * 3.0",
                 "ex-t-2": "def linear_model_ntk(A, B):\n    return A @ B.T"})
    after = _run_pytest(tmp_path / "out")
    assert "ch01_tiny.ipynb::ex-t-1 PASSED" in after, after
    assert "ch01_tiny.ipynb::ex-t-2 PASSED" in after
    assert "ch01_tiny.ipynb::ex-t-3a FAILED" in after


def test_the_autograder_scores_each_exercise_and_restores_edited_checks(tmp_path: Path) -> None:
    root = _tiny_book(tmp_path / "src")
    (path,) = student_edition.write_edition(tmp_path / "edition", root=root)
    right, wrong = tmp_path / "subs" / "ada", tmp_path / "subs" / "bob"
    for student in (right, wrong):
        student.mkdir(parents=True)
        shutil.copy(path, student / path.name)
    _fill(right / path.name, {"ex-t-1": "answer = (2 / 400) ** 0.5 * 3.0",
                              "ex-t-2": "def linear_model_ntk(A, B):\n    return A @ B.T"})
    # bob: the square of the norm, a transposed kernel, and a check cell edited to pass
    _fill(wrong / path.name, {"ex-t-1": "answer = 2 / 400 * 9.0",
                              "ex-t-2": "def linear_model_ntk(A, B):\n    return B @ A.T"})
    nb = json.loads((wrong / path.name).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["metadata"].get("ntkbook", {}).get("exercise") == "ex-t-3a" and \
                cell["metadata"]["ntkbook"]["role"] == "check":
            cell["source"] = "from ntkbook.exercises import ExerciseResult\n" \
                             "ExerciseResult(True, 'ok')"
    (wrong / path.name).write_text(json.dumps(nb), encoding="utf-8")
    labels, results = autograde.grade(tmp_path / "subs", tmp_path / "edition", timeout=300)
    assert labels == ["ex-t-1", "ex-t-2", "ex-t-3a", "ex-t-3b"]
    assert [results["ada"][k].passed for k in labels] == [True, True, False, False]
    assert [results["bob"][k].passed for k in labels] == [False, False, False, False]
    assert "transposed" in results["bob"]["ex-t-2"].message
    text = autograde.table(labels, results)
    assert "| ada | 1 | 1 | 0 | 0 | 2/4 |" in text and "| bob | 0 | 0 | 0 | 0 | 0/4 |" in text
    assert "| solved by | 50% | 50% | 0% | 0% | |" in text


def test_every_checked_exercise_of_the_book_gets_a_stub_and_a_valid_check(tmp_path: Path) -> None:
    import re

    from ntkbook import exercises

    written = student_edition.write_edition(tmp_path / "edition")
    labels = []
    for path in written:
        cells = _cells(path)
        for k, cell in enumerate(cells):
            meta = cell["metadata"].get("ntkbook")
            if not meta or meta["role"] != "check":
                continue
            labels.append(meta["exercise"])
            assert cells[k - 1]["metadata"]["ntkbook"] == {"role": "answer",
                                                           "exercise": meta["exercise"]}
            (name,) = re.findall(r"ntkbook\.exercises\.(\w+)\(", "".join(cell["source"]))
            assert name in exercises.__all__, (path.name, name)
            compile("".join(cell["source"]) + "\n" + "".join(cells[k - 1]["source"]),
                    path.name, "exec")
    assert len(labels) == len(set(labels))
    # every chapter checker of the package is handed out by some exercise
    handed_out = {n for path in written for n in re.findall(
        r"ntkbook\.exercises\.(ch\d+_\w+)\(", path.read_text(encoding="utf-8"))}
    assert {n for n in exercises.__all__ if re.match(r"ch\d+_", n)} <= handed_out


def _edition_text(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): p.read_text(encoding="utf-8") for p in out.rglob("*")
            if p.is_file() and p.suffix in (".md", ".yml", ".ipynb", ".txt", ".toml")}


def test_repository_and_branch_reach_every_page_and_the_install_line(tmp_path: Path) -> None:
    root = _tiny_book(tmp_path / "src")
    out = tmp_path / "out"
    (path,) = student_edition.write_edition(out, root=root,
                                            repository="https://github.com/uni/course/",
                                            branch="spring")
    texts = _edition_text(out)
    leaks = [name for name, text in texts.items() if "example.org/book" in text]
    assert not leaks, f"the book's own repository is named in {leaks}"
    config = texts["_config.yml"]
    assert "url: https://github.com/uni/course\n" in config and "branch: spring" in config
    assert "launch_buttons:" in config and "use_repository_button: true" in config
    assert 'title: "Tiny book (student edition)"' in config
    colab = "https://colab.research.google.com/github/uni/course/blob/spring/book/ch01_tiny.ipynb"
    install = "ntkbook @ git+https://github.com/uni/course@v0.1.0"
    for page in ("book/index.md", "README.md"):
        text = texts[page]
        assert colab in text and install in text, page
        assert "git clone --branch spring https://github.com/uni/course && cd course" in text
        assert "python -m pytest" in text and "student edition" in text, page
        assert "dropdown" not in text, page
    assert "{doc}`ch01_tiny`" in texts["book/index.md"]
    assert "## Notation" in texts["book/index.md"] and "| $m$ | width |" in texts["book/index.md"]
    assert f'%pip install -q \\"{install}\\"' in texts["book/ch01_tiny.ipynb"]
    assert texts["requirements.txt"].splitlines()[-1] == install
    # the instructors' page (rubrics) is not part of the edition, nor of its table of contents
    assert "book/instructors.md" not in texts and "instructors" not in texts["_toc.yml"]
    assert "Teaching" not in texts["_toc.yml"] and "book/ch01_tiny" in texts["_toc.yml"]


def test_without_a_repository_nothing_points_to_the_edition_with_solutions(
        tmp_path: Path) -> None:
    root = _tiny_book(tmp_path / "src")
    out = tmp_path / "out"
    student_edition.write_edition(out, root=root)
    texts = _edition_text(out)
    config = texts["_config.yml"]
    assert "repository:" not in config and "launch_buttons:" not in config
    assert "use_repository_button: false" in config and "example.org" not in config
    assert "colab.research.google.com/github" not in texts["book/index.md"] + texts["README.md"]
    # the package still installs as a released version: the book's repository at its tag
    assert '\\"ntkbook @ git+https://example.org/book@v0.1.0\\"' in texts["book/ch01_tiny.ipynb"]


def test_install_is_a_tag_unless_overridden_and_bad_settings_are_refused(tmp_path: Path) -> None:
    root = _tiny_book(tmp_path / "src")
    assert student_edition.package_version(root) == "0.1.0"
    assert student_edition.default_install("https://x.org/r.git", "0.1.0") == \
        "ntkbook @ git+https://x.org/r.git@v0.1.0"
    (path,) = student_edition.write_edition(tmp_path / "out", root=root,
                                            repository="https://x.org/r", install="ntkbook==0.1.0")
    assert '\\"ntkbook==0.1.0\\"' in path.read_text(encoding="utf-8")
    for kwargs, match in ((dict(branch="b"), "branch needs a repository"),
                          (dict(repository="github.com/uni/course"), "repository must be"),
                          (dict(repository="https://x.org/r", branch="a b"), "branch must be"),
                          (dict(install="ntkbook; rm -rf ~"), "requirement must be")):
        with pytest.raises(ValueError, match=match):
            student_edition.write_edition(tmp_path / "bad", root=root, **kwargs)
    assert not (tmp_path / "bad").exists(), "a refused edition was written"
    with pytest.raises(ValueError, match="version must be"):
        student_edition.default_install("https://x.org/r", "main")
    (root / "pyproject.toml").unlink()
    with pytest.raises(ValueError, match="pyproject.toml"):
        student_edition.write_edition(tmp_path / "out", root=root)


def test_the_book_edition_pins_the_package_release(tmp_path: Path) -> None:
    import ntkbook

    assert student_edition.package_version(ROOT) == ntkbook.__version__
    out = tmp_path / "edition"
    written = student_edition.write_edition(out, repository="https://github.com/uni/course")
    pinned = f'%pip install -q \\"ntkbook @ git+https://github.com/uni/course@v{ntkbook.__version__}\\"'
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert pinned in text, path.name
        assert f'\\"{student_edition.INSTALL}\\"' not in text, path.name
    # the edition installs as the package it pins (pyproject and sources shipped with it)
    import tomllib

    book, edition = (tomllib.loads((d / "pyproject.toml").read_text()) for d in (ROOT, out))
    assert edition["project"] == book["project"] and "pytest" not in edition["tool"]
    assert edition["tool"]["setuptools"] == book["tool"]["setuptools"]
    assert (out / "ntkbook" / "exercises").is_dir() and not list(out.rglob("__pycache__"))
    assert not (out / "book" / "instructors.md").exists()


def test_the_default_install_line_installs_the_release_from_the_published_tag(
        tmp_path: Path) -> None:
    if shutil.which("git") is None or importlib.util.find_spec("setuptools") is None:
        pytest.skip("needs git and setuptools (pip install -r requirements.txt)")
    import ntkbook

    repo = tmp_path / "course"
    (path, *_) = student_edition.write_edition(repo, repository=repo.as_uri(), branch="spring")
    requirement = f"ntkbook @ git+{repo.as_uri()}@v{ntkbook.__version__}"
    assert f'\\"{requirement}\\"' in path.read_text(encoding="utf-8")
    git = ["git", "-c", "user.name=instructor", "-c", "user.email=instructor@example.org"]
    for args in (["init", "-q", "-b", "spring"], ["add", "-A"], ["commit", "-q", "-m", "edition"]):
        subprocess.run(git + args, cwd=repo, check=True, capture_output=True)

    def dry_run() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps",
                               "--no-build-isolation", "--no-index", requirement],
                              capture_output=True, text=True, timeout=300)

    untagged = dry_run()
    assert untagged.returncode != 0, "installed from a tag that does not exist"
    subprocess.run(git + ["tag", f"v{ntkbook.__version__}"], cwd=repo, check=True)
    tagged = dry_run()
    assert tagged.returncode == 0, tagged.stdout + tagged.stderr
    assert f"Would install ntkbook-{ntkbook.__version__}" in tagged.stdout


def test_nbgrader_source_hides_an_assert_of_each_check(tmp_path: Path) -> None:
    root = _tiny_book(tmp_path / "src")
    (path,) = student_edition.write_edition(tmp_path / "out", root=root, nbgrader=True)
    source = tmp_path / "out" / "nbgrader" / "source" / "ch01_tiny" / "ch01_tiny.ipynb"
    edition, graded = _cells(path), _cells(source)
    assert len(edition) == len(graded)
    for plain, hidden in zip(edition, graded):
        meta = plain["metadata"].get("ntkbook", {})
        if meta.get("role") != "check":
            assert plain == hidden
            continue
        assert plain["metadata"]["nbgrader"] == {
            "grade": True, "solution": False, "locked": True, "points": 1,
            "grade_id": f"check-{meta['exercise']}", "schema_version": 3, "task": False}
        call = "".join(plain["source"]).rstrip().splitlines()[-1]
        assert "assert" not in "".join(plain["source"])
        assert "".join(hidden["source"]).endswith(
            f"_check = {call}\n### BEGIN HIDDEN TESTS\nassert _check.correct, _check.message\n"
            "### END HIDDEN TESTS\n_check\n")
    others = [c["metadata"] for c in edition
              if c["metadata"].get("ntkbook", {}).get("role") != "check"]
    assert "nbgrader" not in json.dumps(others)
    assert (tmp_path / "out" / "nbgrader" / "nbgrader_config.py").exists()


def test_nbgrader_scores_the_edition_notebooks_per_exercise(tmp_path: Path) -> None:
    pytest.importorskip("nbgrader", reason="nbgrader is optional (pip install nbgrader)")
    from nbgrader.api import Gradebook

    root = _tiny_book(tmp_path / "src")
    (path,) = student_edition.write_edition(tmp_path / "out", root=root, nbgrader=True)
    course = tmp_path / "out" / "nbgrader"
    answers = {"ada": {"ex-t-1": "answer = (2 / 400) ** 0.5 * 3.0",
                       "ex-t-2": "def linear_model_ntk(A, B):\n    return A @ B.T"},
               "bob": {"ex-t-1": "answer = 2 / 400 * 9.0",
                       "ex-t-2": "def linear_model_ntk(A, B):\n    return B @ A.T"}}
    for student, filled in answers.items():  # the students hand in the edition's notebook
        target = course / "submitted" / student / "ch01_tiny" / path.name
        target.parent.mkdir(parents=True)
        shutil.copy(path, target)
        _fill(target, filled)
    # bob also edits a check cell to pass: nbgrader restores the locked cell before grading
    bob = course / "submitted" / "bob" / "ch01_tiny" / path.name
    nb = json.loads(bob.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "check-ex-t-3a":
            cell["source"] = ("from ntkbook.exercises import ExerciseResult\n"
                              "ExerciseResult(True, 'ok')")
    bob.write_text(json.dumps(nb), encoding="utf-8")
    # nbgrader runs alembic, its database migrations, from the PATH
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
    for args in (["generate_assignment", "ch01_tiny"], ["autograde", "ch01_tiny", "--create"]):
        done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {student: [gradebook.find_grade(f"check-{label}", "ch01_tiny", "ch01_tiny",
                                                 student).score
                            for label in ("ex-t-1", "ex-t-2", "ex-t-3a", "ex-t-3b")]
                  for student in answers}
    assert scores == {"ada": [1, 1, 0, 0], "bob": [0, 0, 0, 0]}
