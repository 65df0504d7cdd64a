from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.variable_type import VariableType
from ..types import UNSET, Unset

T = TypeVar("T", bound="Declaration")


@_attrs_define
class Declaration:
    """A variable as a template declares it (a built-in's sidecar file, or the `variables`
    of `POST`/`PUT /v1/templates`).

        Attributes:
            name (str): `^[A-Za-z_][A-Za-z0-9_]*$`, at most 64 characters; a secret's name is a Kamal
                secret name (`^[A-Z_][A-Z0-9_]*$`).
            type_ (VariableType): The closed set of variable types; a form draws one input per type.
            default (Any | Unset): Used when the variable is not given; must be of the variable's type.
            description (str | Unset):
            required (bool | None | Unset): Default: true when there is no `default`. A variable with a default is optional.
            secret (bool | Unset): A Kamal secret the config names: its value goes in a deployment's `secrets`, never
                in `variables`. Type `string`, no default.
    """

    name: str
    type_: VariableType
    default: Any | Unset = UNSET
    description: str | Unset = UNSET
    required: bool | None | Unset = UNSET
    secret: bool | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        type_ = self.type_.value

        default = self.default

        description = self.description

        required: bool | None | Unset
        if isinstance(self.required, Unset):
            required = UNSET
        else:
            required = self.required

        secret = self.secret

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "type": type_,
            }
        )
        if default is not UNSET:
            field_dict["default"] = default
        if description is not UNSET:
            field_dict["description"] = description
        if required is not UNSET:
            field_dict["required"] = required
        if secret is not UNSET:
            field_dict["secret"] = secret

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        name = d.pop("name")

        type_ = VariableType(d.pop("type"))

        default = d.pop("default", UNSET)

        description = d.pop("description", UNSET)

        def _parse_required(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        required = _parse_required(d.pop("required", UNSET))

        secret = d.pop("secret", UNSET)

        declaration = cls(
            name=name,
            type_=type_,
            default=default,
            description=description,
            required=required,
            secret=secret,
        )

        return declaration
