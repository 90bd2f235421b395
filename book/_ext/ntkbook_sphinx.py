"""Two fixes to how the book renders, loaded as a local Sphinx extension by ``_config.yml``.

* Citations: the bibliography is labelled like the text cites, "Du et al., 2019a" — author and
  year, with the letter that ``book/references.bib`` puts in the year of works that share
  authors and year — instead of pybtex's "[DLL+19]", which matches nothing in the text.
* Scripts: Sphinx 7 emits an inline script that an extension adds after the builder started
  twice; sphinx-thebe's ``const THEBE_JS_URL = ...`` then throws "Identifier has already been
  declared" on every page. Repeated scripts are dropped from each page.
"""

from __future__ import annotations

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def _last_name(person) -> str:
    return Text.from_latex(" ".join(person.prelast_names + person.last_names)).render_as("text")


class AuthorYearLabelStyle(BaseLabelStyle):
    """Labels "Neal, 1996", "Byrd and Lipton, 2019", "Du et al., 2019a"."""

    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            persons = entry.persons.get("author") or entry.persons.get("editor") or []
            if len(persons) == 1:
                names = _last_name(persons[0])
            elif len(persons) == 2:
                names = f"{_last_name(persons[0])} and {_last_name(persons[1])}"
            elif persons:
                names = f"{_last_name(persons[0])} et al."
            else:
                names = entry.key
            yield f"{names}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearStyle(PlainStyle):
    """pybtex's plain style (sorted by author, year and title) with author-year labels."""

    default_label_style = "ntkbook_author_year"


register_plugin("pybtex.style.labels", "ntkbook_author_year", AuthorYearLabelStyle)
register_plugin("pybtex.style.formatting", "ntkbook_author_year", AuthorYearStyle)


def _drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        attributes = getattr(script, "attributes", {})
        # the same inline script is registered once with filename None and once with ''
        key = (str(getattr(script, "filename", script) or ""), tuple(sorted(attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app):
    app.connect("html-page-context", _drop_repeated_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
