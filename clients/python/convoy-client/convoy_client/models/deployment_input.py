from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.deployment_input_config_type_0 import DeploymentInputConfigType0
    from ..models.deployment_input_secrets import DeploymentInputSecrets
    from ..models.deployment_input_strategy_type_0 import DeploymentInputStrategyType0
    from ..models.deployment_input_variables_type_0 import DeploymentInputVariablesType0


T = TypeVar("T", bound="DeploymentInput")


@_attrs_define
class DeploymentInput:
    """A deployment request: exactly one of `config`, `config_yaml` or `template`.

    Example:
        {'config_yaml': 'service: customer-app\\nimage: ghcr.io/customer/rails-app:v2.1.0\\nservers:\\n  web:\\n    -
            web-1\\n    - web-2\\nregistry:\\n  server: ghcr.io\\n  username: customer\\n  password:\\n    -
            KAMAL_REGISTRY_PASSWORD\\nenv:\\n  secret:\\n    - RAILS_MASTER_KEY\\nproxy:\\n  ssl: true\\n  host:
            app.customer.example\\n', 'secrets': {'KAMAL_REGISTRY_PASSWORD': 'ghp_example', 'RAILS_MASTER_KEY':
            '0123456789abcdef'}, 'version': 'v2.1.0'}

    Attributes:
        config (DeploymentInputConfigType0 | None | Unset): The Kamal deploy config as JSON.
        config_yaml (None | str | Unset): The Kamal deploy config as YAML (`config/deploy.yml`).
        destination (None | str | Unset): Kamal destination (`staging`, …); wins over the config's `destination` key.
        scheduled_at (datetime.datetime | None | Unset): RFC 3339 time to start at; a future time makes the deployment
            `scheduled`.
        secrets (DeploymentInputSecrets | Unset): Values of the secrets the config names (`env.secret`,
            `registry.password`, a
            `registry.username` given as `[NAME]`); every one must be given, no other. Write-only.
        strategy (DeploymentInputStrategyType0 | None | Unset): Rollout strategy (SPEC §9), stored with the deployment.
            Keys: `max_parallel` (count or `"25%"`, rounded up),
            `wave_wait_seconds`, `group_by` (a server label) with `order` (its values; default
            alphabetical), `canary` `{hosts, bake_seconds, promotion: auto|manual, traffic_percent}`
            (`traffic_percent` 1–99: during the bake only that share of each canary host's
            clients reach the new version, by the proxy's sticky `kamal-rollout` cookie),
            `min_healthy_seconds`, `max_failed_hosts`, `monitor_seconds`, `blue_green`,
            `require_deployed`, `window` `{not_before, not_after}` (RFC 3339; a future
            `not_before` makes the deployment `scheduled`; no wave starts after `not_after`
            unless inside one of the service's recurring windows). Errors at `strategy/…` paths.
        template (None | str | Unset): A template id or name (the org's own, or a built-in's app type such as `rails`).
        variables (DeploymentInputVariablesType0 | None | Unset): Values of the template's `variables` (only with
            `template`), checked as by
            `POST /v1/templates/{id}/render`.
        version (None | str | Unset): The image tag to deploy; default: the tag written in `image`.
    """

    config: DeploymentInputConfigType0 | None | Unset = UNSET
    config_yaml: None | str | Unset = UNSET
    destination: None | str | Unset = UNSET
    scheduled_at: datetime.datetime | None | Unset = UNSET
    secrets: DeploymentInputSecrets | Unset = UNSET
    strategy: DeploymentInputStrategyType0 | None | Unset = UNSET
    template: None | str | Unset = UNSET
    variables: DeploymentInputVariablesType0 | None | Unset = UNSET
    version: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.deployment_input_config_type_0 import DeploymentInputConfigType0  # noqa: PLC0415
        from ..models.deployment_input_strategy_type_0 import DeploymentInputStrategyType0  # noqa: PLC0415
        from ..models.deployment_input_variables_type_0 import DeploymentInputVariablesType0  # noqa: PLC0415

        config: dict[str, Any] | None | Unset
        if isinstance(self.config, Unset):
            config = UNSET
        elif isinstance(self.config, DeploymentInputConfigType0):
            config = self.config.to_dict()
        else:
            config = self.config

        config_yaml: None | str | Unset
        if isinstance(self.config_yaml, Unset):
            config_yaml = UNSET
        else:
            config_yaml = self.config_yaml

        destination: None | str | Unset
        if isinstance(self.destination, Unset):
            destination = UNSET
        else:
            destination = self.destination

        scheduled_at: None | str | Unset
        if isinstance(self.scheduled_at, Unset):
            scheduled_at = UNSET
        elif isinstance(self.scheduled_at, datetime.datetime):
            scheduled_at = self.scheduled_at.isoformat()
        else:
            scheduled_at = self.scheduled_at

        secrets: dict[str, Any] | Unset = UNSET
        if not isinstance(self.secrets, Unset):
            secrets = self.secrets.to_dict()

        strategy: dict[str, Any] | None | Unset
        if isinstance(self.strategy, Unset):
            strategy = UNSET
        elif isinstance(self.strategy, DeploymentInputStrategyType0):
            strategy = self.strategy.to_dict()
        else:
            strategy = self.strategy

        template: None | str | Unset
        if isinstance(self.template, Unset):
            template = UNSET
        else:
            template = self.template

        variables: dict[str, Any] | None | Unset
        if isinstance(self.variables, Unset):
            variables = UNSET
        elif isinstance(self.variables, DeploymentInputVariablesType0):
            variables = self.variables.to_dict()
        else:
            variables = self.variables

        version: None | str | Unset
        if isinstance(self.version, Unset):
            version = UNSET
        else:
            version = self.version

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if config is not UNSET:
            field_dict["config"] = config
        if config_yaml is not UNSET:
            field_dict["config_yaml"] = config_yaml
        if destination is not UNSET:
            field_dict["destination"] = destination
        if scheduled_at is not UNSET:
            field_dict["scheduled_at"] = scheduled_at
        if secrets is not UNSET:
            field_dict["secrets"] = secrets
        if strategy is not UNSET:
            field_dict["strategy"] = strategy
        if template is not UNSET:
            field_dict["template"] = template
        if variables is not UNSET:
            field_dict["variables"] = variables
        if version is not UNSET:
            field_dict["version"] = version

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.deployment_input_config_type_0 import DeploymentInputConfigType0  # noqa: PLC0415
        from ..models.deployment_input_secrets import DeploymentInputSecrets  # noqa: PLC0415
        from ..models.deployment_input_strategy_type_0 import DeploymentInputStrategyType0  # noqa: PLC0415
        from ..models.deployment_input_variables_type_0 import DeploymentInputVariablesType0  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_config(data: object) -> DeploymentInputConfigType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                config_type_0 = DeploymentInputConfigType0.from_dict(data)

                return config_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(DeploymentInputConfigType0 | None | Unset, data)

        config = _parse_config(d.pop("config", UNSET))

        def _parse_config_yaml(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        config_yaml = _parse_config_yaml(d.pop("config_yaml", UNSET))

        def _parse_destination(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        destination = _parse_destination(d.pop("destination", UNSET))

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

        _secrets = d.pop("secrets", UNSET)
        secrets: DeploymentInputSecrets | Unset
        if isinstance(_secrets, Unset):
            secrets = UNSET
        else:
            secrets = DeploymentInputSecrets.from_dict(_secrets)

        def _parse_strategy(data: object) -> DeploymentInputStrategyType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                strategy_type_0 = DeploymentInputStrategyType0.from_dict(data)

                return strategy_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(DeploymentInputStrategyType0 | None | Unset, data)

        strategy = _parse_strategy(d.pop("strategy", UNSET))

        def _parse_template(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        template = _parse_template(d.pop("template", UNSET))

        def _parse_variables(data: object) -> DeploymentInputVariablesType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                variables_type_0 = DeploymentInputVariablesType0.from_dict(data)

                return variables_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(DeploymentInputVariablesType0 | None | Unset, data)

        variables = _parse_variables(d.pop("variables", UNSET))

        def _parse_version(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        version = _parse_version(d.pop("version", UNSET))

        deployment_input = cls(
            config=config,
            config_yaml=config_yaml,
            destination=destination,
            scheduled_at=scheduled_at,
            secrets=secrets,
            strategy=strategy,
            template=template,
            variables=variables,
            version=version,
        )

        return deployment_input
