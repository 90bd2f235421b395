"""Execute every chapter of the book and time it (DESIGN §5: each ≤ 120 s, all ≤ 12 min).

Run from anywhere::

    python benchmarks/chapter_times.py                      # every notebook in _toc.yml
    python benchmarks/chapter_times.py --only ch01_linearization

The notebooks are the ``.ipynb`` files listed in ``_toc.yml``, in table-of-contents order; each is
executed in memory with nbclient (kernel ``python3``, working directory ``book/``, nothing is
written back). A chapter's time counts its kernel's start-up and every cell, as a build of the
book does; the cells alone are shown beside it. The script prints the table and exits with status
1 if a chapter fails, is missing, or takes longer than the limit (and, for a full run, if the
total does).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
CHAPTER_LIMIT = 120.0
BOOK_LIMIT = 12 * 60.0
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class ChapterRun:
    name: str
    seconds: float  # kernel start-up and every cell: what a build of the book pays
    cell_seconds: float  # the cells alone
    error: str = ""


def toc_files(node: object) -> list[str]:
    """Every ``file:`` entry of a Jupyter Book table of contents, in reading order."""
    files: list[str] = []
    if isinstance(node, dict):
        for key in ("root", "file"):
            if isinstance(node.get(key), str):
                files.append(node[key])
        for key in ("parts", "chapters", "sections"):
            for child in node.get(key) or []:
                files.extend(toc_files(child))
    return files


def toc_notebooks() -> list[Path]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    paths = []
    for entry in toc_files(toc):
        path = ROOT / entry
        if path.suffix == "":
            # Jupyter Book resolves a bare name to .ipynb or .md; markdown pages are not run.
            if path.with_suffix(".md").exists() and not path.with_suffix(".ipynb").exists():
                continue
            path = path.with_suffix(".ipynb")
        if path.suffix == ".ipynb":
            paths.append(path)
    return paths


def run_notebook(path: Path, cell_timeout: int) -> ChapterRun:
    if not path.exists():
        return ChapterRun(path.stem, 0.0, 0.0,
                          "missing: listed in _toc.yml, but neither .ipynb nor .md exists")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, kernel_name="python3", timeout=cell_timeout,
                            resources={"metadata": {"path": str(BOOK)}})
    start = time.perf_counter()
    cells_start = start
    try:
        with client.setup_kernel():
            cells_start = time.perf_counter()
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)
    except Exception as exc:  # a failing cell, a timeout or a dead kernel: report, go on
        lines = ANSI_ESCAPE.sub("", str(exc)).strip().splitlines()
        end = time.perf_counter()
        return ChapterRun(path.stem, end - start, end - cells_start,
                          f"{type(exc).__name__}: {lines[-1] if lines else ''}")
    end = time.perf_counter()
    return ChapterRun(path.stem, end - start, end - cells_start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", metavar="NAME",
                        help="run only the notebook whose name is or starts with NAME")
    parser.add_argument("--limit", type=float, default=CHAPTER_LIMIT,
                        help="seconds allowed per chapter (default %(default)s)")
    parser.add_argument("--cell-timeout", type=int, default=600,
                        help="seconds before nbclient abandons one cell (default %(default)s)")
    args = parser.parse_args()

    notebooks = toc_notebooks()
    if args.only:
        notebooks = [p for p in notebooks if p.stem == args.only or p.stem.startswith(args.only)]
        if not notebooks:
            print(f"no notebook in _toc.yml matches {args.only!r}", file=sys.stderr)
            return 2
    if not notebooks:
        print("_toc.yml lists no notebooks", file=sys.stderr)
        return 2

    runs = []
    for path in notebooks:
        print(f"running {path.relative_to(ROOT)} ...", flush=True)
        runs.append(run_notebook(path, args.cell_timeout))

    problems = []
    width = max(len("chapter"), *(len(r.name) for r in runs))
    print(f"\n| {'chapter'.ljust(width)} | seconds | of which cells | result |")
    print(f"|{'-' * (width + 2)}|---------|----------------|--------|")
    for r in runs:
        if r.error:
            result = "FAIL"
            problems.append(f"{r.name}: {r.error}")
        elif r.seconds > args.limit:
            result = "SLOW"
            problems.append(f"{r.name}: {r.seconds:.1f} s > {args.limit:.0f} s")
        else:
            result = "ok"
        print(f"| {r.name.ljust(width)} | {r.seconds:7.1f} | {r.cell_seconds:14.1f} "
              f"| {result:6s} |")
    total = sum(r.seconds for r in runs)
    cells = sum(r.cell_seconds for r in runs)
    print(f"| {'total'.ljust(width)} | {total:7.1f} | {cells:14.1f} |        |")
    if not args.only and total > BOOK_LIMIT:
        problems.append(f"whole book: {total:.0f} s > {BOOK_LIMIT:.0f} s")

    if problems:
        print("\nproblems:")
        for problem in problems:
            print(f"  {problem}")
        return 1
    print(f"\nevery chapter ran in ≤ {args.limit:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
