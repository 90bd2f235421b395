"""The book's Markdown, parsed as the build parses it: no math that the parser tears apart.

A line inside ``$...$`` that starts like a list item (``- ``, ``+ ``, ``1. ``) or a heading
becomes a list or a heading in Markdown: the math around it is split, and the page shows raw
TeX. The ``-W`` build does not warn about it. These tests parse every Markdown cell of every
chapter (and the book's ``.md`` pages) with MyST's own markdown-it configuration — the one
``_config.yml`` enables — including the bodies of directives such as ``{prf:theorem}``, and fail
on any ``$`` or TeX command left in the plain text, where a reader would see it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

# The book's parser (myst-parser, with markdown-it) comes with Jupyter Book, which
# requirements.txt installs; the package on its own (pip install ".[test]") does not need it.
pytest.importorskip("myst_parser", reason="the book's Markdown parser needs myst-parser "
                    "(pip install -r requirements.txt)")

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
SOURCES = sorted(BOOK.glob("*.ipynb")) + sorted(BOOK.glob("*.md"))
# Directives whose body is Markdown; any other fence (```python, ```bash, ...) is code.
CODE_DIRECTIVES = {"code-cell", "code-block", "code", "sourcecode", "literalinclude", "raw",
                   "math", "bibliography"}
TEX_COMMAND = re.compile(r"\\[A-Za-z]{2,}")
ESCAPED_DOLLAR = "\uE000"


def _parser():
    from markdown_it.renderer import RendererHTML
    from myst_parser.config.main import MdParserConfig
    from myst_parser.parsers.mdit import create_md_parser

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    extensions = set(config["parse"]["myst_enable_extensions"])
    return create_md_parser(MdParserConfig(enable_extensions=extensions), RendererHTML)


def _markdown_blocks(path: Path) -> Iterator[tuple[str, str]]:
    """(where, markdown source) for every Markdown cell or page."""
    if path.suffix == ".md":
        yield path.name, path.read_text(encoding="utf-8")
        return
    nb = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "markdown":
            src = cell["source"]
            yield f"{path.name}, cell {i}", "".join(src) if isinstance(src, list) else src


def _directive_body(content: str) -> str:
    """A directive's Markdown body: its content without the leading ``:option:`` lines."""
    lines = content.split("\n")
    while lines and re.match(r"^\s*:[\w-]+:", lines[0]):
        lines.pop(0)
    return "\n".join(lines)


def _visible_text(md, source: str, depth: int = 0) -> Iterator[str]:
    """The plain-text pieces a reader sees, recursing into Markdown directive bodies."""
    for token in md.parse(source.replace(r"\$", ESCAPED_DOLLAR)):
        if token.type == "inline":
            for child in token.children or []:
                if child.type == "text":
                    yield child.content
        elif token.type in ("fence", "colon_fence") and depth < 5:
            name = token.info.strip().split(" ")[0]
            if name.startswith("{") and name.endswith("}") and name[1:-1] not in CODE_DIRECTIVES:
                yield from _visible_text(md, _directive_body(token.content), depth + 1)


def _problems(md, source: str) -> list[str]:
    problems = []
    for text in _visible_text(md, source):
        if "$" in text:
            problems.append(f"an unmatched '$' (math split by the Markdown parser): {text!r}")
        elif TEX_COMMAND.search(text):
            problems.append(f"a TeX command outside math: {text!r}")
    return problems


@pytest.fixture(scope="module")
def md():
    return _parser()


def test_there_are_markdown_sources() -> None:
    assert any(p.suffix == ".ipynb" for p in SOURCES), f"no chapters found in {BOOK}"


@pytest.mark.parametrize("path", SOURCES, ids=[p.name for p in SOURCES])
def test_no_math_is_torn_apart(md, path: Path) -> None:
    found = [f"{where}: {problem}" for where, source in _markdown_blocks(path)
             for problem in _problems(md, source)]
    assert not found, (
        "Markdown that a reader sees as raw TeX (a line inside $...$ that starts with '- ', "
        "'+ ', '1. ' or '#' turns into a list or a heading; reflow the line):\n"
        + "\n".join(found)
    )


@pytest.mark.parametrize("source", [
    "Text $a = b\n- c$ and more.",
    "Text $a = b\n+ c$ and more.",
    "Text $a = b\n1. c$ and more.",
    "```{prf:theorem} T\n:label: t\n\nLet $u\n- v$ be.\n```",
    "A stray \\frac{1}{2} outside math.",
])
def test_the_check_sees_a_torn_formula(md, source: str) -> None:
    assert _problems(md, source), f"not caught: {source!r}"


@pytest.mark.parametrize("source", [
    "Text $a = b - c$ and $x +\ny$ with the sign at the end of the line.",
    "Text $a = b$\n\n- a list item with $c$",
    "$$\nx\n- y\n$$ (eq-test)",
    "Costs \\$5, and `$HOME` is code.",
    "```python\nprint('$')\n```",
])
def test_the_check_accepts_intact_markdown(md, source: str) -> None:
    assert not _problems(md, source), _problems(md, source)
