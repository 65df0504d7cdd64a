from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="PreflightCheckView")


@_attrs_define
class PreflightCheckView:
    """One preflight check on one host.

    Attributes:
        check (str): `ssh`, `docker`, `disk`, `registry_login` or `image`. Example: registry_login.
        detail (str):  Example: 10.77.0.1:5000 (http): GET /v2/ answered 401 Unauthorized.
        host (str): The host as the config names it.
        ok (bool):
        skipped (bool): Not run because a check it needs failed (`ok` is then false).
        server_id (None | Unset | UUID):
    """

    check: str
    detail: str
    host: str
    ok: bool
    skipped: bool
    server_id: None | Unset | UUID = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        check = self.check

        detail = self.detail

        host = self.host

        ok = self.ok

        skipped = self.skipped

        server_id: None | str | Unset
        if isinstance(self.server_id, Unset):
            server_id = UNSET
        elif isinstance(self.server_id, UUID):
            server_id = str(self.server_id)
        else:
            server_id = self.server_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "check": check,
                "detail": detail,
                "host": host,
                "ok": ok,
                "skipped": skipped,
            }
        )
        if server_id is not UNSET:
            field_dict["server_id"] = server_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        check = d.pop("check")

        detail = d.pop("detail")

        host = d.pop("host")

        ok = d.pop("ok")

        skipped = d.pop("skipped")

        def _parse_server_id(data: object) -> None | Unset | UUID:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                server_id_type_0 = UUID(data)

                return server_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UUID, data)

        server_id = _parse_server_id(d.pop("server_id", UNSET))

        preflight_check_view = cls(
            check=check,
            detail=detail,
            host=host,
            ok=ok,
            skipped=skipped,
            server_id=server_id,
        )

        preflight_check_view.additional_properties = d
        return preflight_check_view

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
