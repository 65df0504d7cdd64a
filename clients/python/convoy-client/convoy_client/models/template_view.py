from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.variable import Variable


T = TypeVar("T", bound="TemplateView")


@_attrs_define
class TemplateView:
    """
    Attributes:
        app_type (str):
        builtin (bool): Built-ins ship with Convoy and are read-only.
        created_at (datetime.datetime):
        description (str):
        id (UUID):
        name (str):
        template (str):
        updated_at (datetime.datetime):
        variables (list[Variable]): What a render takes: `variables` of `POST /v1/templates/{id}/render` and of a
            deployment made from the template (secret ones go in its `secrets`).
    """

    app_type: str
    builtin: bool
    created_at: datetime.datetime
    description: str
    id: UUID
    name: str
    template: str
    updated_at: datetime.datetime
    variables: list[Variable]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        app_type = self.app_type

        builtin = self.builtin

        created_at = self.created_at.isoformat()

        description = self.description

        id = str(self.id)

        name = self.name

        template = self.template

        updated_at = self.updated_at.isoformat()

        variables = []
        for variables_item_data in self.variables:
            variables_item = variables_item_data.to_dict()
            variables.append(variables_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "app_type": app_type,
                "builtin": builtin,
                "created_at": created_at,
                "description": description,
                "id": id,
                "name": name,
                "template": template,
                "updated_at": updated_at,
                "variables": variables,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.variable import Variable  # noqa: PLC0415

        d = dict(src_dict)
        app_type = d.pop("app_type")

        builtin = d.pop("builtin")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        description = d.pop("description")

        id = UUID(d.pop("id"))

        name = d.pop("name")

        template = d.pop("template")

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        variables = []
        _variables = d.pop("variables")
        for variables_item_data in _variables:
            variables_item = Variable.from_dict(variables_item_data)

            variables.append(variables_item)

        template_view = cls(
            app_type=app_type,
            builtin=builtin,
            created_at=created_at,
            description=description,
            id=id,
            name=name,
            template=template,
            updated_at=updated_at,
            variables=variables,
        )

        template_view.additional_properties = d
        return template_view

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
