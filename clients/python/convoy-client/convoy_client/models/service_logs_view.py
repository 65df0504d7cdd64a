from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.container_line_view import ContainerLineView
    from ..models.log_source_error_view import LogSourceErrorView


T = TypeVar("T", bound="ServiceLogsView")


@_attrs_define
class ServiceLogsView:
    """The live containers' last lines, oldest first.

    Attributes:
        errors (list[LogSourceErrorView]): Containers whose output could not be read (host unreachable, container gone).
        lines (list[ContainerLineView]):
    """

    errors: list[LogSourceErrorView]
    lines: list[ContainerLineView]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        errors = []
        for errors_item_data in self.errors:
            errors_item = errors_item_data.to_dict()
            errors.append(errors_item)

        lines = []
        for lines_item_data in self.lines:
            lines_item = lines_item_data.to_dict()
            lines.append(lines_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "errors": errors,
                "lines": lines,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.container_line_view import ContainerLineView  # noqa: PLC0415
        from ..models.log_source_error_view import LogSourceErrorView  # noqa: PLC0415

        d = dict(src_dict)
        errors = []
        _errors = d.pop("errors")
        for errors_item_data in _errors:
            errors_item = LogSourceErrorView.from_dict(errors_item_data)

            errors.append(errors_item)

        lines = []
        _lines = d.pop("lines")
        for lines_item_data in _lines:
            lines_item = ContainerLineView.from_dict(lines_item_data)

            lines.append(lines_item)

        service_logs_view = cls(
            errors=errors,
            lines=lines,
        )

        service_logs_view.additional_properties = d
        return service_logs_view

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
