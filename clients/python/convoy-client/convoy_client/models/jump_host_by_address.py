from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="JumpHostByAddress")


@_attrs_define
class JumpHostByAddress:
    """
    Attributes:
        host (str): The jump host's DNS name or address
        user (str): SSH user on the jump host
        host_key (str | Unset): The jump host's public key or fingerprint
        port (int | Unset): Default 22
    """

    host: str
    user: str
    host_key: str | Unset = UNSET
    port: int | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        host = self.host

        user = self.user

        host_key = self.host_key

        port = self.port

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "host": host,
                "user": user,
            }
        )
        if host_key is not UNSET:
            field_dict["host_key"] = host_key
        if port is not UNSET:
            field_dict["port"] = port

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        host = d.pop("host")

        user = d.pop("user")

        host_key = d.pop("host_key", UNSET)

        port = d.pop("port", UNSET)

        jump_host_by_address = cls(
            host=host,
            user=user,
            host_key=host_key,
            port=port,
        )

        return jump_host_by_address
