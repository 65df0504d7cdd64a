from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="ProgressView")


@_attrs_define
class ProgressView:
    """How far a deployment got.

    Attributes:
        hosts_done (int): Servers whose every target has ended (succeeded, failed, cancelled or skipped).
        hosts_total (int): Servers among the targets.
        wave (int): The wave being deployed (1-based; 0 before the first).
        waves (int): How many waves the rollout has (0 until it is planned).
    """

    hosts_done: int
    hosts_total: int
    wave: int
    waves: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        hosts_done = self.hosts_done

        hosts_total = self.hosts_total

        wave = self.wave

        waves = self.waves

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "hosts_done": hosts_done,
                "hosts_total": hosts_total,
                "wave": wave,
                "waves": waves,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        hosts_done = d.pop("hosts_done")

        hosts_total = d.pop("hosts_total")

        wave = d.pop("wave")

        waves = d.pop("waves")

        progress_view = cls(
            hosts_done=hosts_done,
            hosts_total=hosts_total,
            wave=wave,
            waves=waves,
        )

        progress_view.additional_properties = d
        return progress_view

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
