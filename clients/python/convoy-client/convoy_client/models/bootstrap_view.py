from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.bootstrap_step_view import BootstrapStepView


T = TypeVar("T", bound="BootstrapView")


@_attrs_define
class BootstrapView:
    """What `POST /v1/servers/{id}/bootstrap` did; a step that fails ends the run.

    Attributes:
        changed (bool): Some step changed the host.
        ok (bool): Every step ran and passed.
        server_id (UUID):
        steps (list[BootstrapStepView]):
    """

    changed: bool
    ok: bool
    server_id: UUID
    steps: list[BootstrapStepView]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        changed = self.changed

        ok = self.ok

        server_id = str(self.server_id)

        steps = []
        for steps_item_data in self.steps:
            steps_item = steps_item_data.to_dict()
            steps.append(steps_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "changed": changed,
                "ok": ok,
                "server_id": server_id,
                "steps": steps,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.bootstrap_step_view import BootstrapStepView  # noqa: PLC0415

        d = dict(src_dict)
        changed = d.pop("changed")

        ok = d.pop("ok")

        server_id = UUID(d.pop("server_id"))

        steps = []
        _steps = d.pop("steps")
        for steps_item_data in _steps:
            steps_item = BootstrapStepView.from_dict(steps_item_data)

            steps.append(steps_item)

        bootstrap_view = cls(
            changed=changed,
            ok=ok,
            server_id=server_id,
            steps=steps,
        )

        bootstrap_view.additional_properties = d
        return bootstrap_view

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
