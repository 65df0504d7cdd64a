from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.database_lock_view import DatabaseLockView
    from ..models.host_lock_view import HostLockView


T = TypeVar("T", bound="ServiceLockView")


@_attrs_define
class ServiceLockView:
    """Both halves of a service's deploy lock.

    Attributes:
        destination (str): Empty when none.
        locked (bool): True while a deployment holds the database lock under a live lease, or while the
            lock directory exists on the primary host (Convoy's or a `kamal lock acquire`).
        service (str):
        database (DatabaseLockView | None | Unset):
        host (HostLockView | None | Unset):
    """

    destination: str
    locked: bool
    service: str
    database: DatabaseLockView | None | Unset = UNSET
    host: HostLockView | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.database_lock_view import DatabaseLockView  # noqa: PLC0415
        from ..models.host_lock_view import HostLockView  # noqa: PLC0415

        destination = self.destination

        locked = self.locked

        service = self.service

        database: dict[str, Any] | None | Unset
        if isinstance(self.database, Unset):
            database = UNSET
        elif isinstance(self.database, DatabaseLockView):
            database = self.database.to_dict()
        else:
            database = self.database

        host: dict[str, Any] | None | Unset
        if isinstance(self.host, Unset):
            host = UNSET
        elif isinstance(self.host, HostLockView):
            host = self.host.to_dict()
        else:
            host = self.host

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "destination": destination,
                "locked": locked,
                "service": service,
            }
        )
        if database is not UNSET:
            field_dict["database"] = database
        if host is not UNSET:
            field_dict["host"] = host

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.database_lock_view import DatabaseLockView  # noqa: PLC0415
        from ..models.host_lock_view import HostLockView  # noqa: PLC0415

        d = dict(src_dict)
        destination = d.pop("destination")

        locked = d.pop("locked")

        service = d.pop("service")

        def _parse_database(data: object) -> DatabaseLockView | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                database_type_1 = DatabaseLockView.from_dict(data)

                return database_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(DatabaseLockView | None | Unset, data)

        database = _parse_database(d.pop("database", UNSET))

        def _parse_host(data: object) -> HostLockView | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                host_type_1 = HostLockView.from_dict(data)

                return host_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(HostLockView | None | Unset, data)

        host = _parse_host(d.pop("host", UNSET))

        service_lock_view = cls(
            destination=destination,
            locked=locked,
            service=service,
            database=database,
            host=host,
        )

        service_lock_view.additional_properties = d
        return service_lock_view

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
