from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.event_kind import EventKind

T = TypeVar("T", bound="EventView")


@_attrs_define
class EventView:
    """
    Attributes:
        created_at (datetime.datetime):
        id (int):
        kind (EventKind): What an event records: a deployment's (`GET /v1/deployments/{id}/events`), a
             service's (`GET /v1/services/{service}/events`) or a server's
             (`GET /v1/servers/{id}/events`).
        message (str):
        metadata (Any):
    """

    created_at: datetime.datetime
    id: int
    kind: EventKind
    message: str
    metadata: Any
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at.isoformat()

        id = self.id

        kind = self.kind.value

        message = self.message

        metadata = self.metadata

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "id": id,
                "kind": kind,
                "message": message,
                "metadata": metadata,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        id = d.pop("id")

        kind = EventKind(d.pop("kind"))

        message = d.pop("message")

        metadata = d.pop("metadata")

        event_view = cls(
            created_at=created_at,
            id=id,
            kind=kind,
            message=message,
            metadata=metadata,
        )

        event_view.additional_properties = d
        return event_view

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
