from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.render_view_config import RenderViewConfig


T = TypeVar("T", bound="RenderView")


@_attrs_define
class RenderView:
    """A rendered template.

    Attributes:
        config (RenderViewConfig): The config as Convoy reads it: defaults filled, roles expanded.
        config_yaml (str): The Kamal `deploy.yml` the template produced.
    """

    config: RenderViewConfig
    config_yaml: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        config = self.config.to_dict()

        config_yaml = self.config_yaml

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "config": config,
                "config_yaml": config_yaml,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.render_view_config import RenderViewConfig  # noqa: PLC0415

        d = dict(src_dict)
        config = RenderViewConfig.from_dict(d.pop("config"))

        config_yaml = d.pop("config_yaml")

        render_view = cls(
            config=config,
            config_yaml=config_yaml,
        )

        render_view.additional_properties = d
        return render_view

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
