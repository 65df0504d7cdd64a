from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.weekday import Weekday

T = TypeVar("T", bound="RecurringWindowView")


@_attrs_define
class RecurringWindowView:
    """A recurring deployment window: on each of `days`, from `start` to `end` in
    `time_zone`. An `end` not after `start` ends on the next day (22:00 to 02:00 belongs to
    the start's day; equal times are a whole day).

        Example:
            {'days': ['mon', 'tue', 'wed', 'thu'], 'end': '02:00', 'start': '22:00', 'time_zone': 'Europe/Berlin'}

        Attributes:
            days (list[Weekday]): `mon` … `sun`, each at most once, at least one.
            end (str): `HH:MM` or `HH:MM:SS`, 24-hour, local time; the window ends just before it.
            start (str): `HH:MM` or `HH:MM:SS`, 24-hour, local time.
            time_zone (str): IANA time zone name.
    """

    days: list[Weekday]
    end: str
    start: str
    time_zone: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        days = []
        for days_item_data in self.days:
            days_item = days_item_data.value
            days.append(days_item)

        end = self.end

        start = self.start

        time_zone = self.time_zone

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "days": days,
                "end": end,
                "start": start,
                "time_zone": time_zone,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        days = []
        _days = d.pop("days")
        for days_item_data in _days:
            days_item = Weekday(days_item_data)

            days.append(days_item)

        end = d.pop("end")

        start = d.pop("start")

        time_zone = d.pop("time_zone")

        recurring_window_view = cls(
            days=days,
            end=end,
            start=start,
            time_zone=time_zone,
        )

        recurring_window_view.additional_properties = d
        return recurring_window_view

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
