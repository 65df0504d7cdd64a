from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.event_filter import EventFilter
from ..types import UNSET, Unset

T = TypeVar("T", bound="CreateWebhook")


@_attrs_define
class CreateWebhook:
    """Subscribe a URL to events.

    Example:
        {'active': True, 'events': ['deployment.deploy_completed', 'deployment.deploy_failed'], 'url':
            'https://flagship.example.com/hooks/convoy'}

    Attributes:
        events (list[EventFilter]):
        url (str): Where deliveries are POSTed: `http://` or `https://`; a host in a loopback,
            link-local or cloud-metadata range is refused unless `CONVOY_ALLOWED_NETWORKS`
            lists it (also when a name resolves there at delivery time).
        active (bool | None | Unset): Deliveries are queued and sent only while active (default true).
        secret (None | str | Unset): The Standard Webhooks signing secret (`whsec_` and the base64 of 24 to 64 bytes).
            Write-only. When omitted one is generated and shown once, in this call's answer.
    """

    events: list[EventFilter]
    url: str
    active: bool | None | Unset = UNSET
    secret: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        events = []
        for events_item_data in self.events:
            events_item = events_item_data.value
            events.append(events_item)

        url = self.url

        active: bool | None | Unset
        if isinstance(self.active, Unset):
            active = UNSET
        else:
            active = self.active

        secret: None | str | Unset
        if isinstance(self.secret, Unset):
            secret = UNSET
        else:
            secret = self.secret

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "events": events,
                "url": url,
            }
        )
        if active is not UNSET:
            field_dict["active"] = active
        if secret is not UNSET:
            field_dict["secret"] = secret

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        events = []
        _events = d.pop("events")
        for events_item_data in _events:
            events_item = EventFilter(events_item_data)

            events.append(events_item)

        url = d.pop("url")

        def _parse_active(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        active = _parse_active(d.pop("active", UNSET))

        def _parse_secret(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        secret = _parse_secret(d.pop("secret", UNSET))

        create_webhook = cls(
            events=events,
            url=url,
            active=active,
            secret=secret,
        )

        return create_webhook
