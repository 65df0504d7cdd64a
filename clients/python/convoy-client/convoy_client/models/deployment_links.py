from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="DeploymentLinks")


@_attrs_define
class DeploymentLinks:
    """
    Attributes:
        abort (str): Returns the hosts that switched and ends `aborted`.
        cancel (str):
        events (str):
        logs (str):
        promote (str): Goes on after the canaries' bake (`awaiting_promotion`).
        rollback (str):
        self_ (str):
        switch_back (str): Routes a blue-green deployment back to the previous containers.
    """

    abort: str
    cancel: str
    events: str
    logs: str
    promote: str
    rollback: str
    self_: str
    switch_back: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        abort = self.abort

        cancel = self.cancel

        events = self.events

        logs = self.logs

        promote = self.promote

        rollback = self.rollback

        self_ = self.self_

        switch_back = self.switch_back

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "abort": abort,
                "cancel": cancel,
                "events": events,
                "logs": logs,
                "promote": promote,
                "rollback": rollback,
                "self": self_,
                "switch_back": switch_back,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        abort = d.pop("abort")

        cancel = d.pop("cancel")

        events = d.pop("events")

        logs = d.pop("logs")

        promote = d.pop("promote")

        rollback = d.pop("rollback")

        self_ = d.pop("self")

        switch_back = d.pop("switch_back")

        deployment_links = cls(
            abort=abort,
            cancel=cancel,
            events=events,
            logs=logs,
            promote=promote,
            rollback=rollback,
            self_=self_,
            switch_back=switch_back,
        )

        deployment_links.additional_properties = d
        return deployment_links

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
