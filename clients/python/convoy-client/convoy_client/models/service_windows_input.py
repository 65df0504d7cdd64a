from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.recurring_window_view import RecurringWindowView


T = TypeVar("T", bound="ServiceWindowsInput")


@_attrs_define
class ServiceWindowsInput:
    """`PUT /v1/services/{service}/windows`: the new list, replacing the old (empty: none).

    Example:
        {'windows': [{'days': ['mon', 'tue', 'wed', 'thu'], 'end': '02:00', 'start': '22:00', 'time_zone':
            'Europe/Berlin'}, {'days': ['sat'], 'end': '12:00', 'start': '09:00', 'time_zone': 'UTC'}]}

    Attributes:
        windows (list[RecurringWindowView]): Errors at `windows/<i>/<key>` paths.
    """

    windows: list[RecurringWindowView]

    def to_dict(self) -> dict[str, Any]:
        windows = []
        for windows_item_data in self.windows:
            windows_item = windows_item_data.to_dict()
            windows.append(windows_item)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "windows": windows,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.recurring_window_view import RecurringWindowView  # noqa: PLC0415

        d = dict(src_dict)
        windows = []
        _windows = d.pop("windows")
        for windows_item_data in _windows:
            windows_item = RecurringWindowView.from_dict(windows_item_data)

            windows.append(windows_item)

        service_windows_input = cls(
            windows=windows,
        )

        return service_windows_input
