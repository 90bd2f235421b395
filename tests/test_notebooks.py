"""Static checks of every chapter notebook: the format rules of the book (DESIGN §3).

These read the .ipynb files as JSON; running them is nbval's job (``pytest`` collects the
notebooks under ``book/`` too).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
ALLOWED_TAGS = {
    "hide-input", "hide-output", "hide-cell", "remove-input", "remove-output", "remove-cell",
    "nbval-ignore-output", "remove-stderr",
}
INSTALL = re.compile(r"(^|\s)[%!]\s*pip\s+install|subprocess.*pip", re.MULTILINE)
DOWNLOAD = re.compile(
    r"download\s*=\s*True|urlretrieve|urlopen|requests\.(get|post)|load_dataset\(|"
    r"fetch_openml|torchvision\.datasets|wget |curl "
)
ABSOLUTE = re.compile(r"(['\"])(/tmp/|/work/|/home/|/root/|/Users/|[A-Za-z]:\\\\)")


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_there_are_chapters() -> None:
    assert len(NOTEBOOKS) >= 2, f"expected chapter notebooks in book/, found {NOTEBOOKS}"


@pytest.fixture(params=NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def notebook(request) -> tuple[Path, dict]:
    return request.param, _load(request.param)


def test_kernel_is_python3(notebook) -> None:
    path, nb = notebook
    assert nb["metadata"]["kernelspec"]["name"] == "python3", path.name


def test_outputs_are_stripped(notebook) -> None:
    path, nb = notebook
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{path.name}: cell {i} has stored outputs"
            assert cell.get("execution_count") is None, f"{path.name}: cell {i} has a count"


def test_first_code_cell_is_the_guarded_install(notebook) -> None:
    path, nb = notebook
    code = [_source(c) for c in nb["cells"] if c["cell_type"] == "code"]
    first = code[0]
    assert "import ntkbook" in first and "except ImportError" in first, (
        f"{path.name}: the first code cell must import ntkbook and install it only on ImportError"
    )
    assert INSTALL.search(first), f"{path.name}: the first code cell must hold the install line"
    for i, src in enumerate(code[1:], start=2):
        assert not INSTALL.search(src), f"{path.name}: code cell {i} installs something"


def test_nothing_is_downloaded_and_no_absolute_paths(notebook) -> None:
    path, nb = notebook
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        src = _source(cell)
        assert not DOWNLOAD.search(src), f"{path.name}: cell {i} downloads something"
        assert not ABSOLUTE.search(src), f"{path.name}: cell {i} uses an absolute path"
        assert "matplotlib.use(" not in src and "MPLBACKEND" not in src, (
            f"{path.name}: cell {i} sets a matplotlib backend (figures would vanish from the book)"
        )


def test_cell_tags_are_known(notebook) -> None:
    path, nb = notebook
    for i, cell in enumerate(nb["cells"]):
        tags = set(cell.get("metadata", {}).get("tags", []))
        assert tags <= ALLOWED_TAGS, f"{path.name}: cell {i} has unknown tags {tags - ALLOWED_TAGS}"


def test_chapter_structure(notebook) -> None:
    path, nb = notebook
    markdown = "\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "markdown")
    code = "\n".join(_source(c) for c in nb["cells"] if c["cell_type"] == "code")
    for heading in ("Learning goals", "Summary", "Exercises", "References"):
        assert re.search(rf"^#+ .*{heading}", markdown, re.MULTILINE | re.IGNORECASE), (
            f"{path.name}: no '{heading}' heading"
        )
    n_exercises = len(re.findall(r"^```\{exercise\}", markdown, re.MULTILINE))
    n_solutions = len(re.findall(r"^```\{solution-start\}", markdown, re.MULTILINE))
    assert n_exercises >= 3, f"{path.name}: {n_exercises} exercises, need at least 3"
    assert n_solutions == n_exercises, f"{path.name}: {n_solutions} solutions for {n_exercises}"
    assert "ntkbook.exercises" in code or "from ntkbook import exercises" in code, (
        f"{path.name}: no exercise is checked with ntkbook.exercises"
    )
    assert "{cite" in markdown, f"{path.name}: no citation"
    assert re.search(r"^\s*assert ", code, re.MULTILINE), f"{path.name}: no check cell"


PLOTTING = re.compile(r"plt\.(show|subplots|figure)|\.plot\(|sns\.|\.imshow\(")


def test_figures_have_a_caption_a_name_and_alt_text(notebook) -> None:
    """Every cell that draws a figure numbers it, says what to see in it, and describes it."""
    path, nb = notebook
    names = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code" or not PLOTTING.search(_source(cell)):
            continue
        mystnb = cell.get("metadata", {}).get("mystnb", {})
        figure, image = mystnb.get("figure", {}), mystnb.get("image", {})
        assert figure.get("caption") and figure.get("name"), (
            f"{path.name}: cell {i} draws a figure without mystnb.figure caption and name")
        assert image.get("alt"), f"{path.name}: cell {i} draws a figure without mystnb.image alt"
        names.append(figure["name"])
    assert len(names) == len(set(names)), f"{path.name}: repeated figure names {names}"
