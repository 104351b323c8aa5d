"""Command-line options derived from a query's model: a field's name, default and help are
the model's, so an option cannot drift from the query it fills (``--limit``, ``--since``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from projections.queries import Query

F = TypeVar("F", bound=Callable[..., Any])


def _option(query: type[Query], name: str) -> inspect.Parameter:
    field = query.model_fields[name]
    # Numbers are parsed by Click; every other value goes to the model as text, so the
    # model's rule, not a second one here, decides what is valid.
    kind: Any = int if field.annotation in (int, int | None) else str
    if field.is_required():
        kind = Annotated[kind, typer.Option(help=field.description)]
        default = inspect.Parameter.empty
    else:
        kind = Annotated[kind | None if field.default is None else kind,
                         typer.Option(help=field.description)]
        default = field.default
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind,
                             default=default)


def query_options(query: type[Query], *names: str) -> Callable[[F], F]:
    """Give a command the options of these fields of ``query``; the command receives them
    as keyword arguments under the fields' names."""
    def derive(command: F) -> F:
        own = inspect.signature(command, eval_str=True)
        kept = [p for p in own.parameters.values() if p.kind is not p.VAR_KEYWORD]
        command.__signature__ = own.replace(  # type: ignore[attr-defined]
            parameters=[*kept, *(_option(query, name) for name in names)])
        return command

    return derive
