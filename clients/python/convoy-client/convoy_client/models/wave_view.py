from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="WaveView")


@_attrs_define
class WaveView:
    """Hosts deployed at the same time.

    Attributes:
        canary (bool): The canary wave, watched for `bake_seconds` before the rollout goes on.
        hosts (list[str]): Hosts as the config names them; the primary host is always in the first wave.
        index (int):
        group (None | str | Unset): The `group_by` label value these hosts share.
    """

    canary: bool
    hosts: list[str]
    index: int
    group: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        canary = self.canary

        hosts = self.hosts

        index = self.index

        group: None | str | Unset
        if isinstance(self.group, Unset):
            group = UNSET
        else:
            group = self.group

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "canary": canary,
                "hosts": hosts,
                "index": index,
            }
        )
        if group is not UNSET:
            field_dict["group"] = group

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        canary = d.pop("canary")

        hosts = cast(list[str], d.pop("hosts"))

        index = d.pop("index")

        def _parse_group(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        group = _parse_group(d.pop("group", UNSET))

        wave_view = cls(
            canary=canary,
            hosts=hosts,
            index=index,
            group=group,
        )

        wave_view.additional_properties = d
        return wave_view

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
