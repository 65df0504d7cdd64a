from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.drift_view import DriftView
    from ..models.host_inspection_view import HostInspectionView


T = TypeVar("T", bound="InspectView")


@_attrs_define
class InspectView:
    """A service's hosts as they are, against the record.

    Attributes:
        checked_at (datetime.datetime):
        destination (str): Empty when none.
        drift (list[DriftView]): Every departure from the record; empty when each reachable host runs what was
            recorded.
        hosts (list[HostInspectionView]): What each host the service's runs touched answered.
        service (str):
        event (None | str | Unset): `drift_detected` or `drift_cleared` when this inspection recorded that event.
    """

    checked_at: datetime.datetime
    destination: str
    drift: list[DriftView]
    hosts: list[HostInspectionView]
    service: str
    event: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        checked_at = self.checked_at.isoformat()

        destination = self.destination

        drift = []
        for drift_item_data in self.drift:
            drift_item = drift_item_data.to_dict()
            drift.append(drift_item)

        hosts = []
        for hosts_item_data in self.hosts:
            hosts_item = hosts_item_data.to_dict()
            hosts.append(hosts_item)

        service = self.service

        event: None | str | Unset
        if isinstance(self.event, Unset):
            event = UNSET
        else:
            event = self.event

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "checked_at": checked_at,
                "destination": destination,
                "drift": drift,
                "hosts": hosts,
                "service": service,
            }
        )
        if event is not UNSET:
            field_dict["event"] = event

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.drift_view import DriftView  # noqa: PLC0415
        from ..models.host_inspection_view import HostInspectionView  # noqa: PLC0415

        d = dict(src_dict)
        checked_at = datetime.datetime.fromisoformat(d.pop("checked_at"))

        destination = d.pop("destination")

        drift = []
        _drift = d.pop("drift")
        for drift_item_data in _drift:
            drift_item = DriftView.from_dict(drift_item_data)

            drift.append(drift_item)

        hosts = []
        _hosts = d.pop("hosts")
        for hosts_item_data in _hosts:
            hosts_item = HostInspectionView.from_dict(hosts_item_data)

            hosts.append(hosts_item)

        service = d.pop("service")

        def _parse_event(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        event = _parse_event(d.pop("event", UNSET))

        inspect_view = cls(
            checked_at=checked_at,
            destination=destination,
            drift=drift,
            hosts=hosts,
            service=service,
            event=event,
        )

        inspect_view.additional_properties = d
        return inspect_view

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
