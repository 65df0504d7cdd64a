from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.jump_host_by_address import JumpHostByAddress
    from ..models.labels import Labels
    from ..models.registered_jump_host import RegisteredJumpHost


T = TypeVar("T", bound="UpdateServer")


@_attrs_define
class UpdateServer:
    """Change some fields of a server. `host_key: null` unpins the host key.

    Attributes:
        host_key (None | str | Unset):
        hostname (None | str | Unset):
        labels (Labels | None | Unset):
        name (None | str | Unset):
        port (int | None | Unset):
        ssh_private_key (None | str | Unset):
        ssh_proxy (JumpHostByAddress | None | RegisteredJumpHost | Unset):
        ssh_user (None | str | Unset):
    """

    host_key: None | str | Unset = UNSET
    hostname: None | str | Unset = UNSET
    labels: Labels | None | Unset = UNSET
    name: None | str | Unset = UNSET
    port: int | None | Unset = UNSET
    ssh_private_key: None | str | Unset = UNSET
    ssh_proxy: JumpHostByAddress | None | RegisteredJumpHost | Unset = UNSET
    ssh_user: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.jump_host_by_address import JumpHostByAddress  # noqa: PLC0415
        from ..models.labels import Labels  # noqa: PLC0415
        from ..models.registered_jump_host import RegisteredJumpHost  # noqa: PLC0415

        host_key: None | str | Unset
        if isinstance(self.host_key, Unset):
            host_key = UNSET
        else:
            host_key = self.host_key

        hostname: None | str | Unset
        if isinstance(self.hostname, Unset):
            hostname = UNSET
        else:
            hostname = self.hostname

        labels: dict[str, Any] | None | Unset
        if isinstance(self.labels, Unset):
            labels = UNSET
        elif isinstance(self.labels, Labels):
            labels = self.labels.to_dict()
        else:
            labels = self.labels

        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        port: int | None | Unset
        if isinstance(self.port, Unset):
            port = UNSET
        else:
            port = self.port

        ssh_private_key: None | str | Unset
        if isinstance(self.ssh_private_key, Unset):
            ssh_private_key = UNSET
        else:
            ssh_private_key = self.ssh_private_key

        ssh_proxy: dict[str, Any] | None | Unset
        if isinstance(self.ssh_proxy, Unset):
            ssh_proxy = UNSET
        elif isinstance(self.ssh_proxy, RegisteredJumpHost):
            ssh_proxy = self.ssh_proxy.to_dict()
        elif isinstance(self.ssh_proxy, JumpHostByAddress):
            ssh_proxy = self.ssh_proxy.to_dict()
        else:
            ssh_proxy = self.ssh_proxy

        ssh_user: None | str | Unset
        if isinstance(self.ssh_user, Unset):
            ssh_user = UNSET
        else:
            ssh_user = self.ssh_user

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if host_key is not UNSET:
            field_dict["host_key"] = host_key
        if hostname is not UNSET:
            field_dict["hostname"] = hostname
        if labels is not UNSET:
            field_dict["labels"] = labels
        if name is not UNSET:
            field_dict["name"] = name
        if port is not UNSET:
            field_dict["port"] = port
        if ssh_private_key is not UNSET:
            field_dict["ssh_private_key"] = ssh_private_key
        if ssh_proxy is not UNSET:
            field_dict["ssh_proxy"] = ssh_proxy
        if ssh_user is not UNSET:
            field_dict["ssh_user"] = ssh_user

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.jump_host_by_address import JumpHostByAddress  # noqa: PLC0415
        from ..models.labels import Labels  # noqa: PLC0415
        from ..models.registered_jump_host import RegisteredJumpHost  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_host_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        host_key = _parse_host_key(d.pop("host_key", UNSET))

        def _parse_hostname(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        hostname = _parse_hostname(d.pop("hostname", UNSET))

        def _parse_labels(data: object) -> Labels | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                labels_type_1 = Labels.from_dict(data)

                return labels_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Labels | None | Unset, data)

        labels = _parse_labels(d.pop("labels", UNSET))

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        def _parse_port(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        port = _parse_port(d.pop("port", UNSET))

        def _parse_ssh_private_key(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ssh_private_key = _parse_ssh_private_key(d.pop("ssh_private_key", UNSET))

        def _parse_ssh_proxy(data: object) -> JumpHostByAddress | None | RegisteredJumpHost | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_ssh_proxy_input_registered_jump_host = RegisteredJumpHost.from_dict(data)

                return componentsschemas_ssh_proxy_input_registered_jump_host
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_ssh_proxy_input_jump_host_by_address = JumpHostByAddress.from_dict(data)

                return componentsschemas_ssh_proxy_input_jump_host_by_address
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(JumpHostByAddress | None | RegisteredJumpHost | Unset, data)

        ssh_proxy = _parse_ssh_proxy(d.pop("ssh_proxy", UNSET))

        def _parse_ssh_user(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ssh_user = _parse_ssh_user(d.pop("ssh_user", UNSET))

        update_server = cls(
            host_key=host_key,
            hostname=hostname,
            labels=labels,
            name=name,
            port=port,
            ssh_private_key=ssh_private_key,
            ssh_proxy=ssh_proxy,
            ssh_user=ssh_user,
        )

        return update_server
