from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="BootstrapStepView")


@_attrs_define
class BootstrapStepView:
    """One step of a bootstrap: `docker`, `network` or `proxy`.

    Attributes:
        changed (bool): The step changed the host (installed, created, booted).
        detail (str):
        name (str):  Example: network.
        ok (bool):
    """

    changed: bool
    detail: str
    name: str
    ok: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        changed = self.changed

        detail = self.detail

        name = self.name

        ok = self.ok

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "changed": changed,
                "detail": detail,
                "name": name,
                "ok": ok,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        changed = d.pop("changed")

        detail = d.pop("detail")

        name = d.pop("name")

        ok = d.pop("ok")

        bootstrap_step_view = cls(
            changed=changed,
            detail=detail,
            name=name,
            ok=ok,
        )

        bootstrap_step_view.additional_properties = d
        return bootstrap_step_view

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
