from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.gate_view import GateView
    from ..models.wave_view import WaveView


T = TypeVar("T", bound="RolloutView")


@_attrs_define
class RolloutView:
    """Waves in order, and the gates between and after them.

    Example:
        {'gates': [{'after_wave': 0, 'kind': 'bake', 'promotion': 'manual', 'seconds': 300}, {'after_wave': 0, 'kind':
            'wait', 'seconds': 30}, {'after_wave': 1, 'kind': 'wait', 'seconds': 30}, {'after_wave': 2, 'kind': 'monitor',
            'seconds': 600}], 'max_failed_hosts': 0, 'waves': [{'canary': True, 'group': None, 'hosts': ['web-1'], 'index':
            0}, {'canary': False, 'group': 'eu', 'hosts': ['web-2', 'web-3'], 'index': 1}, {'canary': False, 'group': 'us',
            'hosts': ['web-4'], 'index': 2}]}

    Attributes:
        gates (list[GateView]): In the order they happen.
        max_failed_hosts (int): Hosts that may fail before the failure policy fires (`max_failed_hosts`, resolved).
        waves (list[WaveView]):
    """

    gates: list[GateView]
    max_failed_hosts: int
    waves: list[WaveView]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        gates = []
        for gates_item_data in self.gates:
            gates_item = gates_item_data.to_dict()
            gates.append(gates_item)

        max_failed_hosts = self.max_failed_hosts

        waves = []
        for waves_item_data in self.waves:
            waves_item = waves_item_data.to_dict()
            waves.append(waves_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "gates": gates,
                "max_failed_hosts": max_failed_hosts,
                "waves": waves,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.gate_view import GateView  # noqa: PLC0415
        from ..models.wave_view import WaveView  # noqa: PLC0415

        d = dict(src_dict)
        gates = []
        _gates = d.pop("gates")
        for gates_item_data in _gates:
            gates_item = GateView.from_dict(gates_item_data)

            gates.append(gates_item)

        max_failed_hosts = d.pop("max_failed_hosts")

        waves = []
        _waves = d.pop("waves")
        for waves_item_data in _waves:
            waves_item = WaveView.from_dict(waves_item_data)

            waves.append(waves_item)

        rollout_view = cls(
            gates=gates,
            max_failed_hosts=max_failed_hosts,
            waves=waves,
        )

        rollout_view.additional_properties = d
        return rollout_view

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
