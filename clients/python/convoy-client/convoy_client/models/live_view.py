from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="LiveView")


@_attrs_define
class LiveView:
    """The deployment live on one server and role.

    Attributes:
        deployment_id (UUID):
        role (str):
        server_id (UUID):
        server_name (str):
        since (datetime.datetime): When that deployment's target on this server and role ended (its switch).
        version (str):
    """

    deployment_id: UUID
    role: str
    server_id: UUID
    server_name: str
    since: datetime.datetime
    version: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        deployment_id = str(self.deployment_id)

        role = self.role

        server_id = str(self.server_id)

        server_name = self.server_name

        since = self.since.isoformat()

        version = self.version

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "deployment_id": deployment_id,
                "role": role,
                "server_id": server_id,
                "server_name": server_name,
                "since": since,
                "version": version,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        deployment_id = UUID(d.pop("deployment_id"))

        role = d.pop("role")

        server_id = UUID(d.pop("server_id"))

        server_name = d.pop("server_name")

        since = datetime.datetime.fromisoformat(d.pop("since"))

        version = d.pop("version")

        live_view = cls(
            deployment_id=deployment_id,
            role=role,
            server_id=server_id,
            server_name=server_name,
            since=since,
            version=version,
        )

        live_view.additional_properties = d
        return live_view

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
