"""The student edition removes every solution and nothing else."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("student_edition",
                                               ROOT / "tools" / "student_edition.py")
student_edition = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(student_edition)


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
