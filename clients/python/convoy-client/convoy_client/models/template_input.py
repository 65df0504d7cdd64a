from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.app_type import AppType
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.declaration import Declaration


T = TypeVar("T", bound="TemplateInput")


@_attrs_define
class TemplateInput:
    """An org's own Kamal config template (handlebars producing deploy.yml).

    Example:
        {'app_type': 'rails', 'description': 'Rails behind the proxy on one host', 'name': 'small-rails', 'template':
            'service: {{service_name}}\\nimage: {{image}}\\nservers:\\n  web:\\n    - {{server}}\\n', 'variables':
            [{'description': 'Service name', 'name': 'service_name', 'type': 'string'}, {'default':
            'ghcr.io/acme/app:latest', 'name': 'image', 'type': 'string'}, {'description': 'The server to deploy to',
            'name': 'server', 'type': 'host'}]}

    Attributes:
        app_type (AppType): The kind of app a template deploys.
        name (str): Unique within the org (`^[a-z0-9][a-z0-9-]*$`, at most 63).
        template (str): Handlebars source of a Kamal `deploy.yml`.
        description (str | Unset):
        variables (list[Declaration] | None | Unset): The variables the template uses, each declared once, none unused.
            Left out: inferred
            from the source (each `string` and required; `list` when `{{#each}}` iterates it,
            `map` when the loop reads `{{@key}}`, `boolean` when only `{{#if}}` tests it).
    """

    app_type: AppType
    name: str
    template: str
    description: str | Unset = UNSET
    variables: list[Declaration] | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        app_type = self.app_type.value

        name = self.name

        template = self.template

        description = self.description

        variables: list[dict[str, Any]] | None | Unset
        if isinstance(self.variables, Unset):
            variables = UNSET
        elif isinstance(self.variables, list):
            variables = []
            for variables_type_0_item_data in self.variables:
                variables_type_0_item = variables_type_0_item_data.to_dict()
                variables.append(variables_type_0_item)

        else:
            variables = self.variables

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
        if variables is not UNSET:
            field_dict["variables"] = variables

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.declaration import Declaration  # noqa: PLC0415

        d = dict(src_dict)
        app_type = AppType(d.pop("app_type"))

        name = d.pop("name")

        template = d.pop("template")

        description = d.pop("description", UNSET)

        def _parse_variables(data: object) -> list[Declaration] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                variables_type_0 = []
                _variables_type_0 = data
                for variables_type_0_item_data in _variables_type_0:
                    variables_type_0_item = Declaration.from_dict(variables_type_0_item_data)

                    variables_type_0.append(variables_type_0_item)

                return variables_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[Declaration] | None | Unset, data)

        variables = _parse_variables(d.pop("variables", UNSET))

        template_input = cls(
            app_type=app_type,
            name=name,
            template=template,
            description=description,
            variables=variables,
        )

        return template_input
