from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="ContainerLineView")


@_attrs_define
class ContainerLineView:
    """One line a container printed, the live deployment's secret values blanked
    (`[REDACTED]`).

        Attributes:
            container (str):
            line (str):
            role (str):
            server_name (str):
            stream (str): `stdout` or `stderr`.
            time (datetime.datetime | None | Unset): When Docker received it.
    """

    container: str
    line: str
    role: str
    server_name: str
    stream: str
    time: datetime.datetime | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        container = self.container

        line = self.line

        role = self.role

        server_name = self.server_name

        stream = self.stream

        time: None | str | Unset
        if isinstance(self.time, Unset):
            time = UNSET
        elif isinstance(self.time, datetime.datetime):
            time = self.time.isoformat()
        else:
            time = self.time

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "container": container,
                "line": line,
                "role": role,
                "server_name": server_name,
                "stream": stream,
            }
        )
        if time is not UNSET:
            field_dict["time"] = time

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        container = d.pop("container")

        line = d.pop("line")

        role = d.pop("role")

        server_name = d.pop("server_name")

        stream = d.pop("stream")

        def _parse_time(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                time_type_0 = datetime.datetime.fromisoformat(data)

                return time_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        time = _parse_time(d.pop("time", UNSET))

        container_line_view = cls(
            container=container,
            line=line,
            role=role,
            server_name=server_name,
            stream=stream,
            time=time,
        )

        container_line_view.additional_properties = d
        return container_line_view

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
