from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="DeploymentInputStrategyType0")


@_attrs_define
class DeploymentInputStrategyType0:
    """Rollout strategy (SPEC §9), stored with the deployment. Keys: `max_parallel` (count or `"25%"`, rounded up),
    `wave_wait_seconds`, `group_by` (a server label) with `order` (its values; default
    alphabetical), `canary` `{hosts, bake_seconds, promotion: auto|manual, traffic_percent}`
    (`traffic_percent` 1–99: during the bake only that share of each canary host's
    clients reach the new version, by the proxy's sticky `kamal-rollout` cookie),
    `min_healthy_seconds`, `max_failed_hosts`, `monitor_seconds`, `blue_green`,
    `require_deployed`, `window` `{not_before, not_after}` (RFC 3339; a future
    `not_before` makes the deployment `scheduled`; no wave starts after `not_after`
    unless inside one of the service's recurring windows). Errors at `strategy/…` paths.

    """

    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        deployment_input_strategy_type_0 = cls()

        deployment_input_strategy_type_0.additional_properties = d
        return deployment_input_strategy_type_0

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
