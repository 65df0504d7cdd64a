from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.server_view_ssh_proxy_type_0 import ServerViewSshProxyType0


T = TypeVar("T", bound="ServerView")


@_attrs_define
class ServerView:
    """
    Attributes:
        created_at (datetime.datetime):
        hostname (str):
        id (UUID):
        labels (Any):
        name (str):
        port (int):
        ssh_user (str):
        updated_at (datetime.datetime):
        host_key_fingerprint (None | str | Unset): `SHA256:…` of the pinned host key; null until first contact.
        ssh_proxy (None | ServerViewSshProxyType0 | Unset): The jump host (`{"server_id"}` or `{"user", "host", "port",
            "host_key"}`, the key
            as its `SHA256:…` fingerprint once known); null when reached directly.
    """

    created_at: datetime.datetime
    hostname: str
    id: UUID
    labels: Any
    name: str
    port: int
    ssh_user: str
    updated_at: datetime.datetime
    host_key_fingerprint: None | str | Unset = UNSET
    ssh_proxy: None | ServerViewSshProxyType0 | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.server_view_ssh_proxy_type_0 import ServerViewSshProxyType0  # noqa: PLC0415

        created_at = self.created_at.isoformat()

        hostname = self.hostname

        id = str(self.id)

        labels = self.labels

        name = self.name

        port = self.port

        ssh_user = self.ssh_user

        updated_at = self.updated_at.isoformat()

        host_key_fingerprint: None | str | Unset
        if isinstance(self.host_key_fingerprint, Unset):
            host_key_fingerprint = UNSET
        else:
            host_key_fingerprint = self.host_key_fingerprint

        ssh_proxy: dict[str, Any] | None | Unset
        if isinstance(self.ssh_proxy, Unset):
            ssh_proxy = UNSET
        elif isinstance(self.ssh_proxy, ServerViewSshProxyType0):
            ssh_proxy = self.ssh_proxy.to_dict()
        else:
            ssh_proxy = self.ssh_proxy

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "hostname": hostname,
                "id": id,
                "labels": labels,
                "name": name,
                "port": port,
                "ssh_user": ssh_user,
                "updated_at": updated_at,
            }
        )
        if host_key_fingerprint is not UNSET:
            field_dict["host_key_fingerprint"] = host_key_fingerprint
        if ssh_proxy is not UNSET:
            field_dict["ssh_proxy"] = ssh_proxy

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.server_view_ssh_proxy_type_0 import ServerViewSshProxyType0  # noqa: PLC0415

        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        hostname = d.pop("hostname")

        id = UUID(d.pop("id"))

        labels = d.pop("labels")

        name = d.pop("name")

        port = d.pop("port")

        ssh_user = d.pop("ssh_user")

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        def _parse_host_key_fingerprint(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        host_key_fingerprint = _parse_host_key_fingerprint(d.pop("host_key_fingerprint", UNSET))

        def _parse_ssh_proxy(data: object) -> None | ServerViewSshProxyType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                ssh_proxy_type_0 = ServerViewSshProxyType0.from_dict(data)

                return ssh_proxy_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ServerViewSshProxyType0 | Unset, data)

        ssh_proxy = _parse_ssh_proxy(d.pop("ssh_proxy", UNSET))

        server_view = cls(
            created_at=created_at,
            hostname=hostname,
            id=id,
            labels=labels,
            name=name,
            port=port,
            ssh_user=ssh_user,
            updated_at=updated_at,
            host_key_fingerprint=host_key_fingerprint,
            ssh_proxy=ssh_proxy,
        )

        server_view.additional_properties = d
        return server_view

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
