"""The API reference page (book/api.md) documents every public module of the package."""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import yaml

import ntkbook

ROOT = Path(__file__).resolve().parents[1]


def public_modules() -> list[str]:
    names = ["ntkbook"]
    for info in pkgutil.walk_packages(ntkbook.__path__, "ntkbook."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def test_every_public_module_is_on_the_api_page() -> None:
    page = (ROOT / "book" / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\.\. automodule:: (\S+)$", page, re.MULTILINE))
    missing = sorted(set(public_modules()) - documented)
    assert not missing, f"modules missing from book/api.md: {missing}"
    assert documented <= set(public_modules()), documented - set(public_modules())


def test_the_api_page_is_built_with_autodoc() -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    extensions = config["sphinx"]["extra_extensions"]
    assert {"sphinx.ext.autodoc", "sphinx.ext.napoleon"} <= set(extensions)
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    appendix = [ch["file"] for part in toc["parts"] if part["caption"] == "Appendix"
                for ch in part["chapters"]]
    assert "book/api" in appendix
