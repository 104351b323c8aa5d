"""What the completeness tests read: every user-facing English template in the source, found
by a scan of its syntax tree, and every place that shows a person a text not in the
catalogue (an f-string or a concatenation where a template with parameters belongs).

The scan knows the ledger's ways of saying something to a person:

- a marked template: ``N_("...")``, ``message("...", ...)``, ``Message("...", ...)``,
  ``tr("...")`` (the command line's own texts);
- an error's message: the first argument of a ledger error class (``raise XError("...")``,
  ``denial = XError("...")``, ``super().__init__("...")`` in an error class; the second of
  ``ValidationFailedError(problems, "...")``), and the
  ``ValueError``s of the domain's validators (pydantic reports their text);
- a problem's message: the second argument of ``Problem(field, "...")``;
- a table's headings: the arguments of ``table("...", ...)`` (its ``title=`` must be a
  marked template too);
- why a backup is invalid: the last argument of ``invalid(...)`` (``ledger.backup``).

Each of these given a name that its function bound to a text built in place counts as that
text.

A literal or a text built in place that the command line prints (``out.print``, ``note``,
a table's ``add_row`` or ``title``, also as one branch of ``a or "never"`` or of
``"yes" if x else "no"``) is not in the catalogue: it is printed in English whatever the
language, so the scan reports it (a value from the data is a name, never a literal).

Run ``python -m tests.catalogue`` to print the templates the Chinese catalogue lacks, as
PO entries to translate and add to ``src/ledger/locale/zh_CN/LC_MESSAGES/ledger.po``.
"""

from __future__ import annotations

import ast
import builtins
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src"
CATALOGUE = SOURCE / "ledger" / "locale" / "zh_CN" / "LC_MESSAGES" / "ledger.po"
MARKERS = {"N_", "message", "Message", "tr"}
# Where a validator's ValueError becomes a problem's message (pydantic reports its text).
VALIDATOR_PACKAGES = ("ledger/domain/", "commands/", "projections/")
_BUILTIN_ERRORS = {name for name in dir(builtins) if name.endswith("Error")}
# Where the command line prints to a person (a table's row labels too, and the text given
# to Rich's ``Text`` or the ``literal`` that wraps a printed value).
PRINTERS = {"print", "note", "echo", "secho", "add_row", "literal", "Text", "assemble"}


