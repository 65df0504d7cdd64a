from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="TemplateInput")


@_attrs_define
class TemplateInput:
    """An org's own Kamal config template (handlebars producing deploy.yml).

    Example:
        {'app_type': 'rails', 'description': 'Rails behind the proxy on one host', 'name': 'small-rails', 'template':
            'service: {{service_name}}\\nimage: {{image}}\\nservers:\\n  web:\\n    - {{server}}\\n'}

    Attributes:
        app_type (str): One of rails, nextjs, postgres, redis, mysql, worker, generic.
        name (str): Unique within the org (`^[a-z0-9][a-z0-9-]*$`, at most 63).
        template (str): Handlebars source of a Kamal `deploy.yml`.
        description (str | Unset):
    """

    app_type: str
    name: str
    template: str
    description: str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        app_type = self.app_type

        name = self.name

        template = self.template

        description = self.description

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "app_type": app_type,
                "name": name,
                "template": template,
            }
        )
        if description is not UNSET:
            field_dict["description"] = description

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        app_type = d.pop("app_type")

        name = d.pop("name")

        template = d.pop("template")

        description = d.pop("description", UNSET)

        template_input = cls(
            app_type=app_type,
            name=name,
            template=template,
            description=description,
        )

        return template_input
