from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.bootstrap_input_config_type_0 import BootstrapInputConfigType0
    from ..models.bootstrap_input_secrets import BootstrapInputSecrets


T = TypeVar("T", bound="BootstrapInput")


@_attrs_define
class BootstrapInput:
    """The optional body of `POST /v1/servers/{id}/bootstrap`: the proxy to boot.

    Attributes:
        config (BootstrapInputConfigType0 | None | Unset): A deploy config; only its `proxy.run` (the proxy's image and
            options) and
            `registry` (where that image is pulled from) are used. Without it, Kamal's
            default proxy (`basecamp/kamal-proxy:v0.9.2` from Docker Hub) is booted.
        secrets (BootstrapInputSecrets | Unset): Secret values the config's `registry` names (the registry password).
    """

    config: BootstrapInputConfigType0 | None | Unset = UNSET
    secrets: BootstrapInputSecrets | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.bootstrap_input_config_type_0 import BootstrapInputConfigType0  # noqa: PLC0415

        config: dict[str, Any] | None | Unset
        if isinstance(self.config, Unset):
            config = UNSET
        elif isinstance(self.config, BootstrapInputConfigType0):
            config = self.config.to_dict()
        else:
            config = self.config

        secrets: dict[str, Any] | Unset = UNSET
        if not isinstance(self.secrets, Unset):
            secrets = self.secrets.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if config is not UNSET:
            field_dict["config"] = config
        if secrets is not UNSET:
            field_dict["secrets"] = secrets

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.bootstrap_input_config_type_0 import BootstrapInputConfigType0  # noqa: PLC0415
        from ..models.bootstrap_input_secrets import BootstrapInputSecrets  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_config(data: object) -> BootstrapInputConfigType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                config_type_0 = BootstrapInputConfigType0.from_dict(data)

                return config_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(BootstrapInputConfigType0 | None | Unset, data)

        config = _parse_config(d.pop("config", UNSET))

        _secrets = d.pop("secrets", UNSET)
        secrets: BootstrapInputSecrets | Unset
        if isinstance(_secrets, Unset):
            secrets = UNSET
        else:
            secrets = BootstrapInputSecrets.from_dict(_secrets)

        bootstrap_input = cls(
            config=config,
            secrets=secrets,
        )

        return bootstrap_input
