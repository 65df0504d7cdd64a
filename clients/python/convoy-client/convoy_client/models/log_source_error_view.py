from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="LogSourceErrorView")


@_attrs_define
class LogSourceErrorView:
    """
    Attributes:
        container (str):
        error (str):
        role (str):
        server_name (str):
    """

    container: str
    error: str
    role: str
    server_name: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        container = self.container

        error = self.error

        role = self.role

        server_name = self.server_name

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "container": container,
                "error": error,
                "role": role,
                "server_name": server_name,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        container = d.pop("container")

        error = d.pop("error")

        role = d.pop("role")

        server_name = d.pop("server_name")

        log_source_error_view = cls(
            container=container,
            error=error,
            role=role,
            server_name=server_name,
        )

        log_source_error_view.additional_properties = d
        return log_source_error_view

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
