"""Griffe extension: fmtlib's docstrings, as mkdocstrings renders them on the API reference.

The docstrings are plain prose (no Args/Returns sections) with doctest examples and Sphinx
cross-reference roles, so that ``help()``, doctest and IDEs read them as they are. Markdown
would make every ``>>>`` a nested blockquote and print the roles raw, so before rendering
this extension rewrites each docstring's text (the source is unchanged):

- a doctest block (from a ``>>>`` line to the next blank line, as doctest reads it) becomes a
  fenced ``pycon`` code block, without ``# doctest:`` flags;
- ``:func:`name```, ``:class:`~pkg.Name``` and the other Python roles become an optional
  autorefs cross-reference: a link where the target is on the site, else plain code;
- a class attribute ``name = from_format("field", "doc")`` (fmtlib.codecs.element: a
  property forwarding to the format) gets that doc as its docstring and shows as a property.

mkdocs.yml loads it (``extensions: [docs/hooks/griffe_docstrings.py:FmtlibDocstrings]``).
The collector imports this file for its doctests without griffe installed.
"""
from __future__ import annotations

import ast
import re

try:
    from griffe import Extension
except ImportError:  # the docs extra is not installed: only the text functions are usable
    Extension = object

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|obj|exc|const|type):`(?P<target>[^`]+)`")
_FLAGS = re.compile(r"\s*#\s*doctest:\s*[+-]\w+(?:\s*,\s*[+-]\w+)*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def fence_doctests(text: str) -> str:
    r"""Wrap each doctest block of a docstring in a ``pycon`` code fence.

    A block starts at a ``>>>`` line outside a fence and ends before the next blank line; it
    keeps its indentation (a block inside a list item stays in the item).

    >>> fence_doctests("Squares.\n\n>>> 2 * 2  # doctest: +SKIP\n4\n\nDone.").split("\n")
    ['Squares.', '', '```pycon', '>>> 2 * 2', '4', '```', '', 'Done.']
    """
    out: list[str] = []
    in_fence = in_example = False
    indent = ""
    for line in text.split("\n"):
        if in_example:
            if line.strip():
                out.append(_FLAGS.sub("", line))
                continue
            out.append(indent + "```")
            in_example = False
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and line.lstrip().startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(indent + "```pycon")
            out.append(_FLAGS.sub("", line))
            in_example = True
            continue
        out.append(line)
    if in_example:
        out.append(indent + "```")
    return "\n".join(out)


def convert_roles(text: str, resolve=None) -> str:
    """Replace Sphinx roles by optional autorefs cross-references.

    ``resolve(name)`` gives the full path of a name as seen from the docstring's object (or
    None); ``~`` shows only the last part of the path, as in Sphinx.

    >>> convert_roles("See :func:`~fmtlib.recipes.lookup` and :class:`FP`.")
    'See <autoref identifier="fmtlib.recipes.lookup" optional><code>lookup</code></autoref> and <autoref identifier="FP" optional><code>FP</code></autoref>.'
    """
    def one(m: re.Match) -> str:
        target = m.group("target").strip()
        short = target.startswith("~")
        target = target.lstrip("~.")
        title = target.rsplit(".", 1)[-1] if short else target
        path = (resolve(target) if resolve else None) or target
        return f'<autoref identifier="{path}" optional><code>{title}</code></autoref>'

    return _ROLE.sub(one, text)


def _resolver(obj):
    """A function giving the full path of a name in ``obj``'s scope (griffe looks in the
    object, then its parents and their imports), or None."""
    def resolve(name: str):
        head, dot, rest = name.partition(".")
        try:
            return obj.resolve(head) + dot + rest
        except Exception:  # noqa: BLE001 - griffe's NameResolutionError or an alias error
            return None

    return resolve


def forwarded_doc(value) -> str | None:
    """The docstring of ``from_format("field", "doc")`` (griffe's expression of the attribute's
    value), or None for any other value.

    >>> forwarded_doc("from_format('max', 'Largest finite value.')"), forwarded_doc("3")
    ('Largest finite value.', None)
    """
    try:
        call = ast.parse(str(value), mode="eval").body
    except SyntaxError:
        return None
    if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "from_format"
            and len(call.args) == 2 and isinstance(call.args[1], ast.Constant) and isinstance(call.args[1].value, str)):
        return call.args[1].value
    return None


class FmtlibDocstrings(Extension):
    """Rewrites the docstrings of every object of a loaded package (see the module docstring)."""

    def on_package(self, *, pkg, **kwargs) -> None:
        seen: set[int] = set()
        stack = [pkg]
        while stack:
            obj = stack.pop()
            if obj.is_alias or id(obj) in seen:
                continue
            seen.add(id(obj))
            if obj.is_attribute and obj.docstring is None and (doc := forwarded_doc(obj.value)) is not None:
                from griffe import Docstring

                obj.docstring = Docstring(doc, parent=obj)
                obj.labels = {"property"}
                obj.value = None            # the heading shows ``max``, not the from_format call
            if obj.docstring is not None:
                obj.docstring.value = convert_roles(fence_doctests(obj.docstring.value), _resolver(obj))
            stack.extend(m for m in obj.members.values() if not m.is_alias)
