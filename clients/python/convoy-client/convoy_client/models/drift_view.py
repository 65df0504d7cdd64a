from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.drift_kind import DriftKind
from ..types import UNSET, Unset

T = TypeVar("T", bound="DriftView")


@_attrs_define
class DriftView:
    """
    Attributes:
        detail (str):
        kind (DriftKind): How a host departs from the record.
        role (str):
        server_id (UUID):
        server_name (str):
        container (None | str | Unset):
        expected_version (None | str | Unset): The recorded live version (null for an `extra` container in a role with
            none).
        found_version (None | str | Unset):
    """

    detail: str
    kind: DriftKind
    role: str
    server_id: UUID
    server_name: str
    container: None | str | Unset = UNSET
    expected_version: None | str | Unset = UNSET
    found_version: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        detail = self.detail

        kind = self.kind.value

        role = self.role

        server_id = str(self.server_id)

        server_name = self.server_name

        container: None | str | Unset
        if isinstance(self.container, Unset):
            container = UNSET
        else:
            container = self.container

        expected_version: None | str | Unset
        if isinstance(self.expected_version, Unset):
            expected_version = UNSET
        else:
            expected_version = self.expected_version

        found_version: None | str | Unset
        if isinstance(self.found_version, Unset):
            found_version = UNSET
        else:
            found_version = self.found_version

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "detail": detail,
                "kind": kind,
                "role": role,
                "server_id": server_id,
                "server_name": server_name,
            }
        )
        if container is not UNSET:
            field_dict["container"] = container
        if expected_version is not UNSET:
            field_dict["expected_version"] = expected_version
        if found_version is not UNSET:
            field_dict["found_version"] = found_version

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        detail = d.pop("detail")

        kind = DriftKind(d.pop("kind"))

        role = d.pop("role")

        server_id = UUID(d.pop("server_id"))

        server_name = d.pop("server_name")

        def _parse_container(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        container = _parse_container(d.pop("container", UNSET))

        def _parse_expected_version(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        expected_version = _parse_expected_version(d.pop("expected_version", UNSET))

        def _parse_found_version(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        found_version = _parse_found_version(d.pop("found_version", UNSET))

        drift_view = cls(
            detail=detail,
            kind=kind,
            role=role,
            server_id=server_id,
            server_name=server_name,
            container=container,
            expected_version=expected_version,
            found_version=found_version,
        )

        drift_view.additional_properties = d
        return drift_view

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
