from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.target_status import TargetStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.step_view import StepView


T = TypeVar("T", bound="TargetView")


@_attrs_define
class TargetView:
    """
    Attributes:
        id (UUID):
        role (str):
        server_id (UUID):
        server_name (str):
        status (TargetStatus): A target's status (one role on one server); `succeeded`, `failed`, `cancelled` and
             `skipped` are final.
        steps (list[StepView]): The steps the hosts ran for this target, in the order they started (a restore of
            the host adds its steps after the deploy's).
        duration_ms (int | None | Unset):
        error (None | str | Unset):
        finished_at (datetime.datetime | None | Unset):
        previous_version (None | str | Unset): The version the host served before this deployment.
        started_at (datetime.datetime | None | Unset):
        step (None | str | Unset): The step the host is at (or ended at).
        wave (int | None | Unset): The wave the target's host is deployed in (1-based; null before it is planned).
    """

    id: UUID
    role: str
    server_id: UUID
    server_name: str
    status: TargetStatus
    steps: list[StepView]
    duration_ms: int | None | Unset = UNSET
    error: None | str | Unset = UNSET
    finished_at: datetime.datetime | None | Unset = UNSET
    previous_version: None | str | Unset = UNSET
    started_at: datetime.datetime | None | Unset = UNSET
    step: None | str | Unset = UNSET
    wave: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = str(self.id)

        role = self.role

        server_id = str(self.server_id)

        server_name = self.server_name

        status = self.status.value

        steps = []
        for steps_item_data in self.steps:
            steps_item = steps_item_data.to_dict()
            steps.append(steps_item)

        duration_ms: int | None | Unset
        if isinstance(self.duration_ms, Unset):
            duration_ms = UNSET
        else:
            duration_ms = self.duration_ms

        error: None | str | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        else:
            error = self.error

        finished_at: None | str | Unset
        if isinstance(self.finished_at, Unset):
            finished_at = UNSET
        elif isinstance(self.finished_at, datetime.datetime):
            finished_at = self.finished_at.isoformat()
        else:
            finished_at = self.finished_at

        previous_version: None | str | Unset
        if isinstance(self.previous_version, Unset):
            previous_version = UNSET
        else:
            previous_version = self.previous_version

        started_at: None | str | Unset
        if isinstance(self.started_at, Unset):
            started_at = UNSET
        elif isinstance(self.started_at, datetime.datetime):
            started_at = self.started_at.isoformat()
        else:
            started_at = self.started_at

        step: None | str | Unset
        if isinstance(self.step, Unset):
            step = UNSET
        else:
            step = self.step

        wave: int | None | Unset
        if isinstance(self.wave, Unset):
            wave = UNSET
        else:
            wave = self.wave

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "role": role,
                "server_id": server_id,
                "server_name": server_name,
                "status": status,
                "steps": steps,
            }
        )
        if duration_ms is not UNSET:
            field_dict["duration_ms"] = duration_ms
        if error is not UNSET:
            field_dict["error"] = error
        if finished_at is not UNSET:
            field_dict["finished_at"] = finished_at
        if previous_version is not UNSET:
            field_dict["previous_version"] = previous_version
        if started_at is not UNSET:
            field_dict["started_at"] = started_at
        if step is not UNSET:
            field_dict["step"] = step
        if wave is not UNSET:
            field_dict["wave"] = wave

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.step_view import StepView  # noqa: PLC0415

        d = dict(src_dict)
        id = UUID(d.pop("id"))

        role = d.pop("role")

        server_id = UUID(d.pop("server_id"))

        server_name = d.pop("server_name")

        status = TargetStatus(d.pop("status"))

        steps = []
        _steps = d.pop("steps")
        for steps_item_data in _steps:
            steps_item = StepView.from_dict(steps_item_data)

            steps.append(steps_item)

        def _parse_duration_ms(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        duration_ms = _parse_duration_ms(d.pop("duration_ms", UNSET))

        def _parse_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        def _parse_finished_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                finished_at_type_0 = datetime.datetime.fromisoformat(data)

                return finished_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        finished_at = _parse_finished_at(d.pop("finished_at", UNSET))

        def _parse_previous_version(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        previous_version = _parse_previous_version(d.pop("previous_version", UNSET))

        def _parse_started_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                started_at_type_0 = datetime.datetime.fromisoformat(data)

                return started_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        started_at = _parse_started_at(d.pop("started_at", UNSET))

        def _parse_step(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        step = _parse_step(d.pop("step", UNSET))

        def _parse_wave(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        wave = _parse_wave(d.pop("wave", UNSET))

        target_view = cls(
            id=id,
            role=role,
            server_id=server_id,
            server_name=server_name,
            status=status,
            steps=steps,
            duration_ms=duration_ms,
            error=error,
            finished_at=finished_at,
            previous_version=previous_version,
            started_at=started_at,
            step=step,
            wave=wave,
        )

        target_view.additional_properties = d
        return target_view

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
