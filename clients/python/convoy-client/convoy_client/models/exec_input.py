from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="ExecInput")


@_attrs_define
class ExecInput:
    """A one-off command in a new container of the live version (`kamal app exec`).

    Example:
        {'command': ['bin/rails', 'db:migrate'], 'role': 'web'}

    Attributes:
        command (list[str]): The argv: each word is passed as is (quoted for the remote shell).
        destination (None | str | Unset): Kamal destination; empty or absent for none.
        host (None | str | Unset): The server to run on; by default the first (by name) the role is live on.
        role (None | str | Unset): The role whose env, options and image it runs with; by default the primary role.
    """

    command: list[str]
    destination: None | str | Unset = UNSET
    host: None | str | Unset = UNSET
    role: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        command = self.command

        destination: None | str | Unset
        if isinstance(self.destination, Unset):
            destination = UNSET
        else:
            destination = self.destination

        host: None | str | Unset
        if isinstance(self.host, Unset):
            host = UNSET
        else:
            host = self.host

        role: None | str | Unset
        if isinstance(self.role, Unset):
            role = UNSET
        else:
            role = self.role

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "command": command,
            }
        )
        if destination is not UNSET:
            field_dict["destination"] = destination
        if host is not UNSET:
            field_dict["host"] = host
        if role is not UNSET:
            field_dict["role"] = role

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        command = cast(list[str], d.pop("command"))

        def _parse_destination(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        destination = _parse_destination(d.pop("destination", UNSET))

        def _parse_host(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        host = _parse_host(d.pop("host", UNSET))

        def _parse_role(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        role = _parse_role(d.pop("role", UNSET))

        exec_input = cls(
            command=command,
            destination=destination,
            host=host,
            role=role,
        )

        return exec_input
