from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="DatabaseLockView")


@_attrs_define
class DatabaseLockView:
    """
    Attributes:
        acquired_at (datetime.datetime):
        expired (bool): The lease ran out: the worker is gone and the next deployment takes the lock over.
        holder (str):
        lease_until (datetime.datetime): The holder's worker renews it while it runs.
        message (str):
        deployment_id (None | Unset | UUID): The deployment holding it.
    """

    acquired_at: datetime.datetime
    expired: bool
    holder: str
    lease_until: datetime.datetime
    message: str
    deployment_id: None | Unset | UUID = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        acquired_at = self.acquired_at.isoformat()

        expired = self.expired

        holder = self.holder

        lease_until = self.lease_until.isoformat()

        message = self.message

        deployment_id: None | str | Unset
        if isinstance(self.deployment_id, Unset):
            deployment_id = UNSET
        elif isinstance(self.deployment_id, UUID):
            deployment_id = str(self.deployment_id)
        else:
            deployment_id = self.deployment_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "acquired_at": acquired_at,
                "expired": expired,
                "holder": holder,
                "lease_until": lease_until,
                "message": message,
            }
        )
        if deployment_id is not UNSET:
            field_dict["deployment_id"] = deployment_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        acquired_at = datetime.datetime.fromisoformat(d.pop("acquired_at"))

        expired = d.pop("expired")

        holder = d.pop("holder")

        lease_until = datetime.datetime.fromisoformat(d.pop("lease_until"))

        message = d.pop("message")

        def _parse_deployment_id(data: object) -> None | Unset | UUID:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                deployment_id_type_0 = UUID(data)

                return deployment_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UUID, data)

        deployment_id = _parse_deployment_id(d.pop("deployment_id", UNSET))

        database_lock_view = cls(
            acquired_at=acquired_at,
            expired=expired,
            holder=holder,
            lease_until=lease_until,
            message=message,
            deployment_id=deployment_id,
        )

        database_lock_view.additional_properties = d
        return database_lock_view

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
