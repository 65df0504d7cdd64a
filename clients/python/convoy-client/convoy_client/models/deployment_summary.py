from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.deployment_kind import DeploymentKind
from ..models.deployment_status import DeploymentStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.progress_view import ProgressView
    from ..models.target_view import TargetView


T = TypeVar("T", bound="DeploymentSummary")


@_attrs_define
class DeploymentSummary:
    """A deployment as `GET /v1/deployments` lists it: what a history needs, without the
    config and the targets (on `GET /v1/deployments/{id}`, or here with `?include=`).

        Attributes:
            created_at (datetime.datetime):
            created_by (str): Who asked for it (the token's `sub`).
            destination (str): Kamal destination; empty when none.
            id (UUID):
            kind (DeploymentKind): What a run does: deploy, rollback, or an operation on what runs (SPEC §10).
            live (bool): Live on at least one of its servers and roles, as on `DeploymentView`.
            progress (ProgressView): How far a deployment got.
            service (str):
            status (DeploymentStatus): A deployment's status; `deployed`, `failed`, `cancelled`, `rolled_back`, `aborted`
                 and `expired` are final.
            updated_at (datetime.datetime):
            version (str):
            config (Any | Unset): Present only when `include` names `config`: the normalised deploy config.
            error (None | str | Unset): Why it failed, was cancelled or expired.
            finished_at (datetime.datetime | None | Unset):
            previous_version (None | str | Unset): The version live before this deployment (null until known).
            rollback_of (None | Unset | UUID): Set on a deployment that rolls back another one.
            scheduled_at (datetime.datetime | None | Unset):
            started_at (datetime.datetime | None | Unset):
            targets (list[TargetView] | Unset): Present only when `include` names `targets`: as on `GET
                /v1/deployments/{id}`.
    """

    created_at: datetime.datetime
    created_by: str
    destination: str
    id: UUID
    kind: DeploymentKind
    live: bool
    progress: ProgressView
    service: str
    status: DeploymentStatus
    updated_at: datetime.datetime
    version: str
    config: Any | Unset = UNSET
    error: None | str | Unset = UNSET
    finished_at: datetime.datetime | None | Unset = UNSET
    previous_version: None | str | Unset = UNSET
    rollback_of: None | Unset | UUID = UNSET
    scheduled_at: datetime.datetime | None | Unset = UNSET
    started_at: datetime.datetime | None | Unset = UNSET
    targets: list[TargetView] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at.isoformat()

        created_by = self.created_by

        destination = self.destination

        id = str(self.id)

        kind = self.kind.value

        live = self.live

        progress = self.progress.to_dict()

        service = self.service

        status = self.status.value

        updated_at = self.updated_at.isoformat()

        version = self.version

        config = self.config

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

        rollback_of: None | str | Unset
        if isinstance(self.rollback_of, Unset):
            rollback_of = UNSET
        elif isinstance(self.rollback_of, UUID):
            rollback_of = str(self.rollback_of)
        else:
            rollback_of = self.rollback_of

        scheduled_at: None | str | Unset
        if isinstance(self.scheduled_at, Unset):
            scheduled_at = UNSET
        elif isinstance(self.scheduled_at, datetime.datetime):
            scheduled_at = self.scheduled_at.isoformat()
        else:
            scheduled_at = self.scheduled_at

        started_at: None | str | Unset
        if isinstance(self.started_at, Unset):
            started_at = UNSET
        elif isinstance(self.started_at, datetime.datetime):
            started_at = self.started_at.isoformat()
        else:
            started_at = self.started_at

        targets: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.targets, Unset):
            targets = []
            for targets_item_data in self.targets:
                targets_item = targets_item_data.to_dict()
                targets.append(targets_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "created_by": created_by,
                "destination": destination,
                "id": id,
                "kind": kind,
                "live": live,
                "progress": progress,
                "service": service,
                "status": status,
                "updated_at": updated_at,
                "version": version,
            }
        )
        if config is not UNSET:
            field_dict["config"] = config
        if error is not UNSET:
            field_dict["error"] = error
        if finished_at is not UNSET:
            field_dict["finished_at"] = finished_at
        if previous_version is not UNSET:
            field_dict["previous_version"] = previous_version
        if rollback_of is not UNSET:
            field_dict["rollback_of"] = rollback_of
        if scheduled_at is not UNSET:
            field_dict["scheduled_at"] = scheduled_at
        if started_at is not UNSET:
            field_dict["started_at"] = started_at
        if targets is not UNSET:
            field_dict["targets"] = targets

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.progress_view import ProgressView  # noqa: PLC0415
        from ..models.target_view import TargetView  # noqa: PLC0415

        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        created_by = d.pop("created_by")

        destination = d.pop("destination")

        id = UUID(d.pop("id"))

        kind = DeploymentKind(d.pop("kind"))

        live = d.pop("live")

        progress = ProgressView.from_dict(d.pop("progress"))

        service = d.pop("service")

        status = DeploymentStatus(d.pop("status"))

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        version = d.pop("version")

        config = d.pop("config", UNSET)

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

        def _parse_rollback_of(data: object) -> None | Unset | UUID:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                rollback_of_type_0 = UUID(data)

                return rollback_of_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UUID, data)

        rollback_of = _parse_rollback_of(d.pop("rollback_of", UNSET))

        def _parse_scheduled_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                scheduled_at_type_0 = datetime.datetime.fromisoformat(data)

                return scheduled_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        scheduled_at = _parse_scheduled_at(d.pop("scheduled_at", UNSET))

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

        _targets = d.pop("targets", UNSET)
        targets: list[TargetView] | Unset = UNSET
        if _targets is not UNSET:
            targets = []
            for targets_item_data in _targets:
                targets_item = TargetView.from_dict(targets_item_data)

                targets.append(targets_item)

        deployment_summary = cls(
            created_at=created_at,
            created_by=created_by,
            destination=destination,
            id=id,
            kind=kind,
            live=live,
            progress=progress,
            service=service,
            status=status,
            updated_at=updated_at,
            version=version,
            config=config,
            error=error,
            finished_at=finished_at,
            previous_version=previous_version,
            rollback_of=rollback_of,
            scheduled_at=scheduled_at,
            started_at=started_at,
            targets=targets,
        )

        deployment_summary.additional_properties = d
        return deployment_summary

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
