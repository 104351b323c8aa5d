"""What ``/openapi.json`` shows for a command's profile and change set.

The body is validated as a plain object and then by the domain (``validate_profile``,
``validate_changes``), which stay the one rule: they know the policy's mandatory fields and
report every problem in the ledger's terms. The schema a caller reads is derived from the
same domain models, so it names every group and field and cannot drift from them.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler, create_model
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from ledger.domain.profile import CHANGEABLE_PATHS, CustomerProfile


class DocumentedAs:
    """Annotation: validate as the annotated type, document as ``model``."""

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return handler(self.model.__pydantic_core_schema__)


def _model_in(annotation: Any) -> type[BaseModel]:
    # A group's annotation is its model, or its model or None (``credit``).
    if get_origin(annotation) in (Union, types.UnionType):
        return next(arg for arg in get_args(annotation)
                    if isinstance(arg, type) and issubclass(arg, BaseModel))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    raise TypeError(f"not a profile group: {annotation!r}")


def _type_at(path: str) -> Any:
    """The type the profile gives the value at ``path`` (its bounds included)."""
    group, _, name = path.rpartition(".")
    model = _model_in(CustomerProfile.model_fields[group].annotation) if group else (
        CustomerProfile)
    field = model.model_fields[name]
    return Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation


_CHANGEABLE: dict[str, Any] = {
    path.replace(".", "__"): (_type_at(path), Field(default=None, alias=path))
    for path in sorted(CHANGEABLE_PATHS)}

ChangeSet = create_model(
    "ChangeSet",
    __config__=ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1}),
    __doc__="New values by field path (``basic.email``, ``contacts``, ...): any fields a "
            "proposal may set, at least one; each holds what the profile holds there.",
    **_CHANGEABLE,
)

ProfileBody = Annotated[dict[str, Any], DocumentedAs(CustomerProfile)]
ChangeSetBody = Annotated[dict[str, Any], DocumentedAs(ChangeSet)]
