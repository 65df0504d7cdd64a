from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="FoundContainer")


@_attrs_define
class FoundContainer:
    """Docker's view of a container's state, reduced to what drift needs.

    Attributes:
        image (str):
        name (str):
        role (str): The `role` label.
        state (str): `running`, `exited`, `created`, `restarting`, …
        status (str): Docker's status text (`Up 3 minutes (healthy)`, `Exited (0) 2 seconds ago`).
        health (None | str | Unset): `healthy`, `unhealthy`, `starting`, or null without a health check.
        version (None | str | Unset): From the name (`S-R[-D]-V`), as Kamal reads it; a container renamed aside
            (`…-V_replaced_HEX`) keeps its version.
    """

    image: str
    name: str
    role: str
    state: str
    status: str
    health: None | str | Unset = UNSET
    version: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        image = self.image

        name = self.name

        role = self.role

        state = self.state

        status = self.status

        health: None | str | Unset
        if isinstance(self.health, Unset):
            health = UNSET
        else:
            health = self.health

        version: None | str | Unset
        if isinstance(self.version, Unset):
            version = UNSET
        else:
            version = self.version

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "image": image,
                "name": name,
                "role": role,
                "state": state,
                "status": status,
            }
        )
        if health is not UNSET:
            field_dict["health"] = health
        if version is not UNSET:
            field_dict["version"] = version

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        image = d.pop("image")

        name = d.pop("name")

        role = d.pop("role")

        state = d.pop("state")

        status = d.pop("status")

        def _parse_health(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        health = _parse_health(d.pop("health", UNSET))

        def _parse_version(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        version = _parse_version(d.pop("version", UNSET))

        found_container = cls(
            image=image,
            name=name,
            role=role,
            state=state,
            status=status,
            health=health,
            version=version,
        )

        found_container.additional_properties = d
        return found_container

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
