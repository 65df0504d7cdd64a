from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.last_deployment_view import LastDeploymentView
    from ..models.live_view import LiveView


T = TypeVar("T", bound="ServiceView")


@_attrs_define
class ServiceView:
    """A service in one destination: what runs on its hosts and its newest deployment.

    Attributes:
        destination (str): Empty when none.
        last_deployment (LastDeploymentView): A service's newest deployment, whatever its status.
        live (list[LiveView]): Per (server, role), the deployment running there as last deployed, by server
            name and role (docs/OPERATIONS.md, "What is live").
        service (str):
    """

    destination: str
    last_deployment: LastDeploymentView
    live: list[LiveView]
    service: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        destination = self.destination

        last_deployment = self.last_deployment.to_dict()

        live = []
        for live_item_data in self.live:
            live_item = live_item_data.to_dict()
            live.append(live_item)

        service = self.service

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "destination": destination,
                "last_deployment": last_deployment,
                "live": live,
                "service": service,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.last_deployment_view import LastDeploymentView  # noqa: PLC0415
        from ..models.live_view import LiveView  # noqa: PLC0415

        d = dict(src_dict)
        destination = d.pop("destination")

        last_deployment = LastDeploymentView.from_dict(d.pop("last_deployment"))

        live = []
        _live = d.pop("live")
        for live_item_data in _live:
            live_item = LiveView.from_dict(live_item_data)

            live.append(live_item)

        service = d.pop("service")

        service_view = cls(
            destination=destination,
            last_deployment=last_deployment,
            live=live,
            service=service,
        )

        service_view.additional_properties = d
        return service_view

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
