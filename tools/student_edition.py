"""Write a student edition of the book: the same chapters with every exercise solution removed.

    python tools/student_edition.py _student          # writes the edition to ./_student
    jupyter-book build _student                       # builds it like the book

A solution in a chapter is the run of cells from a markdown cell that opens with a
``{solution-start}`` directive to the next markdown cell that holds ``{solution-end}``; both are
removed with everything between them, so no solution code reaches the students' notebooks or
the HTML. The exercises themselves stay.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START = re.compile(r"^```\{solution-start\}", re.MULTILINE)
END = re.compile(r"^```\{solution-end\}", re.MULTILINE)
MARKER = ".student-edition"


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


def write_edition(out: Path) -> list[Path]:
    """Copy the book's sources to ``out`` with solutions stripped; return the notebooks written."""
    out = out.resolve()
    book = ROOT / "book"
    if out == ROOT or out in ROOT.parents or out == book or book in out.parents:
        raise ValueError(f"refusing to write over the book's own sources: {out}")
    if out.exists():
        if any(out.iterdir()) and not (out / MARKER).exists():
            raise ValueError(f"{out} exists and is not a student edition; choose another path")
        shutil.rmtree(out)
    shutil.copytree(ROOT / "book", out / "book")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, out / name)
    (out / MARKER).write_text("written by tools/student_edition.py\n", encoding="utf-8")
    written = []
    for path in sorted((out / "book").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        path.write_text(json.dumps(strip_solutions(nb), indent=1, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="directory to write the student edition to")
    args = parser.parse_args()
    for path in write_edition(args.out):
        print(f"wrote {path}")
    print(f"build it with: jupyter-book build {args.out}")


if __name__ == "__main__":
    main()
