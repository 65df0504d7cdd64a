from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.found_container import FoundContainer


T = TypeVar("T", bound="HostInspectionView")


@_attrs_define
class HostInspectionView:
    """
    Attributes:
        containers (list[FoundContainer]): Every container of the service on the host, running or not, newest first.
        reachable (bool): False when the host could not be asked (see `error`); its drift is then unknown.
        server_id (UUID):
        server_name (str):
        error (None | str | Unset):
    """

    containers: list[FoundContainer]
    reachable: bool
    server_id: UUID
    server_name: str
    error: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        containers = []
        for containers_item_data in self.containers:
            containers_item = containers_item_data.to_dict()
            containers.append(containers_item)

        reachable = self.reachable

        server_id = str(self.server_id)

        server_name = self.server_name

        error: None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        else:
            error = self.error

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "containers": containers,
                "reachable": reachable,
                "server_id": server_id,
                "server_name": server_name,
            }
        )
        if error is not UNSET:
            field_dict["error"] = error

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.found_container import FoundContainer  # noqa: PLC0415

        d = dict(src_dict)
        containers = []
        _containers = d.pop("containers")
        for containers_item_data in _containers:
            containers_item = FoundContainer.from_dict(containers_item_data)

            containers.append(containers_item)

        reachable = d.pop("reachable")

        server_id = UUID(d.pop("server_id"))

        server_name = d.pop("server_name")

        def _parse_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        host_inspection_view = cls(
            containers=containers,
            reachable=reachable,
            server_id=server_id,
            server_name=server_name,
            error=error,
        )

        host_inspection_view.additional_properties = d
        return host_inspection_view

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
