from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define

T = TypeVar("T", bound="RegisteredJumpHost")


@_attrs_define
class RegisteredJumpHost:
    """
    Attributes:
        server_id (UUID): Another server of the org, itself reached directly
    """

    server_id: UUID

    def to_dict(self) -> dict[str, Any]:
        server_id = str(self.server_id)

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "server_id": server_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        server_id = UUID(d.pop("server_id"))

        registered_jump_host = cls(
            server_id=server_id,
        )

        return registered_jump_host
