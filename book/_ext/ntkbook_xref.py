"""Docstrings of ntkbook in the API reference: cross-references to re-exported names, and
mathematical prose that reStructuredText would misread.

Cross-references.
The API page documents every object once, in the module that defines it
(``ntkbook.kernels.analytic_ntk``), while docstrings refer to the names readers import
(``ntkbook.analytic_ntk``, ``ntkbook.influence.ihvp_decomposition``) or to a name of the
enclosing package (``ntk_loo_influence`` inside ``ntkbook.influence.koh_liang``). For a reference
Sphinx cannot resolve, this looks the name up in the package, from the current module outwards,
and points it at the defining module's entry. Anything it cannot resolve stays a warning.

Prose. The docstrings write mathematics in Unicode, where ``|x|`` is an absolute value, not a
reStructuredText substitution: bars outside literals, doctests and literal blocks are escaped.
A property's docstring that starts like ``Σ⁽ᴸ⁾: the covariance …`` is not given a type by
napoleon (which would read ``Σ⁽ᴸ⁾`` as one).
"""

from __future__ import annotations

import importlib
import inspect
import re

_LITERAL = re.compile(r"(``.*?``)")


def _lookup(dotted: str):
    parts = dotted.split(".")
    if parts[0] != "ntkbook":
        return None
    obj = importlib.import_module("ntkbook")
    for part in parts[1:]:
        if not hasattr(obj, part):
            return None
        obj = getattr(obj, part)
    return obj


def _canonical(obj) -> str | None:
    if inspect.ismodule(obj):
        return obj.__name__
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if module is None or qualname is None:
        return None
    return f"{module}.{qualname}"


def _candidates(target: str, module: str | None) -> list[str]:
    target = target.lstrip(".~")
    if target.startswith("ntkbook"):
        return [target]
    contexts = []
    while module:
        contexts.append(module)
        module = module.rpartition(".")[0]
    return [f"{context}.{target}" for context in contexts]


def resolve(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    domain = env.get_domain("py")
    for candidate in _candidates(node["reftarget"], node.get("py:module")):
        obj = _lookup(candidate)
        canonical = _canonical(obj) if obj is not None else None
        if canonical is None or canonical == node["reftarget"]:
            continue
        found = domain.resolve_any_xref(env, node["refdoc"], app.builder, canonical, node,
                                        contnode)
        if found:
            return found[0][1]
    return None


def _escape_bars(text: str) -> str:
    return "".join(part if part.startswith("``") else part.replace("|", "\\|")
                   for part in _LITERAL.split(text))


def escape_prose(app, what, name, obj, options, lines) -> None:
    block_indent = None  # indentation of the line that opened a literal block (``::``)
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if block_indent is not None:
            if not stripped or indent > block_indent:
                continue
            block_indent = None
        if stripped.startswith((">>>", "...")):
            continue
        lines[i] = _escape_bars(line)
        if stripped.endswith("::"):
            block_indent = indent


def untyped_properties(app, what, name, obj, options, lines) -> None:
    """Undo napoleon's reading of ``X: text`` at the start of a property docstring as a type."""
    if what != "property":
        return
    typed = [i for i, line in enumerate(lines) if line.startswith(":type: ")]
    if not typed:
        return
    text = lines.pop(typed[0])[len(":type: "):]
    first = next(i for i, line in enumerate(lines) if line.strip())
    lines[first] = f"{text}: {lines[first]}"


def setup(app):
    app.connect("missing-reference", resolve)
    # escape before napoleon (priority 500) turns the Google sections into fields; undo its
    # property types after it
    app.connect("autodoc-process-docstring", escape_prose, priority=400)
    app.connect("autodoc-process-docstring", untyped_properties, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
