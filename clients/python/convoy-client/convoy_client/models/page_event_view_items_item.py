from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="PageEventViewItemsItem")


@_attrs_define
class PageEventViewItemsItem:
    """
    Attributes:
        created_at (datetime.datetime):
        id (int):
        kind (str): deploy_started, deploy_resumed, host_started, host_succeeded, host_failed,
            host_skipped, host_unhealthy, deploy_completed, deploy_failed, cancel_requested,
            cancelled, rollback_started, rollback_completed, rollback_failed, lock_acquired,
            lock_waiting, lock_released, wave_started, wave_completed, bake_started,
            bake_passed, bake_failed, promoted, aborted, monitor_started, monitor_passed,
            monitor_failed, switched_back, window_waiting or expired. A server's events (`GET /v1/servers/{id}/events`):
            host_key_pinned (trusted on first contact, `metadata.fingerprint`) or
            host_key_mismatch (a check met another key, `metadata.expected` and `offered`),
            bootstrap_started, bootstrap_completed or bootstrap_failed (`metadata.steps`).
        message (str):
        metadata (Any):
    """

    created_at: datetime.datetime
    id: int
    kind: str
    message: str
    metadata: Any
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at.isoformat()

        id = self.id

        kind = self.kind

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

        kind = d.pop("kind")

        message = d.pop("message")

        metadata = d.pop("metadata")

        page_event_view_items_item = cls(
            created_at=created_at,
            id=id,
            kind=kind,
            message=message,
            metadata=metadata,
        )

        page_event_view_items_item.additional_properties = d
        return page_event_view_items_item

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
