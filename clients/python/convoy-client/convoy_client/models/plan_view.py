from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.plan_view_config import PlanViewConfig
    from ..models.plan_view_plan import PlanViewPlan
    from ..models.preflight_check_view import PreflightCheckView
    from ..models.rollout_view import RolloutView


T = TypeVar("T", bound="PlanView")


@_attrs_define
class PlanView:
    """A dry run: what `POST /v1/deployments` would do with the same body.

    Attributes:
        config (PlanViewConfig): The normalised config (secret names only, never values).
        plan (PlanViewPlan): Per host, the ordered commands of the deploy and of its failure path (and of its
            promotion on a traffic-split canary: `on_promotion`), secrets redacted; plus the
            lock taken on the primary host and the boot groups.
        rollout (RolloutView): Waves in order, and the gates between and after them. Example: {'gates': [{'after_wave':
            0, 'kind': 'bake', 'promotion': 'manual', 'seconds': 300}, {'after_wave': 0, 'kind': 'wait', 'seconds': 30},
            {'after_wave': 1, 'kind': 'wait', 'seconds': 30}, {'after_wave': 2, 'kind': 'monitor', 'seconds': 600}],
            'max_failed_hosts': 0, 'waves': [{'canary': True, 'group': None, 'hosts': ['web-1'], 'index': 0}, {'canary':
            False, 'group': 'eu', 'hosts': ['web-2', 'web-3'], 'index': 1}, {'canary': False, 'group': 'us', 'hosts':
            ['web-4'], 'index': 2}]}.
        version (str):
        destination (None | str | Unset):
        preflight (list[PreflightCheckView] | None | Unset): With `?preflight=true`: every check on every host of the
            plan.
        preflight_ok (bool | None | Unset): With `?preflight=true`: every check passed.
    """

    config: PlanViewConfig
    plan: PlanViewPlan
    rollout: RolloutView
    version: str
    destination: None | str | Unset = UNSET
    preflight: list[PreflightCheckView] | None | Unset = UNSET
    preflight_ok: bool | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        config = self.config.to_dict()

        plan = self.plan.to_dict()

        rollout = self.rollout.to_dict()

        version = self.version

        destination: None | str | Unset
        if isinstance(self.destination, Unset):
            destination = UNSET
        else:
            destination = self.destination

        preflight: list[dict[str, Any]] | None | Unset
        if isinstance(self.preflight, Unset):
            preflight = UNSET
        elif isinstance(self.preflight, list):
            preflight = []
            for preflight_type_0_item_data in self.preflight:
                preflight_type_0_item = preflight_type_0_item_data.to_dict()
                preflight.append(preflight_type_0_item)

        else:
            preflight = self.preflight

        preflight_ok: bool | None | Unset
        if isinstance(self.preflight_ok, Unset):
            preflight_ok = UNSET
        else:
            preflight_ok = self.preflight_ok

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "config": config,
                "plan": plan,
                "rollout": rollout,
                "version": version,
            }
        )
        if destination is not UNSET:
            field_dict["destination"] = destination
        if preflight is not UNSET:
            field_dict["preflight"] = preflight
        if preflight_ok is not UNSET:
            field_dict["preflight_ok"] = preflight_ok

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.plan_view_config import PlanViewConfig  # noqa: PLC0415
        from ..models.plan_view_plan import PlanViewPlan  # noqa: PLC0415
        from ..models.preflight_check_view import PreflightCheckView  # noqa: PLC0415
        from ..models.rollout_view import RolloutView  # noqa: PLC0415

        d = dict(src_dict)
        config = PlanViewConfig.from_dict(d.pop("config"))

        plan = PlanViewPlan.from_dict(d.pop("plan"))

        rollout = RolloutView.from_dict(d.pop("rollout"))

        version = d.pop("version")

        def _parse_destination(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        destination = _parse_destination(d.pop("destination", UNSET))

        def _parse_preflight(data: object) -> list[PreflightCheckView] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                preflight_type_0 = []
                _preflight_type_0 = data
                for preflight_type_0_item_data in _preflight_type_0:
                    preflight_type_0_item = PreflightCheckView.from_dict(preflight_type_0_item_data)

                    preflight_type_0.append(preflight_type_0_item)

                return preflight_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[PreflightCheckView] | None | Unset, data)

        preflight = _parse_preflight(d.pop("preflight", UNSET))

        def _parse_preflight_ok(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        preflight_ok = _parse_preflight_ok(d.pop("preflight_ok", UNSET))

        plan_view = cls(
            config=config,
            plan=plan,
            rollout=rollout,
            version=version,
            destination=destination,
            preflight=preflight,
            preflight_ok=preflight_ok,
        )

        plan_view.additional_properties = d
        return plan_view

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
