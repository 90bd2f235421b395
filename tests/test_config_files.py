"""The book's configuration files stay consistent with each other and with the repository."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))


def test_every_toc_entry_exists_and_every_chapter_is_listed() -> None:
    toc = _load("_toc.yml")
    files = [toc["root"]] + [ch["file"] for part in toc["parts"] for ch in part["chapters"]]
    for f in files:
        assert any((ROOT / f"{f}{ext}").exists() for ext in (".md", ".ipynb")), f
    notebooks = {str(p.relative_to(ROOT).with_suffix("")) for p in (ROOT / "book").glob("*.ipynb")}
    assert notebooks <= set(files), f"chapters missing from _toc.yml: {notebooks - set(files)}"


def test_execution_is_forced_with_a_timeout() -> None:
    execute = _load("_config.yml")["execute"]
    assert execute["execute_notebooks"] == "force"
    assert 120 <= execute["timeout"] <= 600

