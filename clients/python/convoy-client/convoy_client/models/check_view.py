from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="CheckView")


@_attrs_define
class CheckView:
    """The outcome of `POST /v1/servers/{id}/check`. A host that cannot be reached is
    still a 200: `reachable` is false and `error` says why.

        Example:
            {'docker_version': '27.3.1', 'error': None, 'host_key_fingerprint':
                'SHA256:Xk3bM3FQ0v6o5Yl3kq9oVZ1qv4mS5m7QwJ2r0yZC1aE', 'latency_ms': 84, 'reachable': True}

        Attributes:
            latency_ms (int):
            reachable (bool): An SSH session was established and authenticated.
            docker_version (None | str | Unset): The Docker daemon's version; null when Docker is missing or not usable.
            error (None | str | Unset): Why the host is unreachable or not ready: unreachable, timed out,
                authentication rejected, host key mismatch (naming both keys), docker
                missing or not permitted.
            host_key_fingerprint (None | str | Unset): `SHA256:…` of the key the host presented and was verified (or, on
                first
                contact, pinned); null when the connection failed, a mismatch included.
    """

    latency_ms: int
    reachable: bool
    docker_version: None | str | Unset = UNSET
    error: None | str | Unset = UNSET
    host_key_fingerprint: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        latency_ms = self.latency_ms

        reachable = self.reachable

        docker_version: None | str | Unset
        if isinstance(self.docker_version, Unset):
            docker_version = UNSET
        else:
            docker_version = self.docker_version

        error: None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        else:
            error = self.error

        host_key_fingerprint: None | str | Unset
        if isinstance(self.host_key_fingerprint, Unset):
            host_key_fingerprint = UNSET
        else:
            host_key_fingerprint = self.host_key_fingerprint

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "latency_ms": latency_ms,
                "reachable": reachable,
            }
        )
        if docker_version is not UNSET:
            field_dict["docker_version"] = docker_version
        if error is not UNSET:
            field_dict["error"] = error
        if host_key_fingerprint is not UNSET:
            field_dict["host_key_fingerprint"] = host_key_fingerprint

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        latency_ms = d.pop("latency_ms")

        reachable = d.pop("reachable")

        def _parse_docker_version(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        docker_version = _parse_docker_version(d.pop("docker_version", UNSET))

        def _parse_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        def _parse_host_key_fingerprint(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        host_key_fingerprint = _parse_host_key_fingerprint(d.pop("host_key_fingerprint", UNSET))

        check_view = cls(
            latency_ms=latency_ms,
            reachable=reachable,
            docker_version=docker_version,
            error=error,
            host_key_fingerprint=host_key_fingerprint,
        )

        check_view.additional_properties = d
        return check_view

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
