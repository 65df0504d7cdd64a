from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.render_input_variables import RenderInputVariables


T = TypeVar("T", bound="RenderInput")


@_attrs_define
class RenderInput:
    """Variables for `POST /v1/templates/{id}/render`.

    Example:
        {'variables': {'domain': 'app.customer.example', 'image_url': 'ghcr.io/customer/app:v1.2.3', 'registry_server':
            'ghcr.io', 'registry_username': 'customer', 'servers': ['web-1', 'web-2'], 'service_name': 'customer-app'}}

    Attributes:
        variables (RenderInputVariables | Unset): Values of the template's `variables` (as `GET /v1/templates/{id}`
            lists them): each
            of its type, none unknown, every required one; defaults fill the others. Secret
            variables are never given here (their values go in a deployment's `secrets`).
    """

    variables: RenderInputVariables | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        variables: dict[str, Any] | Unset = UNSET
        if not isinstance(self.variables, Unset):
            variables = self.variables.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if variables is not UNSET:
            field_dict["variables"] = variables

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.render_input_variables import RenderInputVariables  # noqa: PLC0415

        d = dict(src_dict)
        _variables = d.pop("variables", UNSET)
        variables: RenderInputVariables | Unset
        if isinstance(_variables, Unset):
            variables = UNSET
        else:
            variables = RenderInputVariables.from_dict(_variables)

        render_input = cls(
            variables=variables,
        )

        return render_input
