from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="PageTemplateViewItemsItem")


@_attrs_define
class PageTemplateViewItemsItem:
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
    """

    app_type: str
    builtin: bool
    created_at: datetime.datetime
    description: str
    id: UUID
    name: str
    template: str
    updated_at: datetime.datetime
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
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        app_type = d.pop("app_type")

        builtin = d.pop("builtin")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        description = d.pop("description")

        id = UUID(d.pop("id"))

        name = d.pop("name")

        template = d.pop("template")

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        page_template_view_items_item = cls(
            app_type=app_type,
            builtin=builtin,
            created_at=created_at,
            description=description,
            id=id,
            name=name,
            template=template,
            updated_at=updated_at,
        )

        page_template_view_items_item.additional_properties = d
        return page_template_view_items_item

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