@dataclass(frozen=True)
class Site:
    path: str
    line: int
    text: str


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _built(node: ast.expr) -> bool:
    """A text put together in place: an f-string with values, or a concatenation."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    return isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod) and (
        _built(node.left) or _literal(node.left) is not None
        or _built(node.right) or _literal(node.right) is not None)


def _worded(node: ast.expr) -> bool:
    """A text with words of its own (not "-", not "{a} / {b}" of values alone)."""
    if isinstance(node, ast.JoinedStr):
        return any(_worded(part) for part in node.values if isinstance(part, ast.Constant))
    if isinstance(node, ast.BinOp):
        return _worded(node.left) or _worded(node.right)
    text = _literal(node)
    return text is not None and any(character.isalpha() for character in text)


def _branches(node: ast.expr) -> list[ast.expr]:
    """The values an expression may print: each side of ``a or b`` and ``x if c else y``."""
    if isinstance(node, ast.BoolOp):
        return [leaf for value in node.values for leaf in _branches(value)]
    if isinstance(node, ast.IfExp):
        return _branches(node.body) + _branches(node.orelse)
    return [node]


def _error_class(name: str, path: str) -> bool:
    if name == "ValueError":
        return path.startswith(VALIDATOR_PACKAGES)
    return name.endswith("Error") and name not in _BUILTIN_ERRORS


class _Scan(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.templates: list[Site] = []
        self.unmarked: list[Site] = []
        self.classes: list[str] = []
        # Per function being scanned: its names bound to a text built in place
        # (``refused = f"..."`` and then ``raise XError(refused)``).
        self.built: list[dict[str, ast.expr]] = []

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.classes.append(node.name)
        self.generic_visit(node)
        self.classes.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.built.append({target.id: assigned.value for assigned in ast.walk(node)
                           if isinstance(assigned, ast.Assign) and _built(assigned.value)
                           for target in assigned.targets if isinstance(target, ast.Name)})
        self.generic_visit(node)
        self.built.pop()

    visit_AsyncFunctionDef = visit_FunctionDef  # noqa: N815 - ast.NodeVisitor's own name

    def _texts(self, nodes: list[ast.expr], line: int) -> None:
        for node in nodes:
            text = _literal(node)
            if isinstance(node, ast.Name) and self.built and node.id in self.built[-1]:
                node = self.built[-1][node.id]
            if text is not None and text.strip():
                self.templates.append(Site(self.path, line, text))
            elif _built(node):
                self.unmarked.append(Site(self.path, line, ast.unparse(node)[:80]))

    def visit_Call(self, node: ast.Call) -> None:
        name = _name(node.func)
        arguments = list(node.args)
        if name in MARKERS and arguments:
            self._texts(arguments[:1], node.lineno)
        elif name == "Problem" and len(arguments) > 1:
            self._texts(arguments[1:2], node.lineno)
        elif name == "table":
            self._texts(arguments, node.lineno)
            # its title is the command line's words too (through ``tr``), never built here
            self.unmarked += [Site(self.path, node.lineno, ast.unparse(k.value)[:80])
                              for k in node.keywords if k.arg == "title"
                              for a in _branches(k.value)
                              if (_built(a) or _literal(a) is not None) and _worded(a)]
        elif name == "invalid" and arguments:
            # A backup check's refusal: invalid(backup_id, file, "why") or invalid("why").
            self._texts(arguments[-1:], node.lineno)
        elif _error_class(name, self.path) and arguments:
            # ValidationFailedError(problems, message): its message comes second.
            self._texts(arguments[1:2] if name == "ValidationFailedError" else arguments[:1],
                        node.lineno)
            message = next((k.value for k in node.keywords if k.arg == "message"), None)
            if message is not None:
                self._texts([message], node.lineno)
        elif name == "__init__" and self.classes and self.classes[-1].endswith("Error"):
            self._texts(arguments[:1], node.lineno)
        elif name in PRINTERS and self.path.startswith("service/cli/"):
            # The command line's own words go through ``tr``; a literal or a text built in
            # place is printed in English whatever the language, also as one branch of a
            # choice (``value or "never"``, ``"yes" if done else "no"``).
            self.unmarked += [Site(self.path, node.lineno, ast.unparse(a)[:80])
                              for argument in arguments for a in _branches(argument)
                              if (_built(a) or _literal(a) is not None) and _worded(a)]
        self.generic_visit(node)


def scan(root: Path = SOURCE) -> tuple[list[Site], list[Site]]:
    """Every template (``msgid``) in the source, and every site that builds a user-facing
    text in place instead."""
    templates: list[Site] = []
    unmarked: list[Site] = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        visitor = _Scan(relative)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), relative))
        templates += visitor.templates
        unmarked += visitor.unmarked
    return templates, unmarked


def po_entries(texts: Iterator[str] | list[str]) -> str:
    """PO entries with empty translations, for ``texts``."""
    def quoted(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    return "".join(f"\n#, python-brace-format\nmsgid {quoted(t)}\nmsgstr \"\"\n"
                   if "{" in t else f"\nmsgid {quoted(t)}\nmsgstr \"\"\n" for t in texts)


if __name__ == "__main__":
    sys.path.insert(0, str(SOURCE))
    from ledger.i18n import CHINESE, catalogue

    known = catalogue(CHINESE)
    found, _ = scan()
    missing = [t for t in dict.fromkeys(site.text for site in found) if not known.get(t)]
    sys.stdout.write(po_entries(missing))
