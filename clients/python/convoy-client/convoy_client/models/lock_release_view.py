from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="LockReleaseView")


@_attrs_define
class LockReleaseView:
    """What `DELETE /v1/services/{service}/lock` removed.

    Attributes:
        destination (str): Empty when none.
        released_database (bool): A database lock row was there and is gone.
        released_host (bool): A lock directory was there on the primary host and is gone.
        service (str):
        host_error (None | str | Unset): Why the on-host lock could not be released (unknown server, SSH failure).
    """

    destination: str
    released_database: bool
    released_host: bool
    service: str
    host_error: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        destination = self.destination

        released_database = self.released_database

        released_host = self.released_host

        service = self.service

        host_error: None | str | Unset
        if isinstance(self.host_error, Unset):
            host_error = UNSET
        else:
            host_error = self.host_error

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "destination": destination,
                "released_database": released_database,
                "released_host": released_host,
                "service": service,
            }
        )
        if host_error is not UNSET:
            field_dict["host_error"] = host_error

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        destination = d.pop("destination")

        released_database = d.pop("released_database")

        released_host = d.pop("released_host")

        service = d.pop("service")

        def _parse_host_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        host_error = _parse_host_error(d.pop("host_error", UNSET))

        lock_release_view = cls(
            destination=destination,
            released_database=released_database,
            released_host=released_host,
            service=service,
            host_error=host_error,
        )

        lock_release_view.additional_properties = d
        return lock_release_view

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
